"""Generate a synthetic landing zone: every source's monthly extract folders, exactly as the spec
describes them, and the ground truth written apart (never read by the pipeline).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl

from data_contracts import Catalog, load_catalog
from data_contracts.schemas import canonical_schema
from spifeb.synthetic import defects as dfx
from spifeb.synthetic.history import Histories, build_histories
from spifeb.synthetic.persons import make_persons
from spifeb.synthetic.render import render_extract, sha256_file
from spifeb.synthetic.snapshot import TRUTH_COLUMNS, snapshot
from spifeb.synthetic.world import Draws, Window, load_geography, load_parameters, to_days

PARIS = ZoneInfo("Europe/Paris")
CIVIL_STATUS = ("nir13", "nom", "prenoms")


@dataclass(frozen=True)
class SynthOptions:
    persons: int
    start: dt.date
    months: int
    seed: int
    out: Path
    truth: Path
    extracts: int | None = None
    defect_rate: float = 0.0
    clear_extract: bool = False


@dataclass
class SynthSummary:
    extracts: int = 0
    files: int = 0
    rows: int = 0
    defects: int = 0
    rows_by_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Extract:
    source: str
    extract_date: dt.date
    produced_at: dt.datetime


def extract_schedule(
    catalog: Catalog, window: Window, params: dict, draws: Draws, keep_latest: int | None
) -> list[Extract]:
    """Roughly monthly deliveries per source: month ends, a few skipped months, produced days later.

    The last month is always delivered. With `keep_latest`, only that many most recent extracts
    of each source are kept (each full snapshot already holds the history).
    """
    shares = params["snapshots"]
    schedule = []
    for source in sorted(catalog.sources):
        rng = draws.stream(f"schedule:{source}")
        ends = window.month_ends
        skipped = rng.random(len(ends)) < shares["late_or_missing_share"]
        skipped[-1] = False
        delays = rng.integers(
            shares["produced_after_days"][0], shares["produced_after_days"][1] + 1, len(ends)
        )
        minutes = rng.integers(5 * 60, 8 * 60, len(ends))
        delivered = [
            Extract(
                source,
                end,
                dt.datetime.combine(end + dt.timedelta(days=int(d)), dt.time(), PARIS)
                + dt.timedelta(minutes=int(m)),
            )
            for end, skip, d, m in zip(ends, skipped, delays, minutes, strict=True)
            if not skip
        ]
        schedule.extend(delivered[-keep_latest:] if keep_latest else delivered)
    return sorted(schedule, key=lambda e: (e.extract_date, e.source))


def generate(
    options: SynthOptions, progress: Callable[[int, int], None] | None = None
) -> SynthSummary:
    """Write the landing zone and the ground truth; deterministic for a seed."""
    catalog = load_catalog()
    params = load_parameters()
    geography = load_geography()
    window = Window(options.start, options.months)
    draws = Draws(options.seed)
    persons = make_persons(options.persons, window, geography, params, draws)
    histories = build_histories(persons, catalog, geography, params, window, draws)
    schedule = extract_schedule(catalog, window, params, draws, options.extracts)
    special = _special_extracts(schedule, options, draws)
    summary = SynthSummary()
    truth: list[dict] = []
    for number, extract in enumerate(schedule, start=1):
        truth += _write_extract(
            extract, histories, persons, catalog, params, options, special, summary
        )
        if progress:
            progress(number, len(schedule))
    if "sent_twice" in special:
        truth.append(_redelivery(special["sent_twice"], options))
    _write_truth(
        options.truth, persons, histories, catalog, params, window, truth, schedule, special
    )
    if "sent_twice" in special:
        again = special["sent_twice"]
        shutil.copytree(
            options.out / again.source / again.extract_date.isoformat(),
            options.truth / "redeliveries" / again.source / again.extract_date.isoformat(),
        )
    summary.defects = len(truth)
    return summary


def _redelivery(extract: Extract, options: SynthOptions) -> dict:
    """An older extract sent again by mistake: kept under the ground truth's `redeliveries/`,
    for tests to drop into the landing zone after it was first landed (it must change nothing)."""
    return dfx.file_defect(extract.source, extract.extract_date, "sent_twice")


def _special_extracts(
    schedule: list[Extract], options: SynthOptions, draws: Draws
) -> dict[str, Extract]:
    """The extracts singled out: left without manifest, sent twice, not pseudonymised (on request)."""
    rng = draws.stream("special_extracts")
    latest = {e.source: e for e in schedule}
    special = {}
    if options.defect_rate > 0:
        sources = sorted(latest)
        special["missing_manifest"] = latest[sources[int(rng.integers(0, len(sources)))]]
        older = [e for e in schedule if e is not latest[e.source]]
        if older:
            special["sent_twice"] = older[int(rng.integers(0, len(older)))]
    if options.clear_extract:
        catalog = load_catalog()
        eligible = sorted(
            s
            for s in latest
            if any(
                c.physical.format == "csv" and c.entity.person_level
                for c in catalog.contracts_for_source(s)
            )
            and latest[s] is not special.get("missing_manifest")
        )
        special["not_pseudonymised"] = latest[eligible[int(rng.integers(0, len(eligible)))]]
    return special


def _write_extract(
    extract, histories: Histories, persons, catalog, params, options, special, summary
) -> list[dict]:
    source, date = extract.source, extract.extract_date
    rng = Draws(options.seed).stream(f"defects:{source}:{date}")
    contracts = catalog.contracts_for_source(source)
    frames, truth = {}, []
    for contract in contracts:
        entity = contract.entity_name
        history = histories.get((source, entity))
        frame = (
            snapshot(history, entity, contract.entity, date, params)
            if history is not None
            else pl.DataFrame(schema={**canonical_schema(contract.entity), "person_key": pl.Int64})
        )
        if options.defect_rate > 0:
            frame, injected = dfx.inject_row_defects(
                frame, contract.entity, date, options.defect_rate, rng
            )
            truth += dfx.truth_rows(injected, source, date, entity, contract.file.file_name(date))
        frames[entity] = _expressible(frame, contract, params["layout_fallbacks"])
    seed = int(rng.integers(0, 2**31))
    folder = render_extract(
        source,
        date,
        {e: f.drop(TRUTH_COLUMNS) for e, f in frames.items()},
        options.out,
        produced_at=extract.produced_at,
        seed=seed,
        catalog=catalog,
    )
    truth += _file_defects(extract, folder, contracts, frames, persons, options, special, rng)
    summary.extracts += 1
    summary.files += len({c.file.file_name(date) for c in contracts})
    rows = sum(f.height for f in frames.values())
    summary.rows += rows
    summary.rows_by_source[source] = summary.rows_by_source.get(source, 0) + rows
    return truth


def _expressible(
    frame: pl.DataFrame, contract, fallbacks: dict[str, dict[str, str]]
) -> pl.DataFrame:
    """Codes the layout cannot write are recorded as the nearest code it has."""
    replacements = {
        column.field: {
            k: v for k, v in fallbacks[column.field].items() if k not in column.inverse_codes
        }
        for column in contract.columns
        if column.field in fallbacks
    }
    return frame.with_columns(
        pl.col(name).replace(mapping) for name, mapping in replacements.items() if mapping
    )


def _file_defects(
    extract, folder: Path, contracts, frames, persons, options, special, rng
) -> list[dict]:
    source, date = extract.source, extract.extract_date
    truth = []
    if special.get("not_pseudonymised") == extract:
        contract = next(
            c for c in contracts if c.physical.format == "csv" and c.entity.person_level
        )
        order = frames[contract.entity_name].select("person_key")
        identities = order.join(
            persons.select("person_key", *CIVIL_STATUS),
            on="person_key",
            how="left",
            maintain_order="left",
        )
        dfx.add_direct_identifiers(contract, folder / contract.file.file_name(date), identities)
        dfx.rewrite_manifest(folder, sha256_file)
        truth.append(dfx.file_defect(source, date, "not_pseudonymised", contract))
    if options.defect_rate > 0:
        csv_contracts = [c for c in contracts if c.physical.format == "csv"]
        touched = False
        for contract in csv_contracts:
            if rng.random() < min(1.0, 10 * options.defect_rate):
                dfx.add_trailing_delimiter(contract, folder / contract.file.file_name(date))
                truth.append(dfx.file_defect(source, date, "trailing_delimiter", contract))
                touched = True
        if touched:
            dfx.rewrite_manifest(folder, sha256_file)
        line_based = [
            c
            for c in contracts
            if c.physical.format in ("csv", "jsonl") and frames[c.entity_name].height > 3
        ]
        if line_based and rng.random() < min(1.0, 3 * options.defect_rate):
            contract = line_based[int(rng.integers(0, len(line_based)))]
            dfx.truncate(contract, folder / contract.file.file_name(date), int(rng.integers(1, 4)))
            truth.append(dfx.file_defect(source, date, "truncated", contract))
    if special.get("missing_manifest") == extract:
        (folder / "manifest.json").unlink()
        truth.append(dfx.file_defect(source, date, "missing_manifest"))
    return truth


def _write_truth(
    truth_dir: Path,
    persons: pl.DataFrame,
    histories: Histories,
    catalog: Catalog,
    params: dict,
    window: Window,
    defects: list[dict],
    schedule: list[Extract],
    special,
) -> None:
    """Ground truth for later tests: persons (no civil status), true records, defects, extracts."""
    if truth_dir.exists():
        shutil.rmtree(truth_dir)
    truth_dir.mkdir(parents=True)
    persons.select(
        "person_key",
        "profile",
        "sexe",
        mois_naissance=pl.col("birth_day").cast(pl.Int32).cast(pl.Date).dt.month_start(),
        commune_insee="commune_insee",
        departement="departement",
        epci_siren="epci_siren",
        niveau_diplome="niveau_diplome",
        pseudo_nir="pseudo_nir",
        pseudo_ec="pseudo_ec",
        homonym_of="homonym_of",
    ).write_parquet(truth_dir / "persons.parquet")
    _true_records(histories, catalog, params, window).write_parquet(truth_dir / "records.parquet")
    pl.DataFrame(defects, schema=dfx.DEFECT_SCHEMA).write_parquet(truth_dir / "defects.parquet")
    pl.DataFrame(
        [
            {
                "source": e.source,
                "extract_date": e.extract_date,
                "produced_at": e.produced_at.isoformat(),
                "special": next((k for k, v in special.items() if v == e), None),
            }
            for e in schedule
        ],
        schema={
            "source": pl.String,
            "extract_date": pl.Date,
            "produced_at": pl.String,
            "special": pl.String,
        },
    ).write_parquet(truth_dir / "extracts.parquet")


def _true_records(
    histories: Histories, catalog: Catalog, params: dict, window: Window
) -> pl.DataFrame:
    """Every record's true state at the end of the window, in one shape for all entities."""
    life = params["lifecycle"]
    horizon = window.end_day
    frames = []
    for (source, entity_name), history in sorted(histories.items()):
        entity = catalog.entities[entity_name]
        start, end = life["activity"][entity_name]
        outcome = life["truth"]["outcome"].get(entity_name)
        dispositif = life["truth"]["dispositif"][entity_name]
        frames.append(
            history.select(
                source=pl.lit(source),
                entity=pl.lit(entity_name),
                record_id=pl.col(entity.record_id).cast(pl.String),
                person_key=pl.col("person_key"),
                dispositif_local=(
                    pl.col(dispositif) if dispositif in history.columns else pl.lit(dispositif)
                ).cast(pl.String),
                date_debut=pl.col(start).cast(pl.Int32).cast(pl.Date),
                date_fin=pl.when(pl.col(end) <= horizon)
                .then(pl.col(end))
                .cast(pl.Int32)
                .cast(pl.Date),
                motif_sortie=(
                    pl.when(pl.col(end) <= horizon).then(pl.col(outcome))
                    if outcome
                    else pl.lit(None)
                ).cast(pl.String),
                cofinancement_fse=(
                    pl.col("cofinancement_fse")
                    if "cofinancement_fse" in history.columns
                    else pl.lit(None)
                ).cast(pl.Boolean),
                code_operation_fse=(
                    pl.col("code_operation_fse")
                    if "code_operation_fse" in history.columns
                    else pl.lit(None)
                ).cast(pl.String),
                date_suppression=pl.when(pl.col("_deleted_from") <= horizon)
                .then(pl.col("_deleted_from"))
                .cast(pl.Int32)
                .cast(pl.Date),
            ).filter(pl.col("date_debut") <= pl.lit(horizon).cast(pl.Int32).cast(pl.Date))
        )
    cutoff = to_days(params["activity_cutoff"])
    return pl.concat(frames).filter(
        pl.col("date_fin").is_null()
        | (pl.col("date_fin").cast(pl.Int32) >= cutoff)
        | (pl.col("date_debut").cast(pl.Int32) >= cutoff)
    )


