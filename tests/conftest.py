"""Shared fixtures: a small synthetic warehouse built once per test session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ingestion.land import ingest
from spifeb.synthetic.generate import SynthOptions, generate
from spifeb.warehouse import run_dbt


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """Synthetic extracts (2,000 persons, 2018-2023, latest extract per source) landed and built.

    Returns the folder holding landing/, truth/, lake/ and warehouse.duckdb.
    """
    root = tmp_path_factory.mktemp("warehouse")
    generate(SynthOptions(persons=2000, start=dt.date(2018, 1, 1), months=72, seed=8,
                          out=root / "landing", truth=root / "truth", extracts=1))  # fmt: skip
    report = ingest(root / "landing", root / "lake")
    assert not report.refused
    result = run_dbt(
        "build", root / "lake", root / "warehouse.duckdb", target_path=root / "dbt_target"
    )
    assert result.returncode == 0, result.stdout[-5000:]
    return root


@pytest.fixture
def warehouse_db(built_warehouse):
    connection = duckdb.connect(str(built_warehouse / "warehouse.duckdb"), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def publication_root(built_warehouse, tmp_path_factory) -> Path:
    """The built warehouse audited and published once (read-only: tests must not change it).

    Returns the `published/` folder; its `current` link points at the publication."""
    from publication import gate_and_publish

    root = tmp_path_factory.mktemp("published")
    result = gate_and_publish(built_warehouse / "warehouse.duckdb", built_warehouse / "lake", root)
    assert result.published, [(c.name, c.detail) for c in result.failed_checks]
    return root
