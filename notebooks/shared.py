"""What the analysts' notebooks share: which publication they read, opening its DuckDB files
read-only, and the display rules (labels, small-count masking) that keep what they show
aggregated. Imported by the notebooks next to it; no notebook state lives here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path

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
    frame: pl.DataFrame, counts: list[str], dependents: list[str] = ()
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
        return f"{100 * value:,.1f} %".replace(",", "\u202f").replace(".", ",")
    digits = 0 if float(value).is_integer() or abs(value) >= 100 else 2
    return f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")


def shown(
    frame: pl.DataFrame, columns: Mapping[str, str], percent: Collection[str] = ()
) -> pl.DataFrame:
    """The frame as the analyst reads it: the chosen columns under French headers, numbers
    written the French way, and `s` where statistical suppression masks a value (never a blank
    or a zero)."""
    flagged = frame[FLAG] if FLAG in frame.columns else pl.Series([False] * frame.height)
    out = {}
    for column, header in columns.items():
        values = frame[column]
        if not values.dtype.is_numeric():
            out[header] = values
            continue
        out[header] = pl.Series(
            [
                SUPPRESSED_MARK if v is None and hidden else french_number(v, column in percent)
                for v, hidden in zip(values.to_list(), flagged.to_list(), strict=True)
            ],
            dtype=pl.String,
        )
    return pl.DataFrame(out)
