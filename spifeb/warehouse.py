"""Run the dbt project (staging -> intermediate -> marts) on the warehouse's DuckDB file.

The lake and the warehouse file are given through the environment variables the dbt profile
reads, so tests and runs can point them anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
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


# dbt's line for a finished node: "12:00:01  180 of 390 OK created sql table model …"
_NODE_DONE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|FAIL|ERROR|WARN|SKIP)\b")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def node_progress(line: str) -> tuple[int, int] | None:
    """(nodes done, nodes in all) when `line` reports a finished dbt node (pure, unit-tested)."""
    match = _NODE_DONE.search(_ANSI.sub("", line))
    return (int(match.group(1)), int(match.group(2))) if match else None


def run_dbt(
    command: str,
    lake: Path,
    warehouse: Path,
    progress: Callable[[int, int], None] | None = None,
    **options,
) -> subprocess.CompletedProcess:
    """Run one dbt command against `warehouse` reading `lake`, in a child process.

    A child process holds the DuckDB file only while dbt runs (one writer at a time), and its
    output (without colour codes) is captured for the caller to show or log; `progress(done,
    total)` follows the nodes as dbt finishes them.
    """
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "SPIFEB_LAKE_DIR": str(lake), "SPIFEB_WAREHOUSE": str(warehouse),
                   "DBT_USE_COLORS": "false"}  # fmt: skip
    arguments = [sys.executable, "-c", "from dbt.cli.main import cli; cli()",
                 *dbt_args(command, **options)]  # fmt: skip
    lines = []
    with subprocess.Popen(arguments, env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as process:  # fmt: skip
        for line in process.stdout:
            lines.append(line)
            done = node_progress(line)
            if done is not None and progress is not None:
                progress(*done)
    return subprocess.CompletedProcess(arguments, process.returncode, "".join(lines), "")
