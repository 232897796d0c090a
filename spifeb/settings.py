"""Where the runtime data lives. One environment variable moves all of it."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "SPIFEB_DATA_DIR"


def data_dir() -> Path:
    """Root of the runtime data (landing, lake, warehouse, published): `./data` unless moved."""
    return Path(os.environ.get(DATA_DIR_ENV, "data")).resolve()


def landing_dir() -> Path:
    """The collectivities' drop zone."""
    return data_dir() / "landing"


def ground_truth_dir() -> Path:
    """Synthetic ground truth, kept apart from the landing zone and never read by the pipeline."""
    return data_dir() / "synthetic_truth"


def lake_dir() -> Path:
    """The lake: raw Parquet layer, quarantine, refusal reports, load log."""
    return data_dir() / "lake"


def warehouse_path() -> Path:
    """The DuckDB file dbt builds (one writer at a time; readers use a published copy)."""
    return data_dir() / "warehouse" / "spifeb.duckdb"


def published_dir() -> Path:
    """Publications (`published/<id>/`) and the `current` link readers follow."""
    return data_dir() / "published"