SYNTHETIC_MARKER = ".synthetique"  # in a landing zone written by `spifeb synth`


class LandingNotSynthetic(RuntimeError):
    """The landing zone holds extracts that `spifeb synth` did not write."""


def clear_landing(out: Path) -> None:
    """Remove a previous synthetic landing zone (only the source folders the catalog knows).

    Refuses a landing zone holding extracts it did not write (no marker): real extracts received
    from the collectivities are never deleted by a demonstration."""
    sources = [out / source for source in load_catalog().sources]
    # Landing zones written before the marker existed have their ground truth beside them.
    synthetic = (out / SYNTHETIC_MARKER).exists() or (
        out.parent / "synthetic_truth" / "persons.parquet"
    ).exists()
    if any(folder.is_dir() and any(folder.iterdir()) for folder in sources) and not synthetic:
        raise LandingNotSynthetic(
            f"la zone de dépôt {out} contient des extraits qui ne viennent pas de « spifeb synth » "
            "et ne sera pas effacée : choisissez un autre dossier (--out ou SPIFEB_DATA_DIR)."
        )
    for folder in sources:
        shutil.rmtree(folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / SYNTHETIC_MARKER).write_text(
        "Zone de dépôt synthétique, écrite par « spifeb synth » : elle peut être effacée.\n",
        encoding="utf-8",
    )
