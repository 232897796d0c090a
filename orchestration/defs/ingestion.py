"""Ingestion assets: the collectivities' extracts landed in the lake, and the objections applied.

`lake/landed_extracts` is partitioned by source (the seven codes of the data contracts): one
partition lands every pending complete extract of its source, oldest first, and fails when one of
them was refused, so that a failed source never stops another (each source is its own run).
`lake/objections_applied` erases from the lake everything about the persons who objected; it runs
before every warehouse build.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    StaticPartitionsDefinition,
    asset,
)

from data_contracts import load_catalog
from ingestion import lake as lk
from ingestion.land import ExtractReport, ensure_anchors, land_source
from ingestion.oppositions import erase, opposed_pseudonyms, read_oppositions
from ingestion.reports import refusal_text
from orchestration.defs.resources import LAKE_POOL, TRANSIENT_RETRY
from spifeb import settings

SOURCE_CODES: list[str] = sorted(load_catalog().sources)
SOURCES = StaticPartitionsDefinition(SOURCE_CODES)

LANDED_EXTRACTS = AssetKey(["lake", "landed_extracts"])
OBJECTIONS_APPLIED = AssetKey(["lake", "objections_applied"])
GROUP = "ingestion"


def landing_metadata(reports: list[ExtractReport], rolled_back: list[str]) -> dict[str, object]:
    """Counts of one partition's landing (never a value of a row)."""
    landed = [r for r in reports if r.status == "landed"]
    files = [f for r in landed for f in r.files]
    return {
        "extracts_landed": len(landed),
        "extracts_refused": sum(r.status == "refused" for r in reports),
        "extracts_already_landed": sum(r.status == "already_landed" for r in reports),
        "extract_dates": MetadataValue.json(
            [{"date": r.extract_date.isoformat(), "status": r.status} for r in reports]
        ),
        "rows_read": sum(f.rows_read for f in files),
        "rows_landed": sum(f.rows_landed for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
        "rows_superseded": sum(f.rows_superseded for f in files),
        "rows_opposed": sum(f.rows_opposed for f in files),
        "loads_rolled_back": len(rolled_back),
    }


@asset(
    key=LANDED_EXTRACTS,
    partitions_def=SOURCES,
    group_name=GROUP,
    pool=LAKE_POOL,
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "parquet"},
    description=(
        "Extraits d'une collectivité intégrés au lac (raw, quarantaine, remplacés), une partition "
        "par source. Un extrait refusé fait échouer la partition, pas les autres sources."
    ),
)
def landed_extracts(context: AssetExecutionContext) -> MaterializeResult:
    source = context.partition_key
    lake = lk.Lake(settings.lake_dir())
    rolled_back = lk.recover(lake)  # safe: lake writers are one at a time (LAKE_POOL)
    ensure_anchors(lake, load_catalog())  # every raw entity readable by dbt, landed or not
    reports = land_source(source, settings.landing_dir(), lake)
    metadata = landing_metadata(reports, rolled_back)
    refused = [r for r in reports if r.status == "refused"]
    if refused:
        context.log.error(f"{source}: {len(refused)} extrait(s) refusé(s)")
        raise Failure(
            description="\n".join(refusal_text(r) for r in refused),
            metadata=metadata,
            allow_retries=False,  # the same files would be refused again
        )
    return MaterializeResult(metadata=metadata)


@asset(
    key=OBJECTIONS_APPLIED,
    deps=[LANDED_EXTRACTS],
    group_name=GROUP,
    pool=LAKE_POOL,
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "parquet"},
    description=(
        "Droit d'opposition : tout ce qui concerne une personne opposée (landing/_oppositions/*.csv) "
        "est effacé du lac, historique compris ; journalisé en nombres seulement."
    ),
)
def objections_applied(context: AssetExecutionContext) -> MaterializeResult:
    lake = lk.Lake(settings.lake_dir())
    rolled_back = lk.recover(lake)
    ensure_anchors(lake, load_catalog())
    objections = read_oppositions(settings.landing_dir())
    opposed = opposed_pseudonyms(objections, lake)
    erased = erase(lake, opposed)
    return MaterializeResult(
        metadata={
            "objections": objections.height,
            "pseudonyms_opposed": len(opposed),
            "files_rewritten": len(erased),
            "rows_erased": sum(e["rows_erased"] for e in erased),
            "loads_rolled_back": len(rolled_back),
        }
    )
