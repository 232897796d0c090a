"""The whole nightly job in-process (for cron or a one-off, without the Dagster daemon):
ingest every source, build the warehouse with dbt, audit and publish.

Only one job may write the warehouse at a time: `exclusive_warehouse` takes an exclusive lock on
a file next to it, so a second run waits (up to a timeout) or fails cleanly; Dagster's pool does
the same inside the orchestrator.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingestion.lake import Lake, read_load_log
from ingestion.land import IngestReport, ingest
from publication import PublicationResult, gate_and_publish
from spifeb import settings
from spifeb.warehouse import run_dbt


class WarehouseBusy(RuntimeError):
    """Another job holds the warehouse."""


class NothingLanded(RuntimeError):
    """The lake holds no extract: there is nothing to build."""


# progress(stage, done, total): the stage's French label and its advance (total 0 when unknown)
Progress = Callable[[str, int, int], None]
STAGES = ("Intégration des extraits", "Construction de l'entrepôt (dbt build)",
          "Contrôle qualité et publication")  # fmt: skip


def ensure_something_landed(lake: Path, landing: Path) -> None:
    """Refuse to build an empty warehouse (every test on it would fail for a reason nobody needs)."""
    log = read_load_log(Lake(lake))
    if log.filter(log["status"] == "landed").is_empty():
        raise NothingLanded(
            f"aucun extrait intégré dans {lake} : déposez des extraits complets dans {landing} "
            "(ou lancez « spifeb synth »), puis relancez."
        )


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


def run_pipeline(wait_seconds: float = 0.0, progress: Progress | None = None) -> PipelineResult:
    """Ingest, build, gate and publish, using the data directory of `settings`."""
    warehouse, lake, landing = (
        settings.warehouse_path(),
        settings.lake_dir(),
        settings.landing_dir(),
    )
    tell = progress or (lambda stage, done, total: None)
    with exclusive_warehouse(warehouse, wait_seconds):
        report = ingest(landing, lake, progress=lambda done, total: tell(STAGES[0], done, total))
        ensure_something_landed(lake, landing)
        build = run_dbt("build", lake, warehouse, target_path=settings.data_dir() / "dbt_target",
                        progress=lambda done, total: tell(STAGES[1], done, total))  # fmt: skip
        if build.returncode != 0:
            return PipelineResult(report, False, build.stdout, None)
        tell(STAGES[2], 0, 0)
        published = gate_and_publish(warehouse, lake, settings.published_dir())
        tell(STAGES[2], 1, 1)
        return PipelineResult(report, True, build.stdout, published)
