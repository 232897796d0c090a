"""The dbt project as Dagster sees it. Importing this module never runs dbt.

The manifest lives in its own target folder (`dbt_project/target/dagster/manifest.json`), apart
from the one `spifeb build` writes, and is prepared ahead of time by `orchestration.prepare`
(or by `dagster dev` itself, through `prepare_if_dev`).
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from spifeb.warehouse import DBT_PROJECT_DIR

MANIFEST_TARGET = Path("target", "dagster")  # relative to the dbt project folder

dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    target_path=MANIFEST_TARGET,
)
