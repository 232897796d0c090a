"""Primary statistical suppression of published aggregates (rules in `rules.yaml`).

A cell counting 1 to `threshold - 1` persons is suppressed (set to null), and so is every statistic
of the same row computed on those persons; the row is flagged so that exports show `s`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl
import yaml

RULES_FILE = Path(__file__).with_name("rules.yaml")


@cache
def rules() -> dict:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def small(column: str, threshold: int) -> pl.Expr:
    return (pl.col(column) > 0) & (pl.col(column) < threshold)


def suppress(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table as published: small counts and what rests on them blanked, rows flagged."""
    config = rules()["confidentiality"]
    spec = config["tables"].get(table)
    if spec is None:
        return frame
    threshold, flag = config["threshold"], config["flag_column"]
    is_small = pl.any_horizontal(small(c, threshold) for c in spec["counts"]).fill_null(False)
    blanked = [*spec["counts"], *spec.get("dependents", [])]
    return frame.with_columns(
        *(pl.when(is_small).then(None).otherwise(pl.col(c)).alias(c) for c in blanked),
        is_small.alias(flag),
    )
