"""The dbt project as assets: staging, intermediate, marts and reference tables of the warehouse.

The manifest is prepared ahead of time (`python -m orchestration.prepare`; `dagster dev` refreshes
it through `prepare_if_dev`), never parsed at import. Every dbt source `raw_<source>.<entity>` is
the ingestion asset `lake/landed_extracts` (whose partition `<source>` lands it), so lineage runs
from the extracts to each published table; models reading the lake also wait for
`lake/objections_applied`. The dependency covers all partitions: a multi-asset has one input per
upstream asset, so Dagster refuses a different partition mapping per model.

dbt tests become asset checks; error-severity tests are blocking: `dbt build` skips what is
downstream of a failed test and the step then fails, so publication never runs on a warehouse
that failed a test.
"""

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.defs.ingestion import LANDED_EXTRACTS, OBJECTIONS_APPLIED, SOURCE_CODES
from orchestration.defs.resources import TRANSIENT_RETRY, WAREHOUSE_POOL, WarehouseDuckDB
from orchestration.prepare import manifest_is_current
from orchestration.project import dbt_project
from spifeb import settings
from spifeb.pipeline import exclusive_warehouse

SOURCE_PREFIX = "raw_"
MARTS_GROUP = "marts"
# Errors a later attempt may not meet again (another process holding the DuckDB file).
TRANSIENT_MARKERS = ("could not set lock", "conflicting lock", "resource temporarily unavailable")


def source_code(dbt_source_name: str) -> str | None:
    """`raw_cd29` -> `cd29` (None for a dbt source that is not a collectivity's raw layer)."""
    code = dbt_source_name.removeprefix(SOURCE_PREFIX)
    return code if dbt_source_name.startswith(SOURCE_PREFIX) and code in SOURCE_CODES else None


class SpifebDbtTranslator(DagsterDbtTranslator):
    """dbt nodes -> asset keys `<schema>/<name>` (as analysts query them), grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if source_code(dbt_resource_props["source_name"]):
                return LANDED_EXTRACTS
            return super().get_asset_key(dbt_resource_props)
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["schema"]  # staging, intermediate, marts, reference

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if LANDED_EXTRACTS in {dep.asset_key for dep in spec.deps}:
            # A model reading the lake waits for the erasures of the persons who objected.
            spec = spec.merge_attributes(deps=[AssetDep(OBJECTIONS_APPLIED)])
        return spec


TRANSLATOR = SpifebDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True,  # dbt tests as asset checks (error severity -> blocking)
        enable_duplicate_source_asset_keys=True,  # every raw_<source>.<entity> -> one asset
    )
)

dbt_project.prepare_if_dev()  # under `dagster dev` only: re-parse so edits show up
if not dbt_project.manifest_path.is_file():
    raise FileNotFoundError(
        f"No dbt manifest at {dbt_project.manifest_path}: "
        "run `uv run python -m orchestration.prepare` (or `make setup`) first."
    )


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the dbt child process started inside the block."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def failed_nodes(invocation: DbtCliInvocation) -> list[dict[str, str]]:
    """dbt nodes that errored or failed, from run_results.json (none when dbt wrote none)."""
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except (OSError, ValueError, KeyError):  # dbt stopped before writing it
        return []
    return [
        {"node": r["unique_id"], "status": r["status"], "message": (r.get("message") or "")[:500]}
        for r in results
        if r["status"] in ("error", "fail", "runtime error")
    ]


def build_failure(invocation: DbtCliInvocation) -> Exception:
    """The error that ends a failed `dbt build`: retried only when it may be transient (the
    warehouse file locked by another process, dbt killed); a failed test or a SQL or compilation
    error fails again, so it is not retried."""
    failed = failed_nodes(invocation)
    error = invocation.get_error()
    summary = (getattr(error, "description", None) or str(error or "")).strip()
    text = " ".join([summary, *(n["message"] for n in failed)]).lower()
    returncode = invocation.process.returncode
    if returncode is None or returncode < 0 or any(m in text for m in TRANSIENT_MARKERS):
        return RuntimeError(f"dbt build interrompu (erreur transitoire probable) :\n{summary}")
    lines = [f"- {n['node']} ({n['status']}) : {n['message']}" for n in failed] or [summary]
    return Failure(
        description="dbt build en échec ; rien n'est publié :\n" + "\n".join(lines),
        metadata={"failed_nodes": [n["node"] for n in failed]},
        allow_retries=False,
    )


def _stop(invocation: DbtCliInvocation) -> None:
    """End the dbt child process: an orphan would keep the warehouse file locked."""
    process = invocation.process
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    name="spifeb_dbt",
    pool=WAREHOUSE_POOL,
    retry_policy=TRANSIENT_RETRY,
)
def spifeb_dbt(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseDuckDB):
    """`dbt build` (models, seeds, tests, unit tests) on the warehouse file, reading the lake."""
    if not manifest_is_current():
        context.log.warning(
            "Le manifeste dbt est plus ancien que le projet dbt : relancer "
            "`python -m orchestration.prepare` puis recharger la code location."
        )
    database = warehouse.database()
    database.parent.mkdir(parents=True, exist_ok=True)
    paths = {"SPIFEB_LAKE_DIR": str(settings.lake_dir()), "SPIFEB_WAREHOUSE": str(database)}
    # The pool keeps Dagster's writers apart; the file lock also keeps out a `spifeb run` from cron.
    with exclusive_warehouse(database, wait_seconds=WAIT_FOR_WRITER_SECONDS):
        with _environment(paths):  # read by dbt_project/profiles.yml and the sources
            invocation = dbt.cli(["build", "--full-refresh"], context=context, raise_on_error=False)
        try:
            yield from invocation.stream()
        except BaseException:
            _stop(invocation)
            raise
    if not invocation.is_successful():
        raise build_failure(invocation)


WAIT_FOR_WRITER_SECONDS = 3600

MARTS = sorted((key for key in spifeb_dbt.keys if key.path[0] == MARTS_GROUP), key=lambda k: k.path)
