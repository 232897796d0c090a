"""The nightly run, 02:00 Europe/Paris: one run of `nightly_job` over the seven source partitions
(every source's ingestion in one step, then the build, the checks and the publication)."""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    schedule,
)

from orchestration.defs.ingestion import SOURCE_CODES
from orchestration.defs.jobs import NIGHTLY_TAG, nightly_job

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Paris"
# Dagster's run tags for a run over a range of partitions (one step receives all their keys).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


@schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Chaque nuit à 2 h, une seule exécution : intégration de toutes les sources, "
        "oppositions, construction, contrôles et publication."
    ),
)
def nightly_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return nightly_run_request(
        context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date()
    )


def nightly_run_request(night: dt.date) -> RunRequest:
    """One run over every source partition (the range from the first code to the last)."""
    return RunRequest(
        run_key=f"nightly-{night.isoformat()}",
        tags={
            NIGHTLY_TAG: night.isoformat(),
            PARTITION_RANGE_START_TAG: SOURCE_CODES[0],
            PARTITION_RANGE_END_TAG: SOURCE_CODES[-1],
        },
    )
