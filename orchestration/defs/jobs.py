"""Three jobs.

- `nightly_job`: the night's whole work in one run, started by the nightly schedule: every
  source's pending extracts (the seven partitions of `lake/landed_extracts` in one step), the
  objections, `dbt build` (dbt tests as blocking asset checks), the freshness checks, then
  publication. A refused extract fails the `aucun_extrait_refuse` check, not the step, so the
  build and publication go on with what landed.
- `ingestion_job`, partitioned by source: one run lands one source's pending extracts and fails
  when one is refused. Started by the landing sensor when a complete extract arrives.
- `warehouse_job`, not partitioned: objections, build, checks, publication without landing.
  Started by the objections sensor (an erasure must reach the published copy) or by hand.

One run a night rather than one per source: under the daemon each run is a new process paying
about 5 s of imports before its first step (8 runs, plus a sensor's polling delay between the
ingestion runs and the build, was the measured gap to the overhead target).

Every job runs its steps in the run's own process: the steps are sequential anyway (one pool
slot), and a process per step cost about 6 s of imports each (measured: orchestration overhead
of +280 % at 100,000 persons with the default multiprocess executor).
"""

from dagster import AssetCheckKey, AssetSelection, define_asset_job, in_process_executor

from orchestration.defs.checks import FRESHNESS_CHECKS
from orchestration.defs.ingestion import (
    LANDED_EXTRACTS,
    NO_REFUSED_EXTRACT,
    landed_extracts,
    objections_applied,
)
from orchestration.defs.publication import published_warehouse
from orchestration.defs.warehouse import spifeb_dbt

NIGHTLY_TAG = "spifeb/nightly"  # the night (YYYY-MM-DD, Europe/Paris) a run belongs to

WAREHOUSE_SELECTION = AssetSelection.assets(
    objections_applied, spifeb_dbt, published_warehouse
) | AssetSelection.checks(*FRESHNESS_CHECKS)

nightly_job = define_asset_job(
    name="nightly_job",
    selection=AssetSelection.assets(landed_extracts) | WAREHOUSE_SELECTION,
    description=(
        "La nuit : intègre les extraits en attente de toutes les sources, applique les "
        "oppositions, construit l'entrepôt, vérifie, puis publie si le contrôle qualité passe."
    ),
    executor_def=in_process_executor,
)

ingestion_job = define_asset_job(
    name="ingestion_job",
    selection=(  # partitioned by source; the freshness checks run with the build
        AssetSelection.assets(landed_extracts).without_checks()
        | AssetSelection.checks(AssetCheckKey(LANDED_EXTRACTS, NO_REFUSED_EXTRACT))
    ),
    description="Intègre les extraits complets en attente d'une source (une partition).",
    executor_def=in_process_executor,
)

warehouse_job = define_asset_job(
    name="warehouse_job",
    selection=WAREHOUSE_SELECTION,
    description=(
        "Applique les oppositions, construit l'entrepôt (dbt build et ses tests), vérifie la "
        "fraîcheur des sources, puis publie si le contrôle qualité passe."
    ),
    executor_def=in_process_executor,
)
