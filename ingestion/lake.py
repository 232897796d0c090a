"""The lake's layout on disk and the only ways ingestion writes to it.

    lake/raw/<source>/<entity>/extract_date=<date>/data.parquet          valid rows + lineage
    lake/raw/<source>/<entity>/_schema/data.parquet                      no rows: the schema, for readers
    lake/quarantine/<source>/<entity>/extract_date=<date>/data.parquet   invalid rows, as text
    lake/superseded/<source>/<entity>/extract_date=<date>/data.parquet   older duplicates of a record
    lake/rejected/<source>/<extract date>/<load id>.json|.txt            refusal reports
    lake/reports/<source>/<extract date>/<load id>.json                  load reports
    lake/load_log/<load id>.parquet                                      one row per file per load
    lake/_staging/<load id>/...                                          an extract being landed
    lake/_journal/<load id>.json                                         a commit in progress

Every file is written under a temporary name and renamed. An extract is landed in two phases:
all its files are written under `_staging/<load id>/`; then a journal entry lists the partitions,
they are renamed into place, the load log row is written, and the journal entry removed. A crash
while staging leaves the lake as it was; a crash while committing is rolled back by the next run
(`recover`), which then lands the extract again.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ZONES = ("raw", "quarantine", "superseded")
ANCHOR = "_schema"  # raw/<source>/<entity>/_schema/data.parquet: no rows, the full schema


@dataclass(frozen=True)
class Lake:
    root: Path

    def partition(self, zone: str, source: str, entity: str, extract_date: str) -> Path:
        return self.root / zone / source / entity / f"extract_date={extract_date}"

    @property
    def load_log_dir(self) -> Path:
        return self.root / "load_log"

    def rejected_dir(self, source: str, extract_date: str) -> Path:
        return self.root / "rejected" / source / extract_date

    def staging(self, load_id: str) -> Path:
        return self.root / "_staging" / load_id

    @property
    def journal_dir(self) -> Path:
        return self.root / "_journal"

    def oppositions_log(self) -> Path:
        return self.root / "oppositions_log.parquet"


def new_load_id(source: str, extract_date: str) -> str:
    return f"{source}-{extract_date}-{uuid.uuid4().hex[:12]}"


@contextmanager
def _temporary(path: Path) -> Iterator[Path]:
    """A temporary sibling of `path`, renamed onto it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with _temporary(path) as temporary:
        frame.write_parquet(temporary, compression="zstd", statistics=True)


def write_text(text: str, path: Path) -> None:
    with _temporary(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(content: object, path: Path) -> None:
    write_text(json.dumps(content, ensure_ascii=False, indent=2, default=str), path)


def commit(lake: Lake, load_id: str, log_rows: pl.DataFrame, fault=None) -> None:
    """Move an extract's staged partitions into place, then record it in the load log.

    `fault` is a test hook called between two partitions (to simulate a crash mid-commit).
    """
    staging = lake.staging(load_id)
    moves = [
        (str(p), str(lake.root / p.relative_to(staging)))
        for p in sorted(staging.rglob("extract_date=*"))
        if p.is_dir()
    ]
    write_json({"load_id": load_id, "moves": moves}, lake.journal_dir / f"{load_id}.json")
    for number, (staged, target) in enumerate(moves):
        if fault is not None and number > 0:
            fault()
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        if Path(target).exists():
            shutil.rmtree(target)
        os.replace(staged, target)
    write_parquet(log_rows, lake.load_log_dir / f"{load_id}.parquet")
    (lake.journal_dir / f"{load_id}.json").unlink()
    shutil.rmtree(staging, ignore_errors=True)


def recover(lake: Lake) -> list[str]:
    """Roll back commits interrupted by a crash, and drop abandoned staging areas."""
    rolled_back = []
    for entry in sorted(lake.journal_dir.glob("*.json")) if lake.journal_dir.exists() else []:
        journal = json.loads(entry.read_text(encoding="utf-8"))
        if not (lake.load_log_dir / f"{journal['load_id']}.parquet").exists():
            for _, target in journal["moves"]:
                shutil.rmtree(target, ignore_errors=True)
            rolled_back.append(journal["load_id"])
        entry.unlink()
    shutil.rmtree(lake.root / "_staging", ignore_errors=True)
    return rolled_back


def read_load_log(lake: Lake) -> pl.DataFrame:
    """Every file of every load so far (empty frame with the log's schema when none)."""
    files = sorted(lake.load_log_dir.glob("*.parquet")) if lake.load_log_dir.exists() else []
    if not files:
        return pl.DataFrame(schema=LOAD_LOG_SCHEMA)
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")


LOAD_LOG_SCHEMA = {
    "load_id": pl.String,
    "source": pl.String,
    "extract_date": pl.Date,
    "status": pl.String,  # landed | refused
    "fingerprint": pl.String,
    "entity": pl.String,
    "file": pl.String,
    "file_sha256": pl.String,
    "rows_read": pl.Int64,
    "rows_landed": pl.Int64,
    "rows_quarantined": pl.Int64,
    "rows_superseded": pl.Int64,
    "rows_opposed": pl.Int64,
    "read_seconds": pl.Float64,
    "validate_seconds": pl.Float64,
    "write_seconds": pl.Float64,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "code_version": pl.String,
}
