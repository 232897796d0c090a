"""The SPIFEB code location: every definition, assembled here and only here.

uv run python -m orchestration.prepare       # the dbt manifest (once, and after dbt changes)
DAGSTER_HOME=$PWD/orchestration/dagster_home uv run dagster dev -m orchestration.definitions
uv run dagster definitions validate -m orchestration.definitions
"""

from dagster import Definitions

from orchestration.defs.checks import FRESHNESS_CHECKS
from orchestration.defs.ingestion import landed_extracts, objections_applied
from orchestration.defs.jobs import ingestion_job, nightly_job, warehouse_job
from orchestration.defs.publication import published_warehouse
from orchestration.defs.resources import resources
from orchestration.defs.schedules import nightly_schedule
from orchestration.defs.sensors import landing_sensor, objections_sensor
from orchestration.defs.warehouse import spifeb_dbt

defs = Definitions(
    assets=[landed_extracts, objections_applied, spifeb_dbt, published_warehouse],
    asset_checks=FRESHNESS_CHECKS,
    jobs=[nightly_job, ingestion_job, warehouse_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor, objections_sensor],
    resources=resources(),
)
