"""Indicator marts on the synthetic warehouse: ranges, additivity, catalogue, ground truth.

Headline indicators are recomputed here from the synthetic ground truth with polars: which
records exist, their dates, sources and operation codes come from the truth. The truth holds
every record as it stands at the end of the window (the date of the single extract): a record
deleted at the source (date_suppression set) is not in the warehouse, and the Région records an
enrolment up to 19 days after its start, so an enrolment started in the last days may not be in
the extract yet. The warehouse counts linked persons (person_id) where the truth knows the true
person (person_key), and linkage is not perfect (a few homonyms merge): the recomputations count
the person_id that linkage gave each true record, so that they test the indicator, not linkage
(tests/test_warehouse.py measures linkage).
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

FIRST_YEAR = 2018
RSA_SOURCES = {"cd22": "22", "cd29": "29", "cd35": "35", "cd56": "56"}
GRID_EPISODE_ENTITIES = ["brsa", "actions", "stagiaires", "plie_participants"]
REGION_RECORDING_LAG_DAYS = 20


def _frame(db, sql: str) -> pl.DataFrame:
    return db.sql(sql).pl()


@pytest.fixture
def catalogue(warehouse_db) -> pl.DataFrame:
    return _frame(warehouse_db, "select * from reference.indicateurs")


@pytest.fixture
def grid(warehouse_db) -> pl.DataFrame:
    return _frame(warehouse_db, "select * from marts.grille_indicateurs")


@pytest.fixture
def rsa(warehouse_db) -> pl.DataFrame:
    return _frame(warehouse_db, "select * from marts.rsa_indicateurs")


@pytest.fixture
def truth_records(built_warehouse) -> pl.DataFrame:
    """True records present in the warehouse: not deleted at the source."""
    records = pl.read_parquet(built_warehouse / "truth" / "records.parquet")
    return records.filter(pl.col("date_suppression").is_null())


@pytest.fixture
def cutoff(warehouse_db) -> dt.date:
    cutoffs = _frame(
        warehouse_db,
        "select date_coupure from intermediate.int_observation_cutoff where perimetre = 'GLOBAL'",
    )
    return cutoffs["date_coupure"].item()


def _with_person_id(warehouse_db, records: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """True records with the person linkage gave them; only not-yet-recorded ones are missing."""
    keys = _frame(
        warehouse_db,
        "select collectivite as source, entite as entity, record_id, person_id "
        "from intermediate.int_person_keys",
    )
    linked = records.join(keys, on=["source", "entity", "record_id"], how="left")
    not_in_extract = linked.filter(pl.col("person_id").is_null())
    recorded_late = (pl.col("entity") == "stagiaires") & (
        pl.col("date_debut") > cutoff - dt.timedelta(days=REGION_RECORDING_LAG_DAYS)
    )
    assert not_in_extract.filter(~recorded_late).height == 0, not_in_extract
    return linked.filter(pl.col("person_id").is_not_null())


def _ratio_codes(catalogue: pl.DataFrame) -> set[str]:
    return set(catalogue.filter(pl.col("unite") == "ratio")["code"])


# --- ranges -------------------------------------------------------------------------------------


def test_grid_shares_and_rates_are_within_zero_and_one(grid, catalogue):
    rates = grid.filter(pl.col("code_indicateur").is_in(_ratio_codes(catalogue)))
    assert rates.height > 0
    assert rates.filter(pl.col("valeur").is_nan()).height == 0
    assert rates["valeur"].min() >= 0 and rates["valeur"].max() <= 1
    assert (rates["numerateur"] <= rates["denominateur"]).all()
    assert (rates["denominateur"] > 0).all()


def test_grid_counts_and_amounts_are_not_negative(grid):
    assert grid["valeur"].min() >= 0
    assert grid["numerateur"].drop_nulls().min() >= 0
    assert grid["denominateur"].drop_nulls().min() >= 0


def test_rsa_shares_are_within_zero_and_one_and_counts_not_negative(rsa, catalogue):
    ratio_columns = [code.lower() for code in _ratio_codes(catalogue) if code.startswith("RSA_")]
    assert ratio_columns
    for column in ratio_columns:
        values = rsa[column].drop_nulls()
        assert values.len() > 0, column
        assert values.min() >= 0 and values.max() <= 1, column
        observed = rsa.filter(pl.col(f"{column}_den").is_not_null())
        assert (observed[f"{column}_num"] <= observed[f"{column}_den"]).all(), column
    for column in ["rsa_entrants", "rsa_beneficiaires_fin_annee", "rsa_delai_orientation_median"]:
        assert rsa[column].drop_nulls().min() >= 0, column


def test_esf_rates_and_shares_are_within_zero_and_one(warehouse_db):
    operations = _frame(warehouse_db, "select * from marts.fse_operations")
    summary = _frame(warehouse_db, "select * from marts.fse_synthese")
    financing = _frame(warehouse_db, "select * from marts.fse_financement_formations")
    common = _frame(warehouse_db, "select * from marts.fse_indicateurs_communs")
    for frame, column in [
        (operations, "taux_fse"),
        (summary, "taux_fse"),
        (financing, "part_fse"),
    ]:
        values = frame[column].drop_nulls()
        assert values.len() > 0 and values.min() >= 0 and values.max() <= 1, column
    assert operations["participants"].min() >= 0 and summary["participants"].min() >= 0
    assert (common["valeur"] <= common["denominateur"]).all()
    assert common["valeur"].min() >= 0


# --- additivity ---------------------------------------------------------------------------------


def test_additive_grouping_sets_sum_to_the_period_total(grid):
    """Where the grid says a grouping set adds up (additif), its cells sum to the total."""
    period = ["code_indicateur", "annee", "trimestre"]
    totals = grid.filter(pl.col("niveau_agregation").is_in(["annee", "trimestre"])).select(
        *period, total=pl.col("valeur")
    )
    sums = (
        grid.filter(pl.col("additif") & ~pl.col("niveau_agregation").is_in(["annee", "trimestre"]))
        .group_by(*period, "niveau_agregation")
        .agg(somme=pl.col("valeur").sum())
        .join(totals, on=period, how="left")
    )
    assert sums.height > 0
    assert sums["total"].null_count() == 0
    mismatches = sums.filter((pl.col("somme") - pl.col("total")).abs() > 1e-6 * pl.col("total"))
    assert mismatches.height == 0, mismatches.head()


def test_entrants_by_sex_sum_to_the_total(grid):
    entrants = grid.filter(pl.col("code_indicateur") == "ENTRANTS")
    by_sex = (
        entrants.filter(pl.col("niveau_agregation") == "annee x sexe")
        .group_by("annee")
        .agg(pl.col("valeur").sum())
    )
    total = entrants.filter(pl.col("niveau_agregation") == "annee").select("annee", "valeur")
    assert by_sex.sort("annee").equals(total.sort("annee"))
    assert set(entrants.filter(pl.col("niveau_agregation") == "annee x sexe")["additif"]) == {True}


def test_non_exclusive_dimensions_are_not_flagged_additive(grid):
    flagged = grid.filter(
        pl.col("additif")
        & (
            (pl.col("public") != "TOTAL")
            | pl.col("code_indicateur").str.starts_with("TAUX")
            | pl.col("code_indicateur").str.starts_with("SITUATION")
        )
    )
    assert flagged.height == 0


def test_situations_six_months_after_exit_share_out_each_cell(grid):
    """The situations are exclusive and exhaustive: their shares add up to 1 in every cell."""
    cell = [c for c in grid.columns if c not in ("id_ligne", "code_indicateur", "valeur",
                                                 "numerateur", "denominateur", "additif")]  # fmt: skip
    shares = (
        grid.filter(pl.col("code_indicateur").str.starts_with("SITUATION_6_MOIS_"))
        .group_by(cell)
        .agg(total=pl.col("valeur").sum(), denominateurs=pl.col("denominateur").n_unique())
    )
    assert shares.height > 0
    assert (shares["denominateurs"] == 1).all()
    assert ((shares["total"] - 1).abs() < 1e-9).all()


def test_grid_periods_end_by_the_cut_off_and_start_in_2018(grid, cutoff):
    years = grid.filter(pl.col("trimestre") == "TOTAL")["annee"]
    assert years.min() == FIRST_YEAR
    assert dt.date(years.max(), 12, 31) <= cutoff


# --- catalogue ----------------------------------------------------------------------------------


def test_every_published_code_is_in_the_catalogue(warehouse_db, grid, rsa, catalogue):
    codes = set(catalogue["code"])
    assert set(grid["code_indicateur"]) <= codes
    common = _frame(
        warehouse_db, "select distinct code_indicateur from marts.fse_indicateurs_communs"
    )
    assert set(common["code_indicateur"]) <= codes
    rsa_indicator_columns = {
        c for c in rsa.columns if c.startswith("rsa_") and not c.endswith(("_num", "_den"))
    }
    assert {c.upper() for c in rsa_indicator_columns} <= codes
    for row in catalogue.iter_rows(named=True):
        for model in row["modele"].split(";"):
            columns = _frame(warehouse_db, f"select * from marts.{model} limit 0").columns
            assert row["colonne"] in columns, (row["code"], model)


def test_uncovered_esf_indicators_are_not_published(warehouse_db, catalogue):
    uncovered = _frame(warehouse_db, "select * from reference.fse_indicateurs_non_couverts")
    assert uncovered.height > 0
    assert not set(uncovered["code"]) & set(catalogue["code"])
    assert uncovered["raison"].str.len_chars().min() > 20


# --- ground truth -------------------------------------------------------------------------------


def test_rsa_entrants_per_departement_and_year_match_the_ground_truth(
    warehouse_db, rsa, truth_records, cutoff
):
    spells = _with_person_id(
        warehouse_db,
        truth_records.filter(
            (pl.col("entity") == "brsa") & pl.col("source").is_in(list(RSA_SOURCES))
        ),
        cutoff,
    )
    expected = (
        spells.with_columns(
            departement=pl.col("source").replace_strict(RSA_SOURCES),
            annee=pl.col("date_debut").dt.year(),
        )
        .filter(pl.col("annee").is_between(FIRST_YEAR, cutoff.year))
        .group_by("departement", "annee")
        .agg(rsa_entrants=pl.col("person_id").n_unique())
    )
    published = rsa.select("departement", "annee", "rsa_entrants").filter(
        pl.col("rsa_entrants").is_not_null()
    )
    joined = published.join(
        expected, on=["departement", "annee"], how="full", coalesce=True, suffix="_truth"
    ).with_columns(pl.col("rsa_entrants_truth").fill_null(0))
    assert joined.height == len(RSA_SOURCES) * (cutoff.year - FIRST_YEAR + 1)
    assert joined["rsa_entrants"].eq_missing(joined["rsa_entrants_truth"]).all()


def test_rsa_beneficiaries_at_year_end_match_the_ground_truth(
    warehouse_db, rsa, truth_records, cutoff
):
    spells = _with_person_id(
        warehouse_db,
        truth_records.filter(
            (pl.col("entity") == "brsa") & pl.col("source").is_in(list(RSA_SOURCES))
        ),
        cutoff,
    )
    rows = []
    for year in range(FIRST_YEAR, cutoff.year + 1):
        year_end = dt.date(year, 12, 31)
        in_force = spells.filter(
            (pl.col("date_debut") <= year_end)
            & (pl.col("date_fin").is_null() | (pl.col("date_fin") >= year_end))
        )
        for source, departement in RSA_SOURCES.items():
            count = in_force.filter(pl.col("source") == source)["person_id"].n_unique()
            rows.append({"departement": departement, "annee": year, "truth": count})
    expected = pl.DataFrame(rows, schema_overrides={"annee": pl.Int32})
    joined = expected.join(
        rsa.select("departement", "annee", "rsa_beneficiaires_fin_annee"),
        on=["departement", "annee"],
        how="left",
    )
    assert joined["truth"].eq_missing(joined["rsa_beneficiaires_fin_annee"]).all()


def test_esf_participants_per_operation_match_the_ground_truth(warehouse_db, truth_records, cutoff):
    """Operations of départements and métropoles: the truth carries their participants' codes.

    (The Région ties enrolments to operations through financing lines, which the ground truth's
    records table does not carry.)
    """
    participations = _with_person_id(
        warehouse_db, truth_records.filter(pl.col("code_operation_fse").is_not_null()), cutoff
    )
    expected = participations.group_by(
        pl.col("source").alias("collectivite"),
        pl.col("code_operation_fse").alias("code_operation"),
    ).agg(truth=pl.col("person_id").n_unique())
    operations = _frame(
        warehouse_db,
        "select collectivite, code_operation, participants from marts.fse_operations "
        "where collectivite <> 'reg53'",
    )
    joined = operations.join(expected, on=["collectivite", "code_operation"], how="full")
    assert joined.height == operations.height > 0
    assert joined["truth"].fill_null(0).eq_missing(joined["participants"]).all()


def test_grid_yearly_entrants_match_the_ground_truth(warehouse_db, grid, truth_records, cutoff):
    episodes = _with_person_id(
        warehouse_db, truth_records.filter(pl.col("entity").is_in(GRID_EPISODE_ENTITIES)), cutoff
    )
    expected = (
        episodes.with_columns(annee=pl.col("date_debut").dt.year())
        .filter(pl.col("annee").is_between(FIRST_YEAR, cutoff.year))
        .group_by("annee")
        .agg(truth=pl.col("person_id").n_unique().cast(pl.Float64))
    )
    published = grid.filter(
        (pl.col("code_indicateur") == "ENTRANTS") & (pl.col("niveau_agregation") == "annee")
    ).select("annee", "valeur")
    joined = published.join(expected, on="annee", how="full")
    assert joined.height == cutoff.year - FIRST_YEAR + 1
    assert all(math.isclose(a, b) for a, b in zip(joined["valeur"], joined["truth"], strict=True))
