"""Secondary suppression: after small cells are suppressed, make sure no published total lets
anyone recompute one of them by subtraction.

A table is in long format: dimension columns (with a `TOTAL` value on margin rows) and a count.
Every *group* is one dimension varying while the others are fixed, together with its margin row
(the same cell with that dimension at `TOTAL`): the margin equals the sum of the parts, so a group
with exactly one suppressed cell (part or margin) gives that cell away. Hierarchies (EPCI within
département) are groups too when the child dimension's rows carry their parent's value.

τ-Argus (modular and hypercube methods) and R's sdcTable solve this optimally with linear
programming; no maintained Python package does it (the Python options found were unmaintained
wrappers or toy code), so this module implements the classic hypercube-style heuristic: while a
group has exactly one suppressed cell, also suppress the cell of that group that costs least to
lose (the smallest non-zero count, then the one already suppressed elsewhere). It terminates
(each step suppresses one more cell) and guarantees the property the tests check: no group has a
single suppressed cell. It may suppress more than an optimal solver would.

Margins are not the only way to subtract. `linked` groups add the other relations a table
publishes: rows whose counts add up to a total published beside them (the five situations at six
months and their common denominator), or rows resting on the same persons (exits and the median
duration of those exits): a linked group with exactly one suppressed cell gives it away too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

TOTAL = "TOTAL"
Key = tuple


def _groups(cells: dict[Key, float], dims: Sequence[str]) -> list[list[Key]]:
    """Every margin with its parts: one list per (varying dimension, fixed other values)."""
    groups = []
    for axis in range(len(dims)):
        members: dict[Key, list[Key]] = defaultdict(list)
        for key in cells:
            if key[axis] != TOTAL:
                members[(*key[:axis], TOTAL, *key[axis + 1 :])].append(key)
        for margin, parts in members.items():
            if margin in cells and len(parts) > 0:
                groups.append([margin, *parts])
    return groups


def _all_groups(
    cells: dict[Key, float], dims: Sequence[str], linked: Sequence[Sequence[Key]]
) -> list[list[Key]]:
    """The margins' groups and the linked ones: a group with one suppressed cell gives it away."""
    return _groups(cells, dims) + [list(group) for group in linked if len(group) > 1]


def protect(
    cells: dict[Key, float],
    suppressed: set[Key],
    dims: Sequence[str],
    linked: Sequence[Sequence[Key]] = (),
) -> set[Key]:
    """The suppressed cells after secondary suppression (a superset of `suppressed`)."""
    result = set(suppressed)
    groups = _all_groups(cells, dims, linked)
    changed = True
    while changed:
        changed = False
        for group in groups:
            hidden = [k for k in group if k in result]
            if len(hidden) != 1:
                continue
            candidates = [k for k in group if k not in result]
            if not candidates:
                continue
            # Lose as little as possible: a zero reveals nothing useful to hide, prefer the
            # smallest non-zero count; parts before the margin.
            best = min(candidates, key=lambda k: (cells[k] == 0, cells[k], k[0] == TOTAL))
            result.add(best)
            changed = True
    return result


def recoverable(
    cells: dict[Key, float],
    suppressed: set[Key],
    dims: Sequence[str],
    linked: Sequence[Sequence[Key]] = (),
) -> list[Key]:
    """Suppressed cells a reader could recompute from one margin or one linked group by
    subtraction (should be none)."""
    exposed = []
    for group in _all_groups(cells, dims, linked):
        hidden = [k for k in group if k in suppressed]
        if len(hidden) == 1:
            exposed.append(hidden[0])
    return exposed
