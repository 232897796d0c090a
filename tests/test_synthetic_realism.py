"""The synthetic population behaves like the published figures, not like uniform noise.

Measured on what the pipeline will read (the landing files, parsed back through the contracts)
and on the ground truth, for one 72-month population.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from data_contracts import load_catalog
from ingestion.normalise import to_canonical
from ingestion.readers import read_native
from spifeb.synthetic.generate import SynthOptions, generate
from spifeb.synthetic.world import load_geography

LAST = dt.date(2023, 12, 31)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("realism")
    generate(SynthOptions(persons=8000, start=dt.date(2018, 1, 1), months=72, seed=21,
                          out=tmp / "landing", truth=tmp / "truth", extracts=1))  # fmt: skip
    return tmp


def _landed(world: Path, entity: str) -> pl.DataFrame:
    catalog = load_catalog()
    frames = []
    for source in catalog.sources:
        try:
            contract = catalog.contract(source, entity)
        except KeyError:
            continue
        native = read_native(
            contract, world / "landing" / source / LAST.isoformat() / contract.file.file_name(LAST)
        )
        frames.append(to_canonical(contract, native).frame.with_columns(source=pl.lit(source)))
    return pl.concat(frames)


def test_rsa_orientation_and_exit_rates_are_near_the_national_figures(world):
    brsa = _landed(world, "brsa")
    settled = brsa.filter(pl.col("date_ouverture_droit") <= dt.date(2022, 12, 31))
    assert 0.75 <= settled["date_orientation"].is_not_null().mean() <= 0.90
    delay = (brsa["date_orientation"] - brsa["date_ouverture_droit"]).dt.total_days().drop_nulls()
    assert 60 <= delay.mean() <= 100
    for year in (2020, 2021, 2022):
        end_n, end_next = dt.date(year, 12, 31), dt.date(year + 1, 12, 31)
        present = brsa.filter(
            (pl.col("date_ouverture_droit") <= end_n)
            & (pl.col("date_fin_droit").is_null() | (pl.col("date_fin_droit") > end_n))
        )
        still = present.filter(
            pl.col("date_fin_droit").is_null() | (pl.col("date_fin_droit") > end_next)
        )
        assert 0.20 <= 1 - still.height / present.height <= 0.30, year
    oriented = brsa.filter(pl.col("date_orientation").is_not_null())
    assert 0.4 <= oriented["type_contrat"].is_not_null().mean() <= 0.8
    ft = oriented.filter(pl.col("organisme_referent") == "FRANCE_TRAVAIL")
    assert set(ft["type_contrat"].drop_nulls()) == {"PPAE"}


def test_residence_follows_population(world):
    persons = pl.read_parquet(world / "truth" / "persons.parquet")
    communes = load_geography().communes
    expected = communes.group_by("departement").agg(
        pl.col("population").sum() / communes["population"].sum()
    )
    observed = persons.group_by("departement").agg(pl.len() / persons.height)
    compared = expected.join(observed, on="departement")
    for departement, share, seen in compared.rows():
        assert abs(share - seen) < 0.03, departement
    assert set(persons["commune_insee"]) <= set(communes["code_insee"])


def test_older_records_sometimes_carry_a_former_commune_code(world):
    former = set(load_geography().former["code_insee"]) - set(
        load_geography().communes["code_insee"]
    )
    brsa = _landed(world, "brsa")
    old = brsa.filter(pl.col("commune_insee").is_in(former))
    assert old.height > 0
    assert old["date_ouverture_droit"].max() <= dt.date(2019, 12, 31)


def test_persons_known_to_several_collectivities_need_linkage(world):
    records = pl.read_parquet(world / "truth" / "records.parquet")
    persons = pl.read_parquet(world / "truth" / "persons.parquet")
    sources = records.group_by("person_key").agg(pl.col("source").n_unique().alias("n"))
    assert (sources["n"] >= 2).mean() > 0.05
    # Some persons appear by NIR in one source and only by civil status in another.
    landed = pl.concat(
        [
            _landed(world, e).select("pseudo_nir", "pseudo_ec", "source")
            for e in ("brsa", "stagiaires", "plie_participants")
        ]
    )
    by_person = landed.join(persons.select("person_key", "pseudo_ec"), on="pseudo_ec", how="inner")
    mixed = by_person.group_by("person_key").agg(
        pl.col("pseudo_nir").is_null().any().alias("without_nir"),
        pl.col("pseudo_nir").is_not_null().any().alias("with_nir"),
        pl.col("source").n_unique().alias("n"),
    )
    assert mixed.filter(pl.col("without_nir") & pl.col("with_nir") & (pl.col("n") >= 2)).height > 0
    # Homonyms share a civil-status pseudonym but not a NIR pseudonym.
    homonyms = persons.filter(pl.col("homonym_of").is_not_null())
    assert homonyms.height > 0
    pairs = homonyms.join(persons, left_on="homonym_of", right_on="person_key", suffix="_original")
    assert (pairs["pseudo_ec"] == pairs["pseudo_ec_original"]).all()
    assert (pairs["pseudo_nir"] != pairs["pseudo_nir_original"]).all()


def test_young_people_found_by_platforms_then_enter_prequalification(world):
    records = pl.read_parquet(world / "truth" / "records.parquet")
    found = records.filter(pl.col("entity") == "decrocheurs").select(
        "person_key", found="date_debut"
    )
    prepa = records.filter(pl.col("dispositif_local").str.starts_with("PREPA")).select(
        "person_key", entry="date_debut"
    )
    both = found.join(prepa, on="person_key")
    assert both.height > 50
    assert (both["found"] <= both["entry"]).mean() > 0.9


def test_esf_financing_ties_participants_to_operations(world):
    records = pl.read_parquet(world / "truth" / "records.parquet")
    operations = records.filter(pl.col("entity") == "operations_fse")
    cofinanced = records.filter(pl.col("cofinancement_fse"))
    assert cofinanced.height > 0
    assert set(cofinanced["code_operation_fse"].drop_nulls()) <= set(operations["record_id"])
    stagiaires = _landed(world, "stagiaires")
    lines = stagiaires.select(pl.col("financements").explode().struct.unnest()).filter(
        pl.col("financeur") == "FSE"
    )
    assert lines.height > 0 and lines["code_operation_fse"].is_not_null().all()
