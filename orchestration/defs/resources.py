"""What the assets share: the dbt CLI, the warehouse's DuckDB file, the pools and the retry policy.

Paths come from `spifeb.settings` at run time (never at import), so `SPIFEB_DATA_DIR` moves a run's
data anywhere, tests included.
"""

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import Backoff, ConfigurableResource, Jitter, RetryPolicy
from dagster_dbt import DbtCliResource

from orchestration.project import dbt_project
from spifeb import settings

# Pools (op-level concurrency keys). `orchestration/dagster_home/dagster.yaml` limits every pool to
# one op at a time: DuckDB allows one writer per file, and landing/erasure rewrite the lake.
WAREHOUSE_POOL = "spifeb_warehouse"  # writes data/warehouse/spifeb.duckdb (dbt, publication)
LAKE_POOL = "spifeb_lake"  # writes data/lake (landing, recovery, objections)

# Transient failures (a file being copied, a lock held a moment, a killed process) are retried
# 30 s, 60 s, 120 s later (± jitter). Failures that a retry cannot fix (a refused extract, a failed
# dbt test, a blocked publication) raise `Failure(allow_retries=False)` and are not retried.
TRANSIENT_RETRY = RetryPolicy(
    max_retries=3, delay=30, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


class WarehouseDuckDB(ConfigurableResource):
    """The warehouse's DuckDB file: the one dbt builds and publication copies from.

    `path` defaults to `spifeb.settings.warehouse_path()`. Analysts never open this file: they read
    the published copy (`data/published/current/`), so a run writing here never blocks them.
    """

    path: str | None = None

    def database(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    @contextmanager
    def connect(self, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = duckdb.connect(str(self.database()), read_only=read_only)
        try:
            yield connection
        finally:
            connection.close()


def dbt_executable() -> str:
    """The dbt installed beside this Python (the locked one), even when the virtualenv's `bin` is
    not on PATH (a daemon or cron started without `uv run`)."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def resources() -> dict[str, object]:
    return {
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "warehouse": WarehouseDuckDB(),
    }
