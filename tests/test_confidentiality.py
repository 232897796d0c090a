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
