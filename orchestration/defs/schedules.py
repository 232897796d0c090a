"""The nightly run, 02:00 Europe/Paris: every source's ingestion, then (through
`nightly_build_sensor`) the build, the checks and the publication."""

from collections.abc import Iterator
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    schedule,
)

from orchestration.defs.ingestion import SOURCE_CODES
from orchestration.defs.jobs import NIGHTLY_TAG, ingestion_job

NIGHTLY_CRON = "0 2 * * *"
TIMEZONE = "Europe/Paris"


@schedule(
    name="nightly_schedule",
    job=ingestion_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Chaque nuit à 2 h : une exécution d'intégration par source ; la construction et la "
        "publication suivent quand toutes sont terminées (nightly_build_sensor)."
    ),
)
def nightly_schedule(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
    night = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()
    for source in SOURCE_CODES:
        yield RunRequest(
            run_key=f"nightly-{night}-{source}",
            partition_key=source,
            tags={NIGHTLY_TAG: night},
        )
