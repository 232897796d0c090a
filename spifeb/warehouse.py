"""Run the dbt project (staging -> intermediate -> marts) on the warehouse's DuckDB file.

The lake and the warehouse file are given through the environment variables the dbt profile
reads, so tests and runs can point them anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def dbt_args(command: str, *, target_path: Path | None = None, select: str | None = None,
             full_refresh: bool = True) -> list[str]:  # fmt: skip
    """The dbt CLI arguments of a warehouse command (pure, unit-tested)."""
    args = [command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    if select:
        args += ["--select", select]
    if full_refresh and command in ("build", "seed", "run"):
        args.append("--full-refresh")
    return args


def run_dbt(command: str, lake: Path, warehouse: Path, **options) -> subprocess.CompletedProcess:
    """Run one dbt command against `warehouse` reading `lake`, in a child process.

    A child process holds the DuckDB file only while dbt runs (one writer at a time), and its
    output is captured for the caller to show or log.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "SPIFEB_LAKE_DIR": str(lake), "SPIFEB_WAREHOUSE": str(warehouse)}
    return subprocess.run(
        [sys.executable, "-c", "from dbt.cli.main import cli; cli()", *dbt_args(command, **options)],
        env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
