"""Territories: former commune codes (communes merged into a commune nouvelle) -> current code."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data_contracts" / "reference"


@cache
def former_to_current() -> dict[str, str]:
    """Old INSEE code -> code of the current commune (identities left out)."""
    former = pl.read_csv(
        REFERENCE_DIR / "communes_deleguees_bretagne.csv",
        schema_overrides={"code_insee": pl.String, "code_insee_commune_actuelle": pl.String},
    ).filter(pl.col("code_insee") != pl.col("code_insee_commune_actuelle"))
    return dict(zip(former["code_insee"], former["code_insee_commune_actuelle"], strict=True))


def current_commune(column: str) -> pl.Expr:
    """The commune column with former codes replaced by the current ones."""
    return pl.col(column).replace(former_to_current())
