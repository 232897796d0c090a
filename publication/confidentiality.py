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


def _count(expression: str) -> pl.Expr:
    """A count column by name, or a SQL expression giving the count a statistic rests on."""
    return pl.sql_expr(expression) if not expression.isidentifier() else pl.col(expression)


def suppress(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table as published: small counts and what rests on them blanked, rows flagged.

    A table's rules list groups: each group's `counts` (column names or SQL expressions) are the
    persons its statistics rest on; when one of them is small, the group's count columns and its
    `dependents` are blanked. With `dimensions`, secondary suppression follows
    (`secondary.protect`): no margin published alongside lets anyone recompute a suppressed cell,
    nor any `linked` group of rows (see `linked_groups`). `same_persons` lists groups (by their
    first count) resting on the same persons in one row: one suppressed suppresses the others.
    """
    config = rules()["confidentiality"]
    spec = config["tables"].get(table)
    if spec is None or frame.is_empty():
        return frame
    threshold, flag = config["threshold"], config["flag_column"]
    flagged = pl.Series(flag, [False] * frame.height)
    hidden: dict[str, pl.Series] = {}
    small = {}
    dims = spec.get("dimensions")
    if dims:  # the cells and their relations, once for every group of counts
        keys = _keys(frame, dims)
        links = linked_groups(keys, dims, spec.get("linked", {}))
    for group in spec["groups"]:
        is_small = frame.select(
            pl.any_horizontal(
                ((_count(c) > 0) & (_count(c) < threshold)).fill_null(False)
                for c in group["counts"]
            )
        ).to_series()
        if dims:
            is_small = _secondary(frame, keys, dims, group["counts"][0], is_small, links)
        small[group["counts"][0]] = is_small
    for together in spec.get("same_persons", []):
        any_small = pl.Series([False] * frame.height)
        for first_count in together:
            any_small = any_small | small[first_count]
        small |= dict.fromkeys(together, any_small)
    for group in spec["groups"]:
        is_small = small[group["counts"][0]]
        flagged = flagged | is_small
        for column in [c for c in group["counts"] if c.isidentifier()] + group.get(
            "dependents", []
        ):
            hidden[column] = hidden[column] | is_small if column in hidden else is_small
    blanks = [pl.when(mask).then(None).otherwise(pl.col(c)).alias(c) for c, mask in hidden.items()]
    return frame.with_columns(blanks).with_columns(flagged.alias(flag))


def _keys(frame: pl.DataFrame, dims: list[str]) -> list[tuple]:
    return [
        tuple(row)
        for row in frame.select(pl.col(d).cast(pl.String).fill_null("") for d in dims).iter_rows()
    ]


def linked_groups(keys: list[tuple], dims: list[str], linked: dict) -> list[list[tuple]]:
    """Rows tied by a relation other than a margin, as groups of cell keys.

    `linked`: {dimension: the dimension whose values tie rows, sums: [[values…]], same_persons:
    [[values…]]}. `sums`: rows with these values (all other dimensions equal) add up to a total
    published beside them; `same_persons`: such rows count the same persons (every pair is a
    group, so one suppressed suppresses them all)."""
    if not linked:
        return []
    axis = dims.index(linked["dimension"])
    rest = [i for i in range(len(dims)) if i != axis]
    by_rest: dict[tuple, dict[str, tuple]] = {}
    for key in keys:
        by_rest.setdefault(tuple(key[i] for i in rest), {})[key[axis]] = key
    groups = []
    for members in by_rest.values():
        for values in linked.get("sums", []):
            groups.append([members[v] for v in values if v in members])
        for values in linked.get("same_persons", []):
            present = [members[v] for v in values if v in members]
            groups += [[a, b] for i, a in enumerate(present) for b in present[i + 1 :]]
    return [g for g in groups if len(g) > 1]


def _secondary(
    frame: pl.DataFrame,
    keys: list[tuple],
    dims: list[str],
    cost: str,
    is_small: pl.Series,
    links: list,
) -> pl.Series:
    costs = frame.select(_count(cost).fill_null(0)).to_series().to_list()
    cells = dict(zip(keys, costs, strict=True))
    suppressed = protect(
        cells, {k for k, hidden in zip(keys, is_small, strict=True) if hidden}, dims, links
    )
    return pl.Series([k in suppressed for k in keys])
