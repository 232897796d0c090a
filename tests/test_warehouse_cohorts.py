"""Cohort-following marts: internal consistency, and indicators recomputed from the ground truth.

The ground truth (true persons and records) is what the synthetic generator wrote; the pipeline
never reads it. Recomputing an indicator from it with polars checks the marts end to end.
"""

from __future__ import annotations

import polars as pl
import pytest

from spifeb.synthetic.episodes import FAMILY_ABBREVIATIONS
from spifeb.warehouse import DBT_PROJECT_DIR

EPISODE_ENTITIES = ["brsa", "actions", "stagiaires", "plie_participants", "plie_etapes"]
NEUTRAL_RSA_ENDS = ["DEMENAGEMENT", "DECES"]


def _query(db, sql: str) -> pl.DataFrame:
    return db.sql(sql).pl()


def _scalar(db, sql: str):
    return db.execute(sql).fetchall()[0][0]


def _global_cutoff(db):
    return _scalar(
        db,
        "select date_coupure from intermediate.int_observation_cutoff where perimetre = 'GLOBAL'",
    )


@pytest.fixture(scope="module")
def truth_episodes(built_warehouse) -> pl.DataFrame:
    """True episodes known at each source's extract date, with their shared dispositif."""
    truth = built_warehouse / "truth"
    extracts = (
        pl.read_parquet(truth / "extracts.parquet")
        .group_by("source")
        .agg(pl.col("extract_date").max())
    )
    catalogue = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "dispositifs.csv").select(
        "entite", "code_local", "dispositif"
    )
    # PDI actions carry the action code (PDI29-ACI-033): its middle part names the family.
    families = {abbreviation: family for family, abbreviation in FAMILY_ABBREVIATIONS.items()}
    return (
        pl.read_parquet(truth / "records.parquet")
        .filter(pl.col("entity").is_in(EPISODE_ENTITIES), pl.col("date_suppression").is_null())
        .join(extracts, on="source")
        .filter(pl.col("date_debut") <= pl.col("extract_date"))
        .join(
            catalogue,
            left_on=["entity", "dispositif_local"],
            right_on=["entite", "code_local"],
            how="left",
        )
        .with_columns(
            pl.when(pl.col("entity") == "actions")
            .then(
                pl.lit("PDI_")
                + pl.col("dispositif_local").str.split("-").list.get(1).replace_strict(families)
            )
            .otherwise(pl.col("dispositif"))
            .alias("dispositif")
        )
    )


def test_aggregated_cohorts_split_members_into_observed_and_censored(warehouse_db):
    cohorts = _query(warehouse_db, "select * from marts.cohortes_agregees")
    assert cohorts.height > 0
    assert (cohorts["observes"] + cohorts["censures"] == cohorts["membres"]).all()
    assert (cohorts["effectif_dans_dispositif"] <= cohorts["effectif"]).all()
    shares = cohorts["part"].drop_nulls()
    assert shares.min() >= 0 and shares.max() <= 1
    assert (cohorts["part"].is_null() == (cohorts["observes"] == 0)).all()
    keys = [
        "dispositif",
        "collectivite",
        "annee_entree",
        "trimestre_entree",
        "public",
        "horizon_mois",
    ]
    per_horizon = cohorts.group_by(keys).agg(
        pl.col("effectif").sum(), pl.col("observes").first(), pl.len().alias("situations")
    )
    assert (per_horizon["effectif"] == per_horizon["observes"]).all()
    assert (per_horizon["situations"] == 5).all()


def test_members_are_censored_exactly_after_the_cutoff(warehouse_db):
    members = _query(warehouse_db, "select * from marts.cohortes_membres")
    cutoff = _global_cutoff(warehouse_db)
    assert (members["censure"] == (members["date_horizon"] > cutoff)).all()
    assert (members["situation"].is_null() == members["censure"]).all()
    assert (members["dans_dispositif"].is_null() == members["censure"]).all()
    assert members["censure"].any() and not members["censure"].all()
    # A BRSA or JSQ member is also a member of the TOUS cohort.
    everyone = members.filter(pl.col("public") == "TOUS").select("episode_entree_id").unique()
    assert members["episode_entree_id"].unique().len() == everyone.height
    # The aggregated mart counts the same members.
    keys = [
        "dispositif",
        "collectivite",
        "annee_entree",
        "trimestre_entree",
        "public",
        "horizon_mois",
    ]
    counted = members.group_by(keys).agg(pl.col("person_id").n_unique().alias("n"))
    aggregated = _query(
        warehouse_db,
        "select distinct dispositif, collectivite, annee_entree, trimestre_entree, public, "
        "horizon_mois, membres from marts.cohortes_agregees",
    )
    joined = counted.join(aggregated, on=keys, how="full", coalesce=True)
    assert (joined["n"] == joined["membres"]).all()


