"""The in-process nightly job: one writer at a time, and the CLI around it."""

from __future__ import annotations

import multiprocessing
import time

import pytest
from typer.testing import CliRunner

from spifeb.cli import app
from spifeb.pipeline import WarehouseBusy, exclusive_warehouse


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
