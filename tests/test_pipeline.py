"""The in-process nightly job: one writer at a time, and the CLI around it."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from typer.testing import CliRunner

from spifeb.cli import app
from spifeb.pipeline import WarehouseBusy, exclusive_warehouse
from tests.spec.inventory import SOURCES


def _hold(path, seconds, ready):
    with exclusive_warehouse(path):
        ready.set()
        time.sleep(seconds)


def test_a_second_writer_fails_cleanly_or_waits(tmp_path):
    warehouse = tmp_path / "warehouse" / "spifeb.duckdb"
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(warehouse, 2.0, ready))
    holder.start()
    assert ready.wait(10)
    with pytest.raises(WarehouseBusy, match="autre traitement"), exclusive_warehouse(warehouse):
        pass
    started = time.monotonic()
    with exclusive_warehouse(warehouse, wait_seconds=30):
        waited = time.monotonic() - started
    holder.join()
    assert 0.5 < waited < 30


def test_run_refuses_cleanly_when_the_warehouse_is_busy(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(
        target=_hold, args=(tmp_path / "warehouse" / "spifeb.duckdb", 3.0, ready)
    )
    holder.start()
    assert ready.wait(10)
    result = CliRunner().invoke(app, ["run"])
    holder.join()
    assert result.exit_code == 2
    assert "autre traitement" in result.output
    assert "Traceback" not in result.output


def test_status_and_rollback_without_publication(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    status = CliRunner().invoke(app, ["status"])
    assert status.exit_code == 0 and "Aucune publication" in status.output
    rollback = CliRunner().invoke(app, ["rollback"])
    assert rollback.exit_code == 2 and "aucune publication" in rollback.output


def test_run_on_an_empty_landing_zone_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "aucun extrait intégré" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "published").exists()


def test_the_nightly_job_runs_end_to_end_and_publishes(tmp_path, monkeypatch):
    import datetime as dt
    import json

    from spifeb.pipeline import run_pipeline
    from spifeb.synthetic.generate import SynthOptions, generate

    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    generate(SynthOptions(persons=500, start=dt.date(2022, 1, 1), months=6, seed=4,
                          out=tmp_path / "landing", truth=tmp_path / "truth", extracts=1))  # fmt: skip
    stages = []
    result = run_pipeline(progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert stages[-2:] == [("Contrôle qualité et publication", 0, 0),
                           ("Contrôle qualité et publication", 1, 1)]  # fmt: skip
    ingest_steps = [(d, t) for s, d, t in stages if s == "Intégration des extraits"]
    assert ingest_steps == [(i + 1, 7) for i in range(7)]  # one extract per source
    build_steps = [(d, t) for s, d, t in stages if s.startswith("Construction")]
    assert max(build_steps)[0] == build_steps[0][1] > 100  # every dbt node reported
    assert result.build_ok, result.build_log[-3000:]
    assert result.publication.published, [
        (c.name, c.detail) for c in result.publication.failed_checks
    ]
    current = tmp_path / "published" / "current"
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert {e["source"] for e in manifest["extraits"]} == set(SOURCES)
    for mart in (
        "grille_indicateurs",
        "rsa_indicateurs",
        "cohortes_agregees",
        "survie_km",
        "fse_synthese",
    ):
        assert f"marts.{mart}" in manifest["lignes"]
        assert (current / "exports" / f"{mart}.parquet").exists()
    status = CliRunner().invoke(app, ["status"])
    assert status.exit_code == 0 and manifest["id_publication"] in status.output