def test_kaplan_meier_is_a_valid_survival_curve(warehouse_db):
    curves = _query(warehouse_db, "select * from marts.survie_km")
    keys = ["dispositif", "collectivite", "annee_entree", "trimestre_entree", "public", "evenement"]
    curves = curves.sort([*keys, "duree_jours"]).with_columns(
        recomputed=(1 - pl.col("evenements") / pl.col("a_risque")).cum_prod().over(keys),
        previous=pl.col("survie").shift(1).over(keys),
        next_at_risk=pl.col("a_risque").shift(-1).over(keys),
    )
    assert curves["survie"].min() >= 0 and curves["survie"].max() <= 1
    assert (curves["previous"].is_null() | (curves["survie"] <= curves["previous"])).all()
    assert ((curves["survie"] - curves["recomputed"]).abs() < 1e-9).all()
    continuing = curves.filter(pl.col("next_at_risk").is_not_null())
    assert (
        continuing["next_at_risk"]
        == continuing["a_risque"] - continuing["evenements"] - continuing["censures"]
    ).all()
    last = curves.filter(pl.col("next_at_risk").is_null())
    assert (last["a_risque"] == last["evenements"] + last["censures"]).all()
    intervals = curves.filter(pl.col("ic95_bas").is_not_null())
    assert (intervals["ic95_bas"] >= 0).all() and (intervals["ic95_haut"] <= 1).all()
    assert (intervals["ic95_bas"] <= intervals["survie"]).all()
    assert (intervals["survie"] <= intervals["ic95_haut"]).all()
    # Everyone in a cohort is at risk at the first time of its first-employment curve.
    first_at_risk = (
        curves.filter(pl.col("evenement") == "PREMIER_EMPLOI")
        .group_by(keys[:-1])
        .agg(pl.col("a_risque").max())
    )
    sizes = _query(
        warehouse_db,
        "select distinct dispositif, collectivite, annee_entree, trimestre_entree, public, membres "
        "from marts.cohortes_agregees",
    )
    joined = first_at_risk.join(sizes, on=keys[:-1], how="full", coalesce=True)
    assert (joined["a_risque"] == joined["membres"]).all()


def test_exits_per_dispositif_and_year_match_the_ground_truth(warehouse_db, truth_episodes):
    expected = (
        truth_episodes.filter(pl.col("date_fin").is_not_null())
        .group_by("dispositif", pl.col("date_fin").dt.year().alias("annee"))
        .agg(pl.len().cast(pl.Int64).alias("sorties"))
    )
    for window in (3, 6, 12):
        matrix = _query(
            warehouse_db,
            "select dispositif_origine as dispositif, annee_sortie as annee, "
            "cast(sum(sorties) as bigint) as sorties from marts.transitions_matrice "
            f"where fenetre_mois = {window} group by all",
        ).with_columns(pl.col("annee").cast(pl.Int32))
        joined = expected.join(matrix, on=["dispositif", "annee"], how="full", coalesce=True)
        assert joined.height == expected.height
        assert (joined["sorties"] == joined["sorties_right"]).all(), window


def test_rsa_entrants_per_departement_and_year_match_the_ground_truth(warehouse_db, truth_episodes):
    rsa = truth_episodes.filter(pl.col("dispositif") == "RSA")
    expected = rsa.group_by(
        pl.col("source").alias("collectivite"), pl.col("date_debut").dt.year().alias("annee")
    ).agg(pl.col("person_key").n_unique().cast(pl.Int64).alias("entrants"))
    entrants = _query(
        warehouse_db,
        "select collectivite, cast(year(date_debut) as integer) as annee, "
        "count(distinct person_id) as entrants from marts.parcours "
        "where dispositif = 'RSA' group by all",
    )
    joined = expected.join(entrants, on=["collectivite", "annee"], how="full", coalesce=True)
    assert joined.height == expected.height
    assert (joined["entrants"] == joined["entrants_right"]).all()


def test_no_cohort_is_built_before_the_exchange_s_first_year(warehouse_db):
    for table in ("marts.cohortes_membres", "marts.survie_km"):
        first = warehouse_db.execute(f"select min(annee_entree) from {table}").fetchone()[0]
        assert first >= 2018, table  # records ended before 2018 are never sent: left truncation


