"""Two jobs, chained each night by `nightly_build_sensor`.

- `ingestion_job`, partitioned by source: one run lands one source's pending extracts. Started by
  the landing sensor for a new extract, and by the nightly schedule for every source.
- `warehouse_job`, not partitioned: apply objections, `dbt build` (dbt tests as blocking asset
  checks), the freshness checks, then publication. Started once the night's ingestion runs have all
  finished, and by the objections sensor (an erasure must reach the published copy).

Why two: in one run a failed step skips everything downstream of it, so a refused extract of one
source would stop the build of all; and a run has one partition key. Separate runs keep the
failure of a source to its own partition while the warehouse is still rebuilt with what landed.

Both jobs run their steps in the run's own process: the steps are sequential anyway (one pool
slot), and a process per step cost about 6 s of imports each (measured: orchestration overhead
of +280 % at 100,000 persons with the default multiprocess executor).
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

from orchestration.defs.checks import FRESHNESS_CHECKS
from orchestration.defs.ingestion import landed_extracts, objections_applied
from orchestration.defs.publication import published_warehouse
from orchestration.defs.warehouse import spifeb_dbt

NIGHTLY_TAG = "spifeb/nightly"  # the night (YYYY-MM-DD, Europe/Paris) a run belongs to

ingestion_job = define_asset_job(
    name="ingestion_job",
    selection=AssetSelection.assets(landed_extracts).without_checks(),  # partitioned by source
    description="Intègre les extraits complets en attente d'une source (une partition).",
    executor_def=in_process_executor,
)

warehouse_job = define_asset_job(
    name="warehouse_job",
    selection=(
        AssetSelection.assets(objections_applied, spifeb_dbt, published_warehouse)
        | AssetSelection.checks(*FRESHNESS_CHECKS)
    ),
    description=(
        "Applique les oppositions, construit l'entrepôt (dbt build et ses tests), vérifie la "
        "fraîcheur des sources, puis publie si le contrôle qualité passe."
    ),
    executor_def=in_process_executor,
)
