"""The Dagster code location: definitions, asset graph snapshot, sensors, schedule, materialisations.

The dbt manifest is prepared once if missing (`orchestration.prepare`); the code location is
imported only afterwards. Set SPIFEB_UPDATE_SNAPSHOTS=1 to (re)write tests/snapshots/asset_graph.json
after an intended change of the graph (a new dbt model, test, job, schedule or sensor).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from ingestion.land import ingest
from spifeb.synthetic.generate import SynthOptions, generate

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
UPDATE_SNAPSHOTS = "SPIFEB_UPDATE_SNAPSHOTS"
NIGHT = "2024-03-05"


@pytest.fixture(scope="session")
def defs():
    from orchestration.prepare import prepare_manifest
    from orchestration.project import dbt_project

    if not dbt_project.manifest_path.is_file():
        prepare_manifest()
    from orchestration.definitions import defs

    return defs


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """SPIFEB_DATA_DIR on a small synthetic landing zone (one extract per source, not landed)."""
    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    generate(SynthOptions(persons=200, start=dt.date(2024, 1, 1), months=2, seed=5,
                          out=tmp_path / "landing", truth=tmp_path / "truth", extracts=1))  # fmt: skip
    return tmp_path


def _extract_folder(data_dir: Path, source: str) -> Path:
    """The generated extract of a source (the earliest folder)."""
    return min(p for p in (data_dir / "landing" / source).iterdir() if p.is_dir())


# --- Definitions ---------------------------------------------------------------------------------


def test_definitions_load(defs):
    from dagster import Definitions

    Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingestion_job").partitions_def is not None
    assert defs.resolve_job_def("nightly_job").partitions_def is not None
    assert defs.resolve_job_def("warehouse_job").partitions_def is None


def graph_snapshot(defs) -> dict:
    graph = defs.resolve_asset_graph()
    return {
        "assets": {
            key.to_user_string(): graph.get(key).group_name
            for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.path)
        },
        "asset_checks": sorted(
            f"{check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys
        ),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone}
            for s in sorted(defs.schedules, key=lambda s: s.name)
        },
        "sensors": sorted(s.name for s in defs.sensors),
    }


def test_asset_graph_snapshot(defs):
    current = json.dumps(graph_snapshot(defs), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get(UPDATE_SNAPSHOTS) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    if not SNAPSHOT.exists():
        pytest.fail(f"{SNAPSHOT} is missing: run with {UPDATE_SNAPSHOTS}=1 to write it")
    expected = SNAPSHOT.read_text(encoding="utf-8")
    if current != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                current.splitlines(keepends=True),
                fromfile="tests/snapshots/asset_graph.json",
                tofile="current asset graph",
            )
        )
        pytest.fail(
            f"The asset graph changed (rerun with {UPDATE_SNAPSHOTS}=1 if intended):\n{diff}"
        )


def test_lineage_runs_from_extracts_to_publication(defs):
    from orchestration.defs.ingestion import LANDED_EXTRACTS, OBJECTIONS_APPLIED
    from orchestration.defs.publication import PUBLISHED_WAREHOUSE

    graph = defs.resolve_asset_graph()
    staging = [k for k in graph.get_all_asset_keys() if k.path[0] == "staging"]
    assert staging
    for key in staging:
        assert {LANDED_EXTRACTS, OBJECTIONS_APPLIED} <= set(graph.get(key).parent_keys), key
    marts = {k for k in graph.get_all_asset_keys() if k.path[0] == "marts"}
    assert marts and set(graph.get(PUBLISHED_WAREHOUSE).parent_keys) == marts
    reached, frontier = set(), [LANDED_EXTRACTS]  # from the extracts down to the publication
    while frontier:
        key = frontier.pop()
        reached.add(key)
        frontier += [child for child in graph.get(key).child_keys if child not in reached]
    assert marts | {PUBLISHED_WAREHOUSE} <= reached
    assert graph.get(AssetKey(["staging", "stg_cd29__brsa"])).group_name == "staging"


def test_dbt_tests_are_blocking_checks(defs):
    from orchestration.defs.warehouse import spifeb_dbt

    specs = list(spifeb_dbt.check_specs)
    assert len(specs) > 50
    assert all(spec.blocking for spec in specs)  # every dbt test of the project is `error`


def test_writers_share_pools_and_retry(defs):
    from dagster import Backoff

    from orchestration.defs.ingestion import landed_extracts, objections_applied
    from orchestration.defs.publication import published_warehouse
    from orchestration.defs.resources import LAKE_POOL, WAREHOUSE_POOL
    from orchestration.defs.warehouse import spifeb_dbt

    assert spifeb_dbt.op.pool == published_warehouse.op.pool == WAREHOUSE_POOL
    assert landed_extracts.op.pool == objections_applied.op.pool == LAKE_POOL
    for assets_def in (landed_extracts, spifeb_dbt):
        assert assets_def.op.retry_policy.backoff == Backoff.EXPONENTIAL


def test_instance_limits_each_pool_to_one():
    import yaml

    config = yaml.safe_load(
        (Path(__file__).parents[1] / "orchestration/dagster_home/dagster.yaml").read_text()
    )
    assert config["concurrency"]["pools"]["default_limit"] == 1


# --- Schedule and sensors ------------------------------------------------------------------------


def test_nightly_schedule_requests_one_run_over_every_source(defs):
    from orchestration.defs.ingestion import SOURCE_CODES
    from orchestration.defs.jobs import NIGHTLY_TAG

    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Europe/Paris")
    assert schedule.job_name == "nightly_job"
    when = dt.datetime(2024, 3, 5, 2, 0, tzinfo=ZoneInfo("Europe/Paris"))
    [request] = schedule.evaluate_tick(
        build_schedule_context(
            scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
    ).run_requests
    assert request.tags[NIGHTLY_TAG] == NIGHT and request.run_key == f"nightly-{NIGHT}"
    job = defs.resolve_job_def("nightly_job")
    first, last = (request.tags[f"dagster/asset_partition_range_{end}"] for end in ("start", "end"))
    keys = job.partitions_def.get_partition_keys()
    assert keys[keys.index(first) : keys.index(last) + 1] == SOURCE_CODES  # the seven, one run


def test_landing_sensor_one_run_per_new_complete_extract(defs, data_dir):
    from orchestration.defs.ingestion import SOURCE_CODES
    from orchestration.defs.sensors import EXTRACT_TAG

    incomplete = data_dir / "landing" / "cd29" / "2099-01-31"
    incomplete.mkdir()
    (incomplete / "brsa.tsv").write_text("en cours de dépôt\n", encoding="utf-8")
    sensor = defs.resolve_sensor_def("landing_sensor")
    with instance_for_test() as instance:

        def tick():
            return sensor.evaluate_tick(
                build_sensor_context(instance=instance, repository_def=defs.get_repository_def())
            )

        requests = tick().run_requests
        assert sorted(r.partition_key for r in requests) == SOURCE_CODES  # one per extract
        assert all(r.tags[EXTRACT_TAG] != incomplete.name for r in requests)  # no manifest
        folder = _extract_folder(data_dir, "cd29")
        [cd29] = [r for r in requests if r.partition_key == "cd29"]
        assert cd29.run_key.startswith(f"cd29:{folder.name}:")
        assert [r.run_key for r in tick().run_requests] == [r.run_key for r in requests]

        assert not ingest(data_dir / "landing", data_dir / "lake").refused
        landed = tick()
        assert not landed.run_requests and landed.skip_message  # nothing after landing

        (incomplete / "manifest.json").write_text("{}", encoding="utf-8")  # now complete
        [request] = tick().run_requests
        assert (request.partition_key, request.tags[EXTRACT_TAG]) == ("cd29", incomplete.name)


def test_objections_sensor_on_new_files(defs, data_dir):
    sensor = defs.resolve_sensor_def("objections_sensor")
    folder = data_dir / "landing" / "_oppositions"
    folder.mkdir()
    with instance_for_test() as instance:

        def tick(cursor):
            return sensor.evaluate_tick(
                build_sensor_context(
                    instance=instance, cursor=cursor, repository_def=defs.get_repository_def()
                )
            )

        empty = tick(None)
        assert not empty.run_requests
        (folder / "2024-03-01.csv").write_text("pseudo_nir,pseudo_ec,date_opposition\n")
        first = tick(empty.cursor)
        assert len(first.run_requests) == 1
        assert not tick(first.cursor).run_requests  # seen
        (folder / "2024-03-08.csv").write_text("pseudo_nir,pseudo_ec,date_opposition\n")
        second = tick(first.cursor)
        assert len(second.run_requests) == 1
        assert second.run_requests[0].run_key != first.run_requests[0].run_key


# --- Materialisations ----------------------------------------------------------------------------


def _materialization(result, key: AssetKey):
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_ingestion_partitions_land_and_a_refusal_fails_only_its_source(defs, data_dir):
    from orchestration.defs.ingestion import LANDED_EXTRACTS, landed_extracts

    for source in ("cd29", "bmo"):
        result = materialize([landed_extracts], partition_key=source)
        assert result.success
        metadata = _materialization(result, LANDED_EXTRACTS)
        assert metadata["extracts_landed"] == 1 and metadata["extracts_refused"] == 0
        assert metadata["rows_read"] == metadata["rows_landed"] + metadata["rows_quarantined"] + (
            metadata["rows_superseded"] + metadata["rows_opposed"]
        )
        date = _extract_folder(data_dir, source).name
        assert list((data_dir / "lake" / "raw" / source).glob(f"*/extract_date={date}/*.parquet"))

    damaged = next(p for p in _extract_folder(data_dir, "cd22").iterdir() if p.suffix == ".csv")
    with damaged.open("ab") as file:
        file.write(b"ligne ajoutee apres le manifeste\r\n")
    failed = materialize([landed_extracts], partition_key="cd22", raise_on_error=False)
    assert not failed.success
    [failure] = failed.get_step_failure_events()  # one attempt: a refusal is not retried
    assert "refusé" in failure.step_failure_data.error.message
    assert not list((data_dir / "lake" / "raw" / "cd22").glob("*/extract_date=*"))
    assert list((data_dir / "lake" / "raw" / "cd29").glob("*/extract_date=*"))  # untouched


def test_the_nightly_run_lands_every_source_and_publishes_despite_a_refusal(defs, tmp_path,
                                                                            monkeypatch):  # fmt: skip
    """One run over the seven partitions: a refused extract fails its check, not the run; the
    build and publication go on with what landed (the source's previous extract)."""
    from orchestration.defs.ingestion import LANDED_EXTRACTS, NO_REFUSED_EXTRACT, SOURCE_CODES
    from orchestration.defs.schedules import nightly_run_request

    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    generate(SynthOptions(persons=200, start=dt.date(2024, 1, 1), months=3, seed=5,
                          out=tmp_path / "landing", truth=tmp_path / "truth", extracts=2))  # fmt: skip
    newest = max(p for p in (tmp_path / "landing" / "cd22").iterdir() if p.is_dir())
    with next(p for p in newest.iterdir() if p.suffix == ".csv").open("ab") as file:
        file.write(b"ligne ajoutee apres le manifeste\r\n")
    request = nightly_run_request(dt.date.fromisoformat(NIGHT))
    with instance_for_test() as instance:
        result = defs.resolve_job_def("nightly_job").execute_in_process(
            tags=request.tags, instance=instance, raise_on_error=False
        )
    assert result.success
    landed = {e.partition for e in result.get_asset_materialization_events()
              if e.asset_key == LANDED_EXTRACTS}  # fmt: skip
    assert landed == set(SOURCE_CODES)
    [refusal] = [c for c in result.get_asset_check_evaluations()
                 if c.asset_check_key.name == NO_REFUSED_EXTRACT]  # fmt: skip
    assert not refusal.passed and refusal.metadata["sources_refusees"].value == "cd22"
    current = tmp_path / "published" / "current"
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    dates = {e["source"]: e["date_extraction"] for e in manifest["extraits"]}
    assert set(dates) == set(SOURCE_CODES)
    assert dates["cd22"] < newest.name == dates["cd29"]  # the previous extract of cd22


def test_objections_asset_erases_from_the_lake(defs, data_dir):
    from orchestration.defs.ingestion import OBJECTIONS_APPLIED, objections_applied

    assert not ingest(data_dir / "landing", data_dir / "lake").refused
    raw = data_dir / "lake" / "raw" / "cd29" / "brsa"
    pseudo = pl.read_parquet(raw / "extract_date=*" / "data.parquet")["pseudo_nir"].drop_nulls()[0]
    folder = data_dir / "landing" / "_oppositions"
    folder.mkdir()
    (folder / "2024-03-01.csv").write_text(
        f"pseudo_nir,pseudo_ec,date_opposition\n{pseudo},,2024-03-01\n", encoding="utf-8"
    )
    result = materialize([objections_applied])
    assert _materialization(result, OBJECTIONS_APPLIED)["rows_erased"] > 0
    assert pseudo not in pl.read_parquet(raw / "extract_date=*" / "data.parquet")["pseudo_nir"]


def test_dbt_assets_build_staging_from_the_lake(defs, data_dir):
    from orchestration.defs.ingestion import landed_extracts
    from orchestration.defs.resources import resources
    from orchestration.defs.warehouse import spifeb_dbt

    assert materialize([landed_extracts], partition_key="cd29").success
    model = AssetKey(["staging", "stg_cd29__brsa"])
    result = materialize([spifeb_dbt], selection=[model], resources=resources())
    assert result.success
    assert model in {e.asset_key for e in result.get_asset_materialization_events()}
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    with duckdb.connect(str(data_dir / "warehouse" / "spifeb.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from staging.stg_cd29__brsa").fetchone()[0] > 0


def test_dbt_failures_are_retried_only_when_transient():
    from dagster import Failure

    from orchestration.defs.warehouse import build_failure

    class Invocation:
        def __init__(self, results, returncode=1, error="dbt failed"):
            self.results, self.error = results, error
            self.process = SimpleNamespace(returncode=returncode)

        def get_artifact(self, name):
            if self.results is None:
                raise FileNotFoundError(name)
            return {"results": self.results}

        def get_error(self):
            return Exception(self.error)

    failed_test = {"unique_id": "test.spifeb.unique_x", "status": "fail", "message": "Got 3"}
    locked = {"unique_id": "model.spifeb.m", "status": "error",
              "message": "IO Error: Could not set lock on file"}  # fmt: skip
    error = build_failure(Invocation([failed_test]))
    assert isinstance(error, Failure) and not error.allow_retries
    assert "test.spifeb.unique_x" in error.description
    assert not isinstance(build_failure(Invocation([locked])), Failure)
    assert not isinstance(build_failure(Invocation(None, returncode=-9)), Failure)  # killed
    compilation = build_failure(Invocation(None, returncode=2, error="Compilation Error in x"))
    assert isinstance(compilation, Failure) and "Compilation Error" in compilation.description


def test_publication_asset_fails_with_the_failed_checks(defs, data_dir, monkeypatch):
    import publication
    from orchestration.defs.publication import PUBLISHED_WAREHOUSE, published_warehouse
    from orchestration.defs.resources import WarehouseDuckDB
    from publication.gate import CheckResult

    calls = []

    def blocked(warehouse, lake, published_root, keep=5):
        calls.append((warehouse, lake, published_root))
        checks = [CheckResult("sources_recentes", False, True, "cd29 : dernier extrait ancien"),
                  CheckResult("volumes", True, True)]  # fmt: skip
        return publication.PublicationResult(False, "20240305T020000Z-ab12", None, checks)

    monkeypatch.setattr(publication, "gate_and_publish", blocked)
    resources = {"warehouse": WarehouseDuckDB()}
    result = materialize([published_warehouse], resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "sources_recentes" in failure.step_failure_data.error.message
    assert "volumes" not in failure.step_failure_data.error.message
    assert calls == [(data_dir / "warehouse" / "spifeb.duckdb", data_dir / "lake",
                      data_dir / "published")]  # fmt: skip

    def published(warehouse, lake, published_root, keep=5):
        return publication.PublicationResult(True, "20240305T020000Z-ab12", published_root / "x")

    monkeypatch.setattr(publication, "gate_and_publish", published)
    result = materialize([published_warehouse], resources=resources)
    assert _materialization(result, PUBLISHED_WAREHOUSE)["publication_id"] == (
        "20240305T020000Z-ab12"
    )


# --- Freshness -----------------------------------------------------------------------------------


def test_freshness_warns_after_45_days():
    from ingestion.lake import LOAD_LOG_SCHEMA
    from orchestration.defs.checks import freshness_result

    log = pl.DataFrame(
        {
            "source": ["cd29", "cd29"],
            "status": ["landed", "refused"],
            "extract_date": [dt.date(2024, 1, 31), dt.date(2024, 2, 29)],
        },
    ).cast({"extract_date": LOAD_LOG_SCHEMA["extract_date"]})
    fresh = freshness_result(log, "cd29", dt.date(2024, 3, 16))  # 45 days
    assert fresh.passed
    stale = freshness_result(log, "cd29", dt.date(2024, 3, 17))
    assert not stale.passed and stale.severity == AssetCheckSeverity.WARN
    assert stale.metadata["latest_refused_extract"].value == "2024-02-29"
    never = freshness_result(log, "bmo", dt.date(2024, 3, 1))
    assert not never.passed and never.severity == AssetCheckSeverity.WARN


def test_dagster_definitions_validate(tmp_path):
    """What `make check` runs: Dagster's own validation of the code location."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "orchestration.definitions"],
        env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stderr + result.stdout
