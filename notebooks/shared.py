"""What the analysts' notebooks share: which publication they read, opening its DuckDB files
read-only, and the display rules (labels, small-count masking) that keep what they show
aggregated. Imported by the notebooks next to it; no notebook state lives here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import altair as alt
import duckdb
import polars as pl

from data_contracts.loader import load_catalog
from publication.confidentiality import rules
from publication.exports import export_rules
from publication.publish import CURRENT, DATABASE, RESTRICTED_DATABASE
from spifeb.settings import DATA_DIR_ENV

PUBLICATION_ENV = "SPIFEB_PUBLICATION"
REPOSITORY = Path(__file__).resolve().parents[1]
FLAG = rules()["confidentiality"]["flag_column"]
THRESHOLD: int = rules()["confidentiality"]["threshold"]
SUPPRESSED_MARK: str = export_rules()["grille"]["suppressed_mark"]
NOT_COMPUTED = "—"


class MissingPublication(FileNotFoundError):
    """The publication (or one of its files) is not where the notebook looked: French message."""


def publication_folder(
    cli_args: Mapping[str, object], environ: Mapping[str, str] = os.environ
) -> Path:
    """The publication folder to read: `--publication`, else `SPIFEB_PUBLICATION`, else the
    current publication of the data folder (`SPIFEB_DATA_DIR`, by default the repository's
    `data/`)."""
    explicit = cli_args.get("publication") or environ.get(PUBLICATION_ENV)
    if explicit:
        return Path(str(explicit)).expanduser().resolve()
    data = Path(environ[DATA_DIR_ENV]) if environ.get(DATA_DIR_ENV) else REPOSITORY / "data"
    return (data / "published" / CURRENT).resolve()


def _database(folder: Path, name: str, what: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise MissingPublication(
            f"{what} introuvable : {path} n'existe pas. Indiquez le dossier d'une publication "
            f"(variable d'environnement {PUBLICATION_ENV} ou option --publication), "
            "ou construisez la publication de démonstration avec « make demo »."
        )
    return path


def open_publication(folder: Path) -> duckdb.DuckDBPyConnection:
    """The general publication (aggregates under statistical suppression), read-only."""
    return duckdb.connect(str(_database(folder, DATABASE, "Publication")), read_only=True)


def open_restricted(folder: Path) -> duckdb.DuckDBPyConnection:
    """The person-level marts for authorised analysts, read-only."""
    path = _database(folder, RESTRICTED_DATABASE, "Fichier à accès restreint")
    return duckdb.connect(str(path), read_only=True)


def read_manifest(folder: Path) -> dict:
    """The publication's manifest (id, date, extracts used), or an empty one if absent."""
    path = folder / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def collectivity_names() -> dict[str, str]:
    """Collectivity code -> its name, from the source contracts."""
    return {code: source.collectivite for code, source in load_catalog().sources.items()}


def mask_small_counts(
    frame: pl.DataFrame, counts: Sequence[str], dependents: Sequence[str] = ()
) -> pl.DataFrame:
    """Counts of 1 to THRESHOLD - 1 persons, and the statistics computed on them, set to null,
    and the row flagged: the publication's primary suppression rule, for aggregates a notebook
    computes itself from person-level data."""
    small = pl.any_horizontal(
        ((pl.col(c) > 0) & (pl.col(c) < THRESHOLD)).fill_null(False) for c in counts
    )
    return frame.with_columns(
        [pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in [*counts, *dependents]]
        + [small.alias(FLAG)]
    )


def french_number(value: float | None, percent: bool = False) -> str | None:
    """A number as French readers write it: thin-space thousands, decimal comma; a share
    (0 to 1) as a percentage with one decimal."""
    if value is None:
        return None
    if percent:
        return f"{100 * value:,.1f}\u202f%".replace(",", "\u202f").replace(".", ",")
    digits = 0 if float(value).is_integer() or abs(value) >= 100 else 2
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def as_text(frame: pl.DataFrame, column: str, percent: bool = False) -> pl.Series:
    """A numeric column as the analyst reads it: French numbers, `s` where statistical
    suppression masks the value (never a blank or a zero), `—` where there is no value."""
    flags = frame[FLAG].to_list() if FLAG in frame.columns else [False] * frame.height
    return pl.Series(
        column,
        [
            (SUPPRESSED_MARK if hidden else NOT_COMPUTED)
            if value is None
            else french_number(value, percent)
            for value, hidden in zip(frame[column].to_list(), flags, strict=True)
        ],
        dtype=pl.String,
    )


def shown(
    frame: pl.DataFrame, columns: Mapping[str, str], percent: Collection[str] = ()
) -> pl.DataFrame:
    """The chosen columns under French headers, numbers written as text by `as_text`."""
    return pl.DataFrame(
        [
            (as_text(frame, c, c in percent) if frame[c].dtype.is_numeric() else frame[c]).alias(
                header
            )
            for c, header in columns.items()
        ]
    )


# d3's fr-FR locale: charts write numbers, percentages and dates the French way.
FRENCH_LOCALE = alt.Locale(
    number=alt.NumberLocale(
        decimal=",", thousands="\u202f", grouping=[3], currency=["", "\u00a0€"], percent="\u202f%"
    ),
    time=alt.TimeLocale(
        dateTime="%A %e %B %Y à %X",
        date="%d/%m/%Y",
        time="%H:%M:%S",
        periods=["AM", "PM"],
        days=["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
        shortDays=["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
        months=[
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ],
        shortMonths=[
            "janv.",
            "févr.",
            "mars",
            "avr.",
            "mai",
            "juin",
            "juil.",
            "août",
            "sept.",
            "oct.",
            "nov.",
            "déc.",
        ],
    ),
)


def in_french(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The finished chart, its numbers and dates written the French way."""
    return chart.configure(locale=FRENCH_LOCALE)
