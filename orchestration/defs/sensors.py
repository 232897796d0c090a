"""Sensors: a new complete extract, new objection files, and the end of the night's ingestion."""

import datetime as dt
import hashlib
import json

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ingestion.lake import Lake, read_load_log
from ingestion.land import complete_folders, pending
from ingestion.manifest import folder_fingerprint
from ingestion.oppositions import OPPOSITIONS_DIR
from orchestration.defs.ingestion import SOURCE_CODES
from orchestration.defs.jobs import NIGHTLY_TAG, ingestion_job, warehouse_job
from spifeb import settings

PARTITION_TAG = "dagster/partition"
EXTRACT_TAG = "spifeb/extract_date"
INTERVAL = 60  # seconds between two evaluations of a sensor
NIGHTS_LOOKBACK = dt.timedelta(days=3)


@sensor(
    name="landing_sensor",
    job=ingestion_job,
    minimum_interval_seconds=INTERVAL,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Un extrait complet (manifeste présent) ni intégré ni refusé tel quel : une exécution "
        "d'intégration pour sa source."
    ),
)
def landing_sensor(context: SensorEvaluationContext):
    """One run per complete extract folder that the load log does not know as it is now.

    The run key (source, extract date, folder fingerprint) makes it one run per extract; a folder
    changed after a refusal has a new fingerprint and gets a new run. Incomplete folders (no
    manifest yet) are ignored until their manifest arrives.
    """
    landing = settings.landing_dir()
    log = read_load_log(Lake(settings.lake_dir()))
    requests = [
        RunRequest(
            run_key=f"{source}:{folder.name}:{folder_fingerprint(folder)[:16]}",
            partition_key=source,
            tags={EXTRACT_TAG: folder.name},
        )
        for source in SOURCE_CODES
        for folder in pending(complete_folders(landing, source), log)
    ]
    return requests or SkipReason("Aucun nouvel extrait complet.")


def objection_files_state() -> list[list]:
    folder = settings.landing_dir() / OPPOSITIONS_DIR
    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    return [[f.name, f.stat().st_mtime_ns] for f in files]


@sensor(
    name="objections_sensor",
    job=warehouse_job,
    minimum_interval_seconds=INTERVAL,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Un fichier d'oppositions nouveau ou modifié (landing/_oppositions/*.csv) : effacement, "
        "reconstruction et republication."
    ),
)
def objections_sensor(context: SensorEvaluationContext):
    """Cursor: the sorted (file name, modification time) list seen last time."""
    state = objection_files_state()
    seen = json.loads(context.cursor) if context.cursor else []
    new = [entry for entry in state if entry not in seen]
    cursor = json.dumps(state)
    if not new:
        return SensorResult(
            skip_reason=SkipReason("Aucun nouveau fichier d'oppositions."), cursor=cursor
        )
    key = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return SensorResult(
        run_requests=[
            RunRequest(run_key=f"objections-{key}", tags={"spifeb/trigger": "oppositions"})
        ],
        cursor=cursor,
    )


def nights_ready(runs, sources: list[str]) -> dict[str, list[str]]:
    """Nights whose ingestion runs all finished, one at least per source -> the failed sources."""
    by_night: dict[str, list] = {}
    for run in runs:
        if NIGHTLY_TAG in run.tags:
            by_night.setdefault(run.tags[NIGHTLY_TAG], []).append(run)
    ready = {}
    for night, night_runs in sorted(by_night.items()):
        covered = {run.tags.get(PARTITION_TAG) for run in night_runs}
        if set(sources) <= covered and all(run.is_finished for run in night_runs):
            latest = {}  # the latest run of each source decides (a re-execution may fix one)
            for run in sorted(night_runs, key=lambda r: r.run_id):
                latest[run.tags.get(PARTITION_TAG)] = run
            ready[night] = sorted(
                source for source, run in latest.items() if run.status != DagsterRunStatus.SUCCESS
            )
    return ready


@sensor(
    name="nightly_build_sensor",
    job=warehouse_job,
    minimum_interval_seconds=INTERVAL,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Quand toutes les intégrations de la nuit sont terminées (réussies ou non) : construction, "
        "contrôles et publication, une fois par nuit."
    ),
)
def nightly_build_sensor(context: SensorEvaluationContext):
    """Cursor: the last night built. A source that failed does not hold the build back: the
    warehouse is rebuilt with what landed, and the failed partition stays failed (and alerts)."""
    since = dt.datetime.now(dt.UTC) - NIGHTS_LOOKBACK
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=ingestion_job.name, created_after=since)
    )
    ready = {
        night: failed
        for night, failed in nights_ready(runs, SOURCE_CODES).items()
        if context.cursor is None or night > context.cursor
    }
    if not ready:
        return SkipReason("Pas de nuit d'intégration terminée à construire.")
    night = max(ready)  # older nights are superseded by this one's build
    tags = {NIGHTLY_TAG: night}
    if ready[night]:
        tags["spifeb/failed_sources"] = ",".join(ready[night])
    return SensorResult(
        run_requests=[RunRequest(run_key=f"nightly-build-{night}", tags=tags)], cursor=night
    )
