"""Land the collectivities' extracts: find the complete folders not yet landed, check them, and
write every row to the raw layer, the quarantine or the superseded zone, or refuse the extract.

`ingest(landing, lake)` is what `spifeb ingest` and the orchestration call; `land_source` does one
source (the orchestration's partition). Extracts of a source land in date order; an extract older
than one already landed is kept in history (its own partition) and the warehouse's staging picks
the most recent one, so it never supersedes the newer. The landing zone is never modified.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from data_contracts import Catalog, Contract, load_catalog
from data_contracts.schemas import canonical_schema
from ingestion import lake as lk
from ingestion.manifest import MANIFEST, Manifest, check_files, folder_fingerprint, read_manifest
from ingestion.oppositions import erase, opposed_pseudonyms, read_oppositions
from ingestion.privacy import scan_columns, scan_values
from ingestion.readers import EXTRA, LINE, ReadError, read_header, read_native
from ingestion.refusals import ExtractRefused, Refusal
from ingestion.reports import write_load_report, write_refusal_report
from ingestion.validate import PSEUDONYMS, ValidatedRows, validate_rows

CODE_VERSION = "spifeb-0.1.0"
JSON_LINE = "(clé JSON hors contrat)"


@dataclass
class FileReport:
    entity: str
    file: str
    file_sha256: str
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0
    rows_opposed: int = 0
    read_seconds: float = 0.0
    validate_seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        accounted = (
            self.rows_landed + self.rows_quarantined + self.rows_superseded + self.rows_opposed
        )
        return self.rows_read == accounted


@dataclass
class ExtractReport:
    source: str
    extract_date: dt.date
    load_id: str
    status: str  # landed | refused | already_landed
    files: list[FileReport] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    seconds: float = 0.0
    log_rows: pl.DataFrame | None = None


@dataclass
class IngestReport:
    extracts: list[ExtractReport] = field(default_factory=list)
    erased: list[dict] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)

    @property
    def refused(self) -> list[ExtractReport]:
        return [e for e in self.extracts if e.status == "refused"]


# --- Finding extracts ----------------------------------------------------------------------------


def complete_folders(landing: Path, source: str) -> list[Path]:
    """Extract folders of a source whose manifest is present, in date order (others: later)."""
    base = landing / source
    if not base.is_dir():
        return []
    folders = []
    for folder in base.iterdir():
        try:
            dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and (folder / MANIFEST).is_file():
            folders.append(folder)
    return sorted(folders, key=lambda f: f.name)


def pending(folders: list[Path], log: pl.DataFrame) -> list[Path]:
    """Folders not landed nor refused as they are now (a folder touched since is looked at again)."""
    seen = set(log.filter(pl.col("status").is_in(["landed", "refused"]))["fingerprint"].to_list())
    return [f for f in folders if folder_fingerprint(f) not in seen]


# --- Landing one extract -------------------------------------------------------------------------


def _read_checked(
    contract: Contract, folder: Path, manifest: Manifest
) -> tuple[pl.DataFrame, list[Refusal]]:
    """Read one file and look for anything that refuses the whole extract."""
    name = contract.file.file_name(manifest.extract_date)
    path = folder / name
    try:
        refusals = scan_columns(name, read_header(contract, path))
        native = read_native(contract, path, keep_extra=True)
    except ReadError as exc:
        return pl.DataFrame(), [Refusal(exc.rule, file=name, detail=exc.message_fr)]
    refusals += [
        replace(r, column=r.column.removeprefix(EXTRA))
        for r in scan_values(name, native.drop(LINE))
    ]
    if contract.physical.format == "jsonl":
        # Keys the contract ignores are dropped on reading: scan the raw lines for them too.
        lines = pl.Series(
            JSON_LINE, path.read_text(encoding="utf-8", errors="replace").splitlines()
        )
        seen = {r.detail for r in refusals}
        refusals += [r for r in scan_values(name, lines.to_frame()) if r.detail not in seen]
    expected = manifest.entry(contract.entity_name).rows
    if native.height != expected:
        refusals.append(
            Refusal("fichier_tronque", file=name, found=native.height, expected=expected)
        )
    extra = [c for c in native.columns if c.startswith(EXTRA)]
    return native.drop(extra), refusals


def _lineage(frame: pl.DataFrame, source: str, entity: str, extract_date: dt.date, file: str, sha: str,
             load_id: str) -> pl.DataFrame:  # fmt: skip
    """The row's own columns first, then where it comes from."""
    return frame.select(
        pl.exclude(LINE),
        _source=pl.lit(source), _entity=pl.lit(entity), _extract_date=pl.lit(extract_date, dtype=pl.Date),
        _file=pl.lit(file), _file_sha256=pl.lit(sha), _line=pl.col(LINE), _load_id=pl.lit(load_id),
    )  # fmt: skip