def test_rsa_exit_survival_matches_the_ground_truth(warehouse_db, truth_episodes):
    """Kaplan–Meier of the RSA exit, every RSA cohort (public TOUS), recomputed from scratch."""
    keys = ["collectivite", "annee_entree", "trimestre_entree"]
    subjects = (
        truth_episodes.filter(pl.col("dispositif") == "RSA")
        .with_columns(
            pl.col("source").alias("collectivite"),
            pl.col("date_debut").dt.year().alias("annee_entree"),
            pl.col("date_debut").dt.quarter().cast(pl.Int32).alias("trimestre_entree"),
        )
        .filter(pl.col("annee_entree") >= 2018)  # earlier cohorts are left-truncated: not built
        .sort("date_debut", "record_id")
        .group_by([*keys, "person_key"], maintain_order=True)
        .first()
        .with_columns(
            closed=pl.col("date_fin").is_not_null() & (pl.col("date_fin") <= pl.col("extract_date"))
        )
        .with_columns(
            duree_jours=(
                pl.when(pl.col("closed"))
                .then(pl.col("date_fin") - pl.col("date_debut"))
                .otherwise(pl.col("extract_date") - pl.col("date_debut"))
            ).dt.total_days(),
            event=(
                pl.col("closed") & ~pl.col("motif_sortie").fill_null("").is_in(NEUTRAL_RSA_ENDS)
            ).cast(pl.Int64),
        )
    )
    expected = (
        subjects.group_by([*keys, "duree_jours"])
        .agg(
            pl.col("event").sum().alias("evenements"),
            (1 - pl.col("event")).sum().alias("censures"),
            pl.len().alias("sortants"),
        )
        .sort([*keys, "duree_jours"])
        .with_columns(a_risque=pl.col("sortants").reverse().cum_sum().reverse().over(keys))
        .with_columns(survie=(1 - pl.col("evenements") / pl.col("a_risque")).cum_prod().over(keys))
    )
    mart = _query(
        warehouse_db,
        "select collectivite, annee_entree, trimestre_entree, cast(duree_jours as bigint) as "
        "duree_jours, a_risque, evenements, censures, survie from marts.survie_km "
        "where evenement = 'SORTIE_RSA' and public = 'TOUS'",
    ).with_columns(pl.col("annee_entree").cast(pl.Int32), pl.col("trimestre_entree").cast(pl.Int32))
    joined = expected.join(
        mart, on=[*keys, "duree_jours"], how="full", coalesce=True, suffix="_mart"
    )
    assert joined.height == expected.height == mart.height
    for column in ("a_risque", "evenements", "censures"):
        assert (joined[column] == joined[f"{column}_mart"]).all(), column
    assert ((joined["survie"] - joined["survie_mart"]).abs() < 1e-9).all()


def test_transition_matrix_counts_each_exit_once_per_window(warehouse_db):
    matrix = _query(warehouse_db, "select * from marts.transitions_matrice")
    exits = _scalar(warehouse_db, "select count(*) from intermediate.int_exits")
    per_window = matrix.group_by("fenetre_mois").agg(pl.col("sorties").sum())
    assert per_window.height == 3
    assert (per_window["sorties"] == exits).all()
    # A longer window finds at least as many transitions and censors at least as many exits.
    totals = {
        (w, kind): matrix.filter(
            (pl.col("fenetre_mois") == w) & (pl.col("dispositif_destination") == kind)
        )["sorties"].sum()
        for w in (3, 6, 12)
        for kind in ("AUCUN", "CENSURE")
    }
    assert totals[(3, "CENSURE")] <= totals[(6, "CENSURE")] <= totals[(12, "CENSURE")]


def test_rupture_follows_its_definition(warehouse_db):
    exits = _query(warehouse_db, "select * from intermediate.int_exits")
    assert not exits.filter(pl.col("sortie_emploi") | pl.col("sortie_neutre"))["rupture"].any()
    assert exits.filter(pl.col("rupture").fill_null(False))["fenetre_observee"].all()
    assert exits.filter(pl.col("rupture").fill_null(False))["date_episode_suivant"].is_null().all()
    unknown = exits.filter(pl.col("rupture").is_null())
    assert unknown.height > 0 and not unknown["fenetre_observee"].any()
    in_rate = exits.filter(pl.col("dans_denominateur_rupture"))
    assert in_rate["rupture"].is_not_null().all()
    assert 0 < in_rate["rupture"].mean() < 1


def test_parcours_orders_each_person_s_episodes(warehouse_db):
    pathways = _query(warehouse_db, "select * from marts.parcours")
    episodes = _scalar(warehouse_db, "select count(*) from intermediate.int_episodes")
    assert pathways.height == episodes
    ranks = pathways.group_by("person_id").agg(pl.col("rang").max(), pl.len())
    assert (ranks["rang"] == ranks["len"]).all()
    with_previous = pathways.filter(pl.col("date_fin_precedente").is_not_null())
    gaps = (with_previous["date_debut"] - with_previous["date_fin_precedente"]).dt.total_days()
    assert (gaps == with_previous["ecart_jours"]).all()


def test_collectivity_overlaps_are_bounded(warehouse_db):
    overlaps = _query(warehouse_db, "select * from marts.chevauchements_collectivites")
    assert (overlaps["collectivite_1"] < overlaps["collectivite_2"]).all()
    assert (overlaps.group_by("annee").len()["len"] == 21).all()
    bound = pl.min_horizontal("personnes_collectivite_1", "personnes_collectivite_2")
    assert overlaps.select((pl.col("personnes_communes") <= bound).all()).item()
    assert overlaps["personnes_communes"].sum() > 0
