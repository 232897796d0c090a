"""Write, audit, publish: a publication appears whole or not at all, the gate blocks broken marts."""

from __future__ import annotations

import copy
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

import publication.confidentiality as confidentiality
import publication.gate as gate
from publication import gate_and_publish, rollback
from publication.publish import current_publication, publications
from tests.spec.inventory import SOURCES


@pytest.fixture
def workspace(built_warehouse, tmp_path) -> dict[str, Path]:
    """A private copy of the built warehouse and lake (tests may break them)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse / "warehouse.duckdb", warehouse)
    lake = tmp_path / "lake"
    shutil.copytree(built_warehouse / "lake", lake)
    return {"warehouse": warehouse, "lake": lake, "published": tmp_path / "published"}


def _with_rules(monkeypatch, edit) -> None:
    rules = copy.deepcopy(confidentiality.rules())
    edit(rules)
    monkeypatch.setattr(confidentiality, "rules", lambda: rules)
    monkeypatch.setattr(gate, "rules", lambda: rules)


def test_a_publication_holds_the_marts_exports_report_and_manifest(workspace):
    result = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert result.published, [(c.name, c.detail) for c in result.failed_checks]
    current = workspace["published"] / "current"
    assert current.is_symlink() and os.readlink(current) == result.publication_id
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    assert {e["source"] for e in manifest["extraits"]} == set(SOURCES)
    assert all(len(e["sha256"]) == 64 for e in manifest["extraits"])
    assert manifest["lignes"]["marts.rapport_rapprochement"] == 1
    assert all(c["success"] for c in manifest["controles"] if c["blocking"])
    with duckdb.connect(str(current / "spifeb.duckdb"), read_only=True) as connection:
        tables = {
            r[0]
            for r in connection.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    assert "rapport_rapprochement" in tables
    for name in manifest["fichiers"]:
        path = current / name
        assert path.exists(), name
        assert not os.access(path, os.W_OK) or os.geteuid() == 0
        assert oct(path.stat().st_mode)[-3:] == "444"
    assert "Contrôles qualité" in (current / "rapport_qualite.html").read_text(encoding="utf-8")


def test_a_publication_holds_the_load_history_and_its_counts_add_up(workspace):
    result = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    with duckdb.connect(str(result.path / "spifeb.duckdb"), read_only=True) as connection:
        history = connection.sql("select * from qualite.chargements").pl()
    assert set(history["source"]) == set(SOURCES)
    assert set(history["statut"]) <= {"intégré", "refusé"}
    landed = history.filter(history["statut"] == "intégré")
    parts = ["lignes_integrees", "lignes_quarantaine", "lignes_remplacees", "lignes_opposition"]
    assert (landed["lignes_lues"] == landed.select(parts).sum_horizontal()).all()
    assert result_rows(result, "qualite.chargements") == history.height


def result_rows(result, table: str) -> int:
    manifest = json.loads((result.path / "manifest.json").read_text(encoding="utf-8"))
    return manifest["lignes"][table]


def test_a_rate_above_one_blocks_and_keeps_the_current_publication(workspace, monkeypatch):
    first = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert first.published
    with duckdb.connect(str(workspace["warehouse"])) as connection:
        connection.execute(
            "create table marts.test_taux as select 0.5 as taux union all select 1.2"
        )
    _with_rules(
        monkeypatch, lambda r: r["gate"]["tables"].update({"marts.test_taux": {"ratios": ["taux"]}})
    )
    blocked = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert not blocked.published
    assert [c.name for c in blocked.failed_checks] == ["marts.test_taux"]
    assert current_publication(workspace["published"]) == first.publication_id
    assert publications(workspace["published"]) == [first.publication_id]
    alert = (workspace["published"] / "alerts.log").read_text(encoding="utf-8").splitlines()[-1]
    assert json.loads(alert)["controles_en_echec"] == ["marts.test_taux"]


def test_a_missing_source_blocks(workspace):
    for log in (workspace["lake"] / "load_log").glob("rmo-*.parquet"):
        log.unlink()
    result = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert not result.published
    assert [c.name for c in result.failed_checks] == ["sources présentes et récentes"]
    assert "rmo" in result.failed_checks[0].detail
    assert current_publication(workspace["published"]) is None


def test_small_cells_are_suppressed_and_the_gate_checks_them(workspace, monkeypatch):
    with duckdb.connect(str(workspace["warehouse"])) as connection:
        connection.execute(
            "create table marts.test_effectifs as select effectif, part::double as part"
            " from (values (25, 0.4), (3, 0.9), (0, 0.0)) t(effectif, part)"
        )

    def configure(rules):
        rules["confidentiality"]["tables"]["marts.test_effectifs"] = {
            "groups": [{"counts": ["effectif"], "dependents": ["part"]}]
        }
        rules["gate"]["tables"]["marts.test_effectifs"] = {
            "confidential_counts": ["effectif"],
            "ratios": ["part"],
        }

    _with_rules(monkeypatch, configure)
    result = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert result.published
    with duckdb.connect(str(result.path / "spifeb.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select effectif, part, secret_statistique from marts.test_effectifs order by 1 nulls first"
        ).fetchall()
    assert rows == [(None, None, True), (0, 0.0, False), (25, 0.4, False)]


def test_a_crash_during_publication_keeps_current_and_the_next_run_publishes(workspace):
    first = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])

    def crash():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gate_and_publish(
            workspace["warehouse"], workspace["lake"], workspace["published"], fault=crash
        )
    assert current_publication(workspace["published"]) == first.publication_id
    again = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    assert again.published and current_publication(workspace["published"]) == again.publication_id


def test_keep_the_last_publications_and_roll_back(workspace):
    ids = [gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"], keep=2).publication_id
           for _ in range(3)]  # fmt: skip
    assert publications(workspace["published"]) == ids[1:]
    assert rollback(workspace["published"]) == ids[1]
    assert current_publication(workspace["published"]) == ids[1]
    with pytest.raises(LookupError):
        rollback(workspace["published"])


def test_a_blocked_publication_alerts_the_configured_webhook(workspace, monkeypatch):
    received: list[dict] = []

    class Stub(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.setenv("SPIFEB_ALERT_WEBHOOK", f"http://127.0.0.1:{server.server_port}/alerte")
    for log in (workspace["lake"] / "load_log").glob("bmo-*.parquet"):
        log.unlink()
    result = gate_and_publish(workspace["warehouse"], workspace["lake"], workspace["published"])
    server.server_close()
    assert not result.published
    assert received and "bloquée" in received[0]["text"] and "bmo" in received[0]["text"]