def _quarantine_frame(
    contract: Contract, rows: ValidatedRows, native: pl.DataFrame
) -> pl.DataFrame:
    """Quarantined rows keep their original values as text, plus their pseudonyms (for erasure)."""
    if not contract.entity.person_level:
        return rows.quarantined
    columns = {p: contract.column_for(p).native for p in PSEUDONYMS}
    pseudonyms = native.select(
        LINE, *(pl.col(n).str.strip_chars().alias(p) for p, n in columns.items())
    )
    return rows.quarantined.join(pseudonyms, on=LINE, how="left")


def _stage(
    lake: lk.Lake,
    load_id: str,
    source: str,
    contract: Contract,
    extract_date: dt.date,
    frames: dict,
) -> None:
    staging = lk.Lake(lake.staging(load_id))
    for zone, frame in frames.items():
        if frame.height or zone == "raw":
            path = (
                staging.partition(zone, source, contract.entity_name, extract_date.isoformat())
                / "data.parquet"
            )
            lk.write_parquet(frame, path)


def _landed_checksums(log: pl.DataFrame, source: str, extract_date: dt.date) -> set[str] | None:
    """Checksums of the files of this extract as landed before, if it was."""
    landed = log.filter(
        (pl.col("status") == "landed")
        & (pl.col("source") == source)
        & (pl.col("extract_date") == extract_date)
    )
    return set(landed["file_sha256"]) if landed.height else None


def land_extract(folder: Path, lake: lk.Lake, opposed: frozenset[str] = frozenset(), catalog: Catalog | None = None,
                 log: pl.DataFrame | None = None, fault=None) -> ExtractReport:  # fmt: skip
    """Land one complete extract folder, or refuse it whole (with a report)."""
    catalog = catalog or load_catalog()
    log = lk.read_load_log(lake) if log is None else log
    source, extract_date = folder.parent.name, dt.date.fromisoformat(folder.name)
    load_id = lk.new_load_id(source, extract_date.isoformat())
    report = ExtractReport(source, extract_date, load_id, status="landed")
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    contracts = catalog.contracts_for_source(source)
    try:
        manifest = read_manifest(folder)
        checksums, refusals = check_files(manifest, contracts, folder)
        landed = _landed_checksums(log, source, extract_date)
        if landed is not None and not refusals:
            if landed == set(checksums.values()):
                report.status = "already_landed"  # sent again: nothing changes
                return report
            raise ExtractRefused([Refusal("extrait_deja_recu_different")])
        natives = {}
        for contract in contracts:
            if contract.file.file_name(extract_date) not in checksums:
                continue  # absent: already refused
            tick = time.perf_counter()
            native, found = _read_checked(contract, folder, manifest)
            refusals += found
            natives[contract.entity_name] = (native, time.perf_counter() - tick)
        if refusals:
            raise ExtractRefused(refusals)
        for contract in contracts:
            report.files.append(
                _land_file(
                    contract,
                    natives[contract.entity_name],
                    manifest,
                    checksums,
                    lake,
                    load_id,
                    opposed,
                )
            )
        report.log_rows = _log_rows(report, started, folder)
        lk.commit(lake, load_id, report.log_rows, fault=fault)
        write_load_report(lake, report)
    except ExtractRefused as refused:
        report.status, report.refusals, report.files = "refused", refused.refusals, []
        write_refusal_report(lake, report)
        report.log_rows = _log_rows(report, started, folder)
        lk.write_parquet(report.log_rows, lake.load_log_dir / f"{load_id}.parquet")
    report.seconds = time.perf_counter() - clock
    return report


def _land_file(
    contract, native_and_time, manifest, checksums, lake, load_id, opposed
) -> FileReport:
    native, read_seconds = native_and_time
    name = contract.file.file_name(manifest.extract_date)
    source, extract_date = manifest.source, manifest.extract_date
    file_report = FileReport(contract.entity_name, name, checksums[name], rows_read=native.height,
                             read_seconds=read_seconds)  # fmt: skip
    tick = time.perf_counter()
    rows = validate_rows(contract, native, extract_date, opposed)
    file_report.validate_seconds = time.perf_counter() - tick
    tick = time.perf_counter()

    def lineage(frame):
        return _lineage(
            frame, source, contract.entity_name, extract_date, name, checksums[name], load_id
        )

    _stage(lake, load_id, source, contract, extract_date, {
        "raw": lineage(rows.landed),
        "quarantine": lineage(_quarantine_frame(contract, rows, native)),
        "superseded": lineage(rows.superseded),
    })  # fmt: skip
    file_report.write_seconds = time.perf_counter() - tick
    file_report.rows_landed = rows.landed.height
    file_report.rows_quarantined = rows.quarantined.height
    file_report.rows_superseded = rows.superseded.height
    file_report.rows_opposed = rows.opposed
    if not file_report.balanced:
        raise AssertionError(f"{name}: rows read do not add up")  # a bug, never a data problem
    return file_report


