"""Statistical suppression of published aggregates (rules in `rules.yaml`).

A cell counting 1 to `threshold - 1` persons is suppressed (set to null), and so is every statistic
of the same row computed on those persons; the row is flagged so that exports show `s`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl
import yaml

from publication.secondary import protect

RULES_FILE = Path(__file__).with_name("rules.yaml")


@cache
def rules() -> dict:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def small(column: str, threshold: int) -> pl.Expr:
    return (pl.col(column) > 0) & (pl.col(column) < threshold)


def suppress(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table as published: small counts and what rests on them blanked, rows flagged.

    With `dimensions` in the table's rules, secondary suppression follows (`secondary.protect`):
    no margin published alongside lets anyone recompute a suppressed cell.
    """
    config = rules()["confidentiality"]
    spec = config["tables"].get(table)
    if spec is None or frame.is_empty():
        return frame
    threshold, flag = config["threshold"], config["flag_column"]
    is_small = frame.select(
        pl.any_horizontal(small(c, threshold) for c in spec["counts"]).fill_null(False)
    ).to_series()
    if spec.get("dimensions"):
        is_small = _secondary(frame, spec, is_small)
    blanked = [*spec["counts"], *spec.get("dependents", [])]
    return frame.with_columns(
        *(pl.when(is_small).then(None).otherwise(pl.col(c)).alias(c) for c in blanked),
        is_small.alias(flag),
    )


def _secondary(frame: pl.DataFrame, spec: dict, is_small: pl.Series) -> pl.Series:
    dims = spec["dimensions"]
    keys = [
        tuple(row)
        for row in frame.select(pl.col(d).cast(pl.String).fill_null("") for d in dims).iter_rows()
    ]
    cost = frame[spec["counts"][0]].fill_null(0).to_list()
    cells = dict(zip(keys, cost, strict=True))
    suppressed = protect(
        cells, {k for k, hidden in zip(keys, is_small, strict=True) if hidden}, dims
    )
    return pl.Series([k in suppressed for k in keys])
