"""Publication: the quality gate, then the atomic switch of `published/current` (publication/).

Analysts read only the published copy, so they keep reading while a run rebuilds the warehouse.
A blocked gate fails the run with the failed checks listed; `current` stays as it was. Not
retried: the gate would block again, and a crash leaves `current` untouched until the next run.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

import publication
from orchestration.defs.resources import WAREHOUSE_POOL, WarehouseDuckDB
from orchestration.defs.warehouse import MARTS
from spifeb import settings
from spifeb.pipeline import exclusive_warehouse

PUBLISHED_WAREHOUSE = AssetKey(["published", "warehouse"])
KEEP = 5  # publications kept for rollback


def published_root():
    return settings.data_dir() / "published"


def _checks_table(result) -> str:
    rows = ["| contrôle | réussi | bloquant | détail |", "|---|---|---|---|"]
    rows += [
        f"| {c.name} | {'oui' if c.success else 'non'} | {'oui' if c.blocking else 'non'} "
        f"| {c.detail} |"
        for c in result.checks
    ]
    return "\n".join(rows)


@asset(
    key=PUBLISHED_WAREHOUSE,
    deps=MARTS,
    group_name="publication",
    pool=WAREHOUSE_POOL,  # reads the warehouse file: never while dbt writes it
    kinds={"duckdb"},
    description=(
        "Entrepôt publié (published/current) : copie auditée des marts et référentiels, exports, "
        "rapport qualité. Publié seulement si tous les contrôles bloquants passent."
    ),
)
def published_warehouse(context: AssetExecutionContext, warehouse: WarehouseDuckDB):
    with exclusive_warehouse(warehouse.database(), wait_seconds=3600):
        result = publication.gate_and_publish(
            warehouse.database(), settings.lake_dir(), published_root(), keep=KEEP
        )
    checks = MetadataValue.md(_checks_table(result))
    if not result.published:
        failed = result.failed_checks
        raise Failure(
            description="Publication bloquée par le contrôle qualité ; `current` est inchangé :\n"
            + "\n".join(f"- {c.name} : {c.detail}" for c in failed),
            metadata={
                "publication_id": result.publication_id or "",
                "failed_checks": [c.name for c in failed],
                "checks": checks,
            },
            allow_retries=False,  # the same warehouse would be blocked again
        )
    context.log.info(f"Publication {result.publication_id} : {result.path}")
    return MaterializeResult(
        metadata={
            "publication_id": result.publication_id,
            "path": MetadataValue.path(str(result.path)),
            "checks": checks,
        }
    )
