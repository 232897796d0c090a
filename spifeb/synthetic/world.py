"""Shared building blocks of the synthetic world: parameters, random draws, geography, dates.

Everything random goes through `Draws`, one numpy Generator per named stream derived from the
seed, so that adding a draw in one part of the model does not change the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

PARAMETERS_FILE = Path(__file__).with_name("parameters.yaml")
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data_contracts" / "reference"
EPOCH = np.datetime64("1970-01-01", "D")


@cache
def load_parameters(path: Path = PARAMETERS_FILE) -> dict[str, Any]:
    """The model's rates and distributions (parameters.yaml)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


class Draws:
    """Independent, reproducible random streams named by purpose."""

    def __init__(self, seed: int):
        self.seed = seed

    def stream(self, name: str) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def pick(rng: np.random.Generator, spec: dict[str, list], n: int) -> np.ndarray:
    """Draw n codes from a {codes, weights} spec of the parameter file."""
    weights = np.asarray(spec["weights"], dtype=float)
    codes = np.asarray(spec["codes"], dtype=object)
    return codes[rng.choice(len(codes), size=n, p=weights / weights.sum())]


def uniform_days(rng: np.random.Generator, bounds: list[int], n: int) -> np.ndarray:
    """Integer durations in days, uniform within [low, high]."""
    return rng.integers(bounds[0], bounds[1] + 1, size=n)


def to_days(value: dt.date | str) -> int:
    """A calendar date as days since 1970-01-01 (the model's time axis)."""
    return int((np.datetime64(str(value), "D") - EPOCH).astype(int))


def days_to_date(expr: pl.Expr) -> pl.Expr:
    """Polars expression: days since 1970-01-01 (Int) -> Date, nulls kept."""
    return expr.cast(pl.Int32).cast(pl.Date)


@dataclass(frozen=True)
class Window:
    """The simulated period: whole months from `start`, `months` long."""

    start: dt.date
    months: int

    @property
    def month_ends(self) -> list[dt.date]:
        ends = []
        year, month = self.start.year, self.start.month
        for _ in range(self.months):
            year_next, month_next = (year + 1, 1) if month == 12 else (year, month + 1)
            ends.append(dt.date(year_next, month_next, 1) - dt.timedelta(days=1))
            year, month = year_next, month_next
        return ends

    @property
    def start_day(self) -> int:
        return to_days(self.start)

    @property
    def end_day(self) -> int:
        return to_days(self.month_ends[-1])


@dataclass(frozen=True)
class Geography:
    """Brittany's communes with population weights, EPCI and former communes."""

    communes: pl.DataFrame  # code_insee, departement, epci_siren, population
    former: pl.DataFrame  # code_insee (old), code_insee_commune_actuelle


@cache
def load_geography(reference_dir: Path = REFERENCE_DIR) -> Geography:
    communes = pl.read_csv(
        reference_dir / "communes_bretagne.csv",
        schema_overrides={
            "code_insee": pl.String,
            "departement": pl.String,
            "epci_siren": pl.String,
        },
    ).select("code_insee", "departement", "epci_siren", "population")
    former = pl.read_csv(
        reference_dir / "communes_deleguees_bretagne.csv",
        schema_overrides={"code_insee": pl.String, "code_insee_commune_actuelle": pl.String},
    ).select("code_insee", "code_insee_commune_actuelle")
    return Geography(communes=communes, former=former)
