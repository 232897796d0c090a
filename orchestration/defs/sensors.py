"""Sensors: a new complete extract, new objection files."""

import hashlib
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
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
from orchestration.defs.jobs import ingestion_job, warehouse_job
from spifeb import settings

EXTRACT_TAG = "spifeb/extract_date"
INTERVAL = 60  # seconds between two evaluations of a sensor


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
