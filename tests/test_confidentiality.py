"""Statistical confidentiality: small cells suppressed, and none recoverable by subtraction."""

from __future__ import annotations

import itertools

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from publication.secondary import TOTAL, protect, recoverable

THRESHOLD = 11


def _with_margins(inner: dict[tuple, int], dims: int) -> dict[tuple, int]:
    """Add every margin (any subset of dimensions at TOTAL) to a table of inner cells."""
    cells = dict(inner)
    for mask in itertools.product([False, True], repeat=dims):
        if not any(mask):
            continue
        for key, value in inner.items():
            margin = tuple(TOTAL if m else k for k, m in zip(key, mask, strict=True))
            cells[margin] = cells.get(margin, 0) + value
    return cells


def _primary(cells: dict[tuple, int]) -> set[tuple]:
    return {k for k, v in cells.items() if 0 < v < THRESHOLD}


tables = st.integers(min_value=1, max_value=3).flatmap(
    lambda dims: st.tuples(
        st.just(dims),
        st.lists(st.integers(min_value=2, max_value=4), min_size=dims, max_size=dims).flatmap(
            lambda sizes: st.lists(
                st.one_of(st.integers(0, 15), st.integers(15, 400)),
                min_size=int(__import__("math").prod(sizes)),
                max_size=int(__import__("math").prod(sizes)),
            ).map(lambda values: (sizes, values))
        ),
    )
)


@settings(max_examples=200, deadline=None)
@given(tables)
def test_no_small_cell_published_and_none_recoverable(table):
    dims, (sizes, values) = table
    inner = dict(
        zip(itertools.product(*[[f"v{i}" for i in range(n)] for n in sizes]), values, strict=True)
    )
    cells = _with_margins(inner, dims)
    names = [f"d{i}" for i in range(dims)]
    suppressed = protect(cells, _primary(cells), names)
    assert _primary(cells) <= suppressed
    published = {k: v for k, v in cells.items() if k not in suppressed}
    assert not [k for k, v in published.items() if 0 < v < THRESHOLD]
    assert recoverable(cells, suppressed, names) == []


def test_a_single_small_cell_takes_the_smallest_neighbour_with_it():
    inner = {("a", "x"): 5, ("a", "y"): 40, ("b", "x"): 30, ("b", "y"): 50}
    cells = _with_margins(inner, 2)
    suppressed = protect(cells, _primary(cells), ["d0", "d1"])
    # Row a and column x each need a second hidden cell: the cheapest pattern hides the 2 x 2 block.
    assert suppressed == {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}
    assert recoverable(cells, suppressed, ["d0", "d1"]) == []


def test_primary_suppression_blanks_statistics_on_small_groups(monkeypatch):
    import publication.confidentiality as confidentiality

    rules = {"confidentiality": {"threshold": 11, "flag_column": "secret_statistique",
                                 "tables": {"marts.t": {"groups": [{"counts": ["n"], "dependents": ["taux"]}]}}}}  # fmt: skip
    monkeypatch.setattr(confidentiality, "rules", lambda: rules)
    frame = pl.DataFrame({"n": [0, 4, 11], "taux": [0.0, 0.5, 0.3]})
    out = confidentiality.suppress("marts.t", frame)
    assert out.to_dicts() == [
        {"n": 0, "taux": 0.0, "secret_statistique": False},
        {"n": None, "taux": None, "secret_statistique": True},
        {"n": 11, "taux": 0.3, "secret_statistique": False},
    ]


def test_tables_with_dimensions_get_secondary_suppression(monkeypatch):
    import publication.confidentiality as confidentiality

    rules = {"confidentiality": {"threshold": 11, "flag_column": "secret_statistique",
             "tables": {"marts.t": {"groups": [{"counts": ["n"]}], "dimensions": ["sexe", "annee"]}}}}  # fmt: skip
    monkeypatch.setattr(confidentiality, "rules", lambda: rules)
    inner = {("1", "2023"): 5, ("1", "2024"): 40, ("2", "2023"): 30, ("2", "2024"): 50}
    cells = _with_margins(inner, 2)
    frame = pl.DataFrame([{"sexe": k[0], "annee": k[1], "n": v} for k, v in cells.items()])
    out = confidentiality.suppress("marts.t", frame)
    hidden = {(r["sexe"], r["annee"]) for r in out.filter(pl.col("secret_statistique")).to_dicts()}
    assert ("1", "2023") in hidden and recoverable(cells, hidden, ["sexe", "annee"]) == []
    assert out.filter(pl.col("secret_statistique"))["n"].null_count() == len(hidden)


# --- Relations beyond margins, on a real publication (the attacks a reviewer ran) ---------------


def _published(publication_root, table: str) -> pl.DataFrame:
    import duckdb

    path = publication_root / "current" / "spifeb.duckdb"
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.sql(f"select * from {table}").pl()


def test_linked_groups_make_one_suppressed_cell_take_another():
    cells = {("EMPLOI",): 5, ("FORMATION",): 40, ("RSA",): 30}  # add up to a published total
    linked = [[("EMPLOI",), ("FORMATION",), ("RSA",)]]
    hidden = protect(cells, {("EMPLOI",)}, ["situation"], linked)
    assert hidden == {("EMPLOI",), ("RSA",)}  # the smallest other part goes too
    assert recoverable(cells, {("EMPLOI",)}, ["situation"], linked) == [("EMPLOI",)]
    assert recoverable(cells, hidden, ["situation"], linked) == []


def test_grid_rows_on_the_same_persons_are_suppressed_together(publication_root):
    from publication.confidentiality import linked_groups, rules

    spec = rules()["confidentiality"]["tables"]["marts.grille_indicateurs"]
    grid = _published(publication_root, "marts.grille_indicateurs")
    dims = spec["dimensions"]
    flagged = grid.filter(pl.col("secret_statistique"))
    assert not flagged.is_empty()
    for family in spec["linked"]["same_persons"]:
        rows = grid.filter(pl.col("code_indicateur").is_in(family))
        mixed = rows.group_by([d for d in dims if d != "code_indicateur"]).agg(
            pl.col("secret_statistique").n_unique().alias("states")
        )
        assert mixed.filter(pl.col("states") > 1).is_empty(), family
    keys = [tuple(r) for r in grid.select(pl.col(d).cast(pl.String) for d in dims).iter_rows()]
    hidden = {k for k, s in zip(keys, grid["secret_statistique"], strict=True) if s}
    links = linked_groups(keys, dims, spec["linked"])
    assert recoverable(dict.fromkeys(keys, 0), hidden, dims, links) == []


def test_no_rsa_orientation_is_the_denominator_minus_the_others(publication_root):
    rsa = _published(publication_root, "marts.rsa_indicateurs")
    shares = ["rsa_part_orientation_pro_num", "rsa_part_orientation_socio_pro_num",
              "rsa_part_orientation_sociale_num"]  # fmt: skip
    hidden = rsa.select(pl.sum_horizontal(pl.col(c).is_null().cast(pl.Int8) for c in shares))
    assert 1 not in hidden.to_series().to_list()


def test_no_cohort_situation_is_the_observed_minus_the_others(publication_root):
    cohorts = _published(publication_root, "marts.cohortes_agregees")
    keys = ["dispositif", "collectivite", "annee_entree", "trimestre_entree", "public",
            "horizon_mois"]  # fmt: skip
    per_horizon = cohorts.group_by(keys).agg(
        pl.col("effectif").is_null().sum().alias("hidden"),
        pl.col("observes").is_not_null().any().alias("total_shown"),
    )
    assert per_horizon.filter(pl.col("total_shown") & (pl.col("hidden") == 1)).is_empty()
