"""Prepare the dbt manifest the code location loads (`dbt parse` into the project's target path).

    uv run python -m orchestration.prepare            # parses when missing or older than the project
    uv run python -m orchestration.prepare --force    # parses in any case

Definitions never parse dbt at import (except under `dagster dev`, through `prepare_if_dev`):
run this once after checkout and after changing the dbt project (`make setup` does it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from orchestration.defs.resources import dbt_executable
from orchestration.project import dbt_project

# What the manifest is built from: a newer file here means the manifest is stale.
_PROJECT_INPUTS = (
    "dbt_project.yml",
    "models",
    "macros",
    "seeds",
    "tests",
    "../data_contracts/reference",  # a seed path of dbt_project.yml
)


def _newest_input(project_dir: Path) -> float:
    newest = 0.0
    for name in _PROJECT_INPUTS:
        path = project_dir / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in files:
            if file.is_file():
                newest = max(newest, file.stat().st_mtime)
    return newest


def manifest_is_current() -> bool:
    manifest = dbt_project.manifest_path
    return manifest.is_file() and manifest.stat().st_mtime >= _newest_input(dbt_project.project_dir)


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` into the project's target path unless the manifest is current."""
    if force or not manifest_is_current():
        # What DbtProject's default preparer does, with the dbt beside this Python (the default
        # looks for `dbt` on PATH, which a daemon or cron started without `uv run` lacks).
        dbt = DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
        dbt.cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    if not dbt_project.manifest_path.is_file():
        raise RuntimeError(f"dbt parse did not write {dbt_project.manifest_path}")
    return dbt_project.manifest_path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if set(args) - {"--force"}:
        print("usage: python -m orchestration.prepare [--force]", file=sys.stderr)
        return 2
    current = not args and manifest_is_current()
    path = prepare_manifest(force=bool(args))
    print(f"dbt manifest {'already current' if current else 'prepared'}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
