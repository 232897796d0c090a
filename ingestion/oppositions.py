"""Right to object (spec section 2): nothing about a person who objected may remain.

Objections arrive as `landing/_oppositions/<date>.csv` (pseudo_nir, pseudo_ec, date_opposition).
A person may be known by other pseudonyms elsewhere, so the set to erase is closed over the
landed records: a record carrying an objected pseudonym brings its other pseudonym in, except a
civil-status pseudonym shared by several NIR pseudonyms (homonyms born the same day), which would
wrongly erase someone else. Rows about these pseudonyms never land, and every row about them
already in the lake (raw, quarantine, superseded) is erased by rewriting its file atomically.
Erasures are logged by count only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from ingestion.lake import ZONES, Lake, write_json, write_parquet

OPPOSITIONS_DIR = "_oppositions"
PSEUDONYMS = ("pseudo_nir", "pseudo_ec")


def read_oppositions(landing: Path) -> pl.DataFrame:
    """Every objection dropped so far (pseudo_nir, pseudo_ec; either may be empty)."""
    files = sorted((landing / OPPOSITIONS_DIR).glob("*.csv"))
    frames = [
        pl.read_csv(
            f, schema_overrides=dict.fromkeys(PSEUDONYMS, pl.String), infer_schema=False
        ).select(
            pl.col(p).str.strip_chars().str.to_lowercase().replace("", None) for p in PSEUDONYMS
        )
        for f in files
    ]
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(PSEUDONYMS, pl.String))
    return pl.concat(frames).unique()


def _pairs(lake: Lake) -> pl.DataFrame:
    """Distinct (pseudo_nir, pseudo_ec) pairs landed anywhere in the lake."""
    files = (
        [f for zone in ZONES for f in (lake.root / zone).rglob("*.parquet")]
        if lake.root.exists()
        else []
    )
    pairs = [
        pl.scan_parquet(f).select(PSEUDONYMS)
        for f in files
        if set(PSEUDONYMS) <= set(pl.read_parquet_schema(f))
    ]
    if not pairs:
        return pl.DataFrame(schema=dict.fromkeys(PSEUDONYMS, pl.String))
    return pl.concat(pairs).unique().collect()


def opposed_pseudonyms(oppositions: pl.DataFrame, lake: Lake) -> frozenset[str]:
    """The objected pseudonyms and those linked to them through landed records."""
    opposed = {p for column in PSEUDONYMS for p in oppositions[column].drop_nulls().to_list()}
    if not opposed:
        return frozenset()
    pairs = _pairs(lake).drop_nulls()
    ambiguous = set(
        pairs.group_by("pseudo_ec")
        .agg(pl.col("pseudo_nir").n_unique().alias("n"))
        .filter(pl.col("n") > 1)["pseudo_ec"]
    )
    links = pairs.filter(~pl.col("pseudo_ec").is_in(list(ambiguous)))
    while True:
        reached = links.filter(
            pl.col("pseudo_nir").is_in(list(opposed)) | pl.col("pseudo_ec").is_in(list(opposed))
        )
        grown = opposed | set(reached["pseudo_nir"]) | set(reached["pseudo_ec"])
        if grown == opposed:
            return frozenset(opposed)
        opposed = grown


def erase(lake: Lake, opposed: frozenset[str]) -> list[dict]:
    """Rewrite every lake file holding rows about `opposed`; one log entry per file (counts only)."""
    state_path = lake.root / "oppositions_applied.json"
    fingerprint = hashlib.sha256("\n".join(sorted(opposed)).encode()).hexdigest()
    if not opposed or (
        state_path.exists() and json.loads(state_path.read_text())["fingerprint"] == fingerprint
    ):
        return []
    entries = []
    for zone in ZONES:
        for path in (
            sorted((lake.root / zone).rglob("*.parquet")) if (lake.root / zone).exists() else []
        ):
            if not set(PSEUDONYMS) <= set(pl.read_parquet_schema(path)):
                continue
            frame = pl.read_parquet(path)
            about = pl.any_horizontal(pl.col(p).is_in(list(opposed)) for p in PSEUDONYMS).fill_null(
                False
            )
            erased = frame.select(about.sum()).item()
            if erased:
                write_parquet(frame.filter(~about), path)
                entries.append(
                    {"zone": zone, "file": str(path.relative_to(lake.root)), "rows_erased": erased}
                )
    _log(lake, entries)
    write_json(
        {"fingerprint": fingerprint, "applied_at": dt.datetime.now(dt.UTC).isoformat()}, state_path
    )
    return entries


def _log(lake: Lake, entries: list[dict]) -> None:
    """Append to the erasure log: when, where, how many rows; never who."""
    now = dt.datetime.now(dt.UTC)
    rows = pl.DataFrame(
        [{"erased_at": now, **e} for e in entries],
        schema={
            "erased_at": pl.Datetime("us", "UTC"),
            "zone": pl.String,
            "file": pl.String,
            "rows_erased": pl.Int64,
        },
    )
    log = lake.oppositions_log()
    previous = pl.read_parquet(log) if log.exists() else rows.clear()
    write_parquet(pl.concat([previous, rows]), log)
