"""Ingestion assets: the collectivities' extracts landed in the lake, and the objections applied.

`lake/landed_extracts` is partitioned by source (the seven codes of the data contracts): each
partition lands every pending complete extract of its source, oldest first.
- A run of one source (the landing sensor's) fails when one of its extracts was refused.
- A run of several sources (the nightly run: all seven partitions in one step, single-run backfill
  policy) lands every source whatever happens to the others, then reports the refused ones on the
  `aucun_extrait_refuse` check (severity ERROR, not blocking) instead of failing: a failed source
  does not stop the build and publication, which use what has landed.
`lake/objections_applied` erases from the lake everything about the persons who objected; it runs
before every warehouse build.
"""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
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
NO_REFUSED_EXTRACT = "aucun_extrait_refuse"


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
    backfill_policy=BackfillPolicy.single_run(),  # the night's seven sources: one run, one step
    check_specs=[
        AssetCheckSpec(
            NO_REFUSED_EXTRACT,
            asset=LANDED_EXTRACTS,
            blocking=False,  # the build goes on with what landed; the refusal alerts
            description="Aucun extrait des sources intégrées n'a été refusé.",
        )
    ],
    group_name=GROUP,
    pool=LAKE_POOL,
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "parquet"},
    description=(
        "Extraits des collectivités intégrés au lac (raw, quarantaine, remplacés), une partition "
        "par source. Un extrait refusé fait échouer l'intégration d'une source seule ; "
        "l'intégration nocturne de toutes les sources continue et le signale sur le contrôle "
        f"{NO_REFUSED_EXTRACT}."
    ),
)
def landed_extracts(context: AssetExecutionContext) -> MaterializeResult:
    sources, landing, catalog = list(context.partition_keys), settings.landing_dir(), load_catalog()
    lake = lk.Lake(settings.lake_dir())
    rolled_back = lk.recover(lake)  # safe: lake writers are one at a time (LAKE_POOL)
    ensure_anchors(lake, catalog)  # every raw entity readable by dbt, landed or not
    # Read once for all the run's sources (each source only appends its own rows to the log).
    opposed, log = opposed_pseudonyms(read_oppositions(landing), lake), lk.read_load_log(lake)
    reports = [r for source in sources
               for r in land_source(source, landing, lake, opposed, catalog, log)]  # fmt: skip
    metadata = landing_metadata(reports, rolled_back)
    refused = [r for r in reports if r.status == "refused"]
    refused_sources = ", ".join(sorted({r.source for r in refused}))
    refused_text = "\n".join(refusal_text(r) for r in refused)
    if refused:
        context.log.error(f"extrait(s) refusé(s) : {refused_sources}")
    if refused and len(sources) == 1:
        raise Failure(
            description=refused_text,
            metadata=metadata,
            allow_retries=False,  # the same files would be refused again
        )
    check = AssetCheckResult(
        check_name=NO_REFUSED_EXTRACT,
        passed=not refused,
        severity=AssetCheckSeverity.ERROR,
        description=refused_text or None,
        metadata={"sources_refusees": refused_sources or "aucune"},
    )
    return MaterializeResult(metadata=metadata, check_results=[check])


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
