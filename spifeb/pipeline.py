"""The whole nightly job in-process (for cron or a one-off, without the Dagster daemon):
ingest every source, build the warehouse with dbt, audit and publish.

Only one job may write the warehouse at a time: `exclusive_warehouse` takes an exclusive lock on
a file next to it, so a second run waits (up to a timeout) or fails cleanly; Dagster's pool does
the same inside the orchestrator.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingestion.land import IngestReport, ingest
from publication import PublicationResult, gate_and_publish
from spifeb import settings
from spifeb.warehouse import run_dbt


class WarehouseBusy(RuntimeError):
    """Another job holds the warehouse."""


@contextmanager
def exclusive_warehouse(warehouse: Path, wait_seconds: float = 0.0) -> Iterator[None]:
    lock_path = warehouse.with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        "Un autre traitement écrit déjà l'entrepôt ; réessayez après sa fin."
                    ) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class PipelineResult:
    ingestion: IngestReport
    build_ok: bool
    build_log: str
    publication: PublicationResult | None


def run_pipeline(wait_seconds: float = 0.0) -> PipelineResult:
    """Ingest, build, gate and publish, using the data directory of `settings`."""
    warehouse = settings.warehouse_path()
    with exclusive_warehouse(warehouse, wait_seconds):
        report = ingest(settings.landing_dir(), settings.lake_dir())
        build = run_dbt(
            "build", settings.lake_dir(), warehouse, target_path=settings.data_dir() / "dbt_target"
        )
        if build.returncode != 0:
            return PipelineResult(report, False, build.stdout, None)
        published = gate_and_publish(warehouse, settings.lake_dir(), settings.published_dir())
        return PipelineResult(report, True, build.stdout, published)