def _log_rows(report: ExtractReport, started: dt.datetime, folder: Path) -> pl.DataFrame:
    base = {"load_id": report.load_id, "source": report.source, "extract_date": report.extract_date,
            "status": report.status, "fingerprint": folder_fingerprint(folder), "started_at": started,
            "finished_at": dt.datetime.now(dt.UTC), "code_version": CODE_VERSION}  # fmt: skip
    rows = [{**base, **{k: v for k, v in vars(f).items()}} for f in report.files] or [base]
    return pl.DataFrame(rows, schema=lk.LOAD_LOG_SCHEMA)


# --- Sources and runs ----------------------------------------------------------------------------


def land_source(
    source: str,
    landing: Path,
    lake: lk.Lake,
    opposed: frozenset[str] | None = None,
    catalog: Catalog | None = None,
    log: pl.DataFrame | None = None,
    on_extract: Callable[[ExtractReport], None] | None = None,
) -> list[ExtractReport]:
    """Land every pending extract of one source, oldest first (`on_extract` is told of each)."""
    catalog = catalog or load_catalog()
    if source not in catalog.sources:
        raise KeyError(source)
    if opposed is None:
        opposed = opposed_pseudonyms(read_oppositions(landing), lake)
    log = lk.read_load_log(lake) if log is None else log
    folders = pending(complete_folders(landing, source), log)
    return land_folders(folders, lake, opposed, catalog, log, on_extract)


def land_folders(
    folders: list[Path],
    lake: lk.Lake,
    opposed: frozenset[str],
    catalog: Catalog,
    log: pl.DataFrame,
    on_extract: Callable[[ExtractReport], None] | None = None,
) -> list[ExtractReport]:
    """Land these extract folders in order, the load log growing with each."""
    reports = []
    for folder in folders:
        report = land_extract(folder, lake, opposed, catalog, log)
        reports.append(report)
        if report.log_rows is not None:
            log = pl.concat([log, report.log_rows], how="diagonal_relaxed")
        if on_extract is not None:
            on_extract(report)
    return reports


def ensure_anchors(lake: lk.Lake, catalog: Catalog) -> None:
    """An empty file with the full schema in every raw entity folder, so that the warehouse can
    read a source's entity before anything of it has landed (it holds no row)."""
    for source in catalog.sources:
        for contract in catalog.contracts_for_source(source):
            path = lake.root / "raw" / source / contract.entity_name / lk.ANCHOR / "data.parquet"
            if not path.exists():
                empty = pl.DataFrame(schema=canonical_schema(contract.entity)).with_columns(
                    **{LINE: pl.lit(None, pl.Int64)}
                )
                lk.write_parquet(
                    _lineage(empty, source, contract.entity_name, None, "", "", ""), path
                )


def ingest(
    landing: Path,
    lake_root: Path,
    sources: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """One ingestion run: recover from a crash, apply objections, land every source.

    `progress(done, total)` is called with the number of pending extracts handled so far."""
    catalog = load_catalog()
    lake = lk.Lake(lake_root)
    report = IngestReport(rolled_back=lk.recover(lake))
    ensure_anchors(lake, catalog)
    opposed = opposed_pseudonyms(read_oppositions(landing), lake)
    report.erased = erase(lake, opposed)
    log = lk.read_load_log(lake)
    sources = sources or sorted(catalog.sources)
    if unknown := set(sources) - set(catalog.sources):
        raise KeyError(", ".join(sorted(unknown)))
    waiting = [pending(complete_folders(landing, source), log) for source in sources]
    total = sum(len(folders) for folders in waiting)

    handled = itertools.count(1)

    def tell(_: ExtractReport) -> None:
        if progress is not None:
            progress(next(handled), total)

    for folders in waiting:
        report.extracts += land_folders(folders, lake, opposed, catalog, log, tell)
    # Records landed in this run may link an objecting person to pseudonyms not known before.
    report.erased += erase(lake, opposed_pseudonyms(read_oppositions(landing), lake))
    return report
