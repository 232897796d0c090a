"""The dbt warehouse builds on a synthetic lake, and linkage matches the ground truth."""

from __future__ import annotations

import polars as pl

from spifeb.warehouse import dbt_args, node_progress


def test_dbt_args_are_built_from_the_command():
    args = dbt_args("build", select="marts")
    assert (
        args[0] == "build"
        and "--full-refresh" in args
        and args[args.index("--select") + 1] == "marts"
    )
    assert "--full-refresh" not in dbt_args("test")


def test_dbt_progress_is_read_from_finished_nodes_only():
    finished = (
        "22:27:35  180 of 390 FAIL 1 not_null_int_x ........ [\x1b[31mFAIL 1\x1b[0m in 0.01s]"
    )
    assert node_progress(finished) == (180, 390)
    assert node_progress("22:27:35  12 of 390 OK created sql table model marts.x [OK in 1s]") == (
        12,
        390,
    )
    assert node_progress("22:27:35  13 of 390 START sql table model marts.y [RUN]") is None
    assert node_progress("22:27:36  Done. PASS=225 WARN=0 ERROR=1 SKIP=164 TOTAL=390") is None


def test_every_record_is_linked_to_a_person(warehouse_db):
    missing = warehouse_db.execute(
        "select count(*) from intermediate.int_episodes where person_id is null"
    ).fetchone()
    assert missing == (0,)


def test_linkage_precision_and_recall_against_the_ground_truth(built_warehouse, warehouse_db):
    truth = pl.read_parquet(built_warehouse / "truth" / "records.parquet").select(
        "source", "entity", "record_id", "person_key"
    )
    keys = warehouse_db.sql(
        "select collectivite as source, entite as entity, record_id, person_id from intermediate.int_person_keys"
    ).pl()
    joined = keys.join(truth, on=["source", "entity", "record_id"], how="inner")
    assert joined.height == keys.height
    # Pairs of records: same true person vs same linked person.
    true_pairs = joined.group_by("person_key").agg(
        pl.col("person_id").n_unique().alias("n"), pl.len().alias("records")
    )
    linked = joined.group_by("person_id").agg(
        pl.col("person_key").n_unique().alias("n"), pl.len().alias("records")
    )
    precision = linked.filter(pl.col("n") == 1)["records"].sum() / linked["records"].sum()
    recall = true_pairs.filter(pl.col("n") == 1)["records"].sum() / true_pairs["records"].sum()
    assert precision >= 0.995, precision
    assert recall >= 0.995, recall


def test_dbt_sources_and_staging_mirror_the_contracts():
    import yaml

    from data_contracts import load_catalog
    from spifeb.warehouse import DBT_PROJECT_DIR

    catalog = load_catalog()
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    declared = project["vars"]["source_entities"]
    for source in catalog.sources:
        entities = [c.entity_name for c in catalog.contracts_for_source(source)]
        assert declared[source] == [e for e in entities if e != "operations_fse"]
        for entity in entities:
            assert (DBT_PROJECT_DIR / "models" / "staging" / f"stg_{source}__{entity}.sql").exists()
