"""What a source's system shows on an extract date: the full snapshot of one entity.

Generic rules, driven by the `lifecycle` section of the parameter file: a record appears once
recorded and disappears once deleted; a date not reached yet is unknown, and so are the fields it
reveals (an exit reason before the exit); a corrected code shows its earlier value before the
correction; only records with activity on or after the cut-off are sent (spec section 1).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from data_contracts.models import Entity
from data_contracts.schemas import canonical_dtype
from spifeb.synthetic.world import to_days

TRUTH_COLUMNS = ("person_key",)


def snapshot(
    history: pl.DataFrame, entity_name: str, entity: Entity, extract_date: dt.date, params: dict
) -> pl.DataFrame:
    """The canonical frame of one entity as extracted on `extract_date` (plus `person_key`)."""
    day = to_days(extract_date)
    life = params["lifecycle"]
    frame = history.filter(
        (pl.col("_visible_from") <= day)
        & (pl.col("_deleted_from").is_null() | (pl.col("_deleted_from") > day))
    )
    correctable = life["correctable"].get(entity_name)
    if correctable:
        frame = frame.with_columns(
            pl.when(pl.col("_corrected_on") > day)
            .then(pl.col("_before_correction"))
            .otherwise(pl.col(correctable))
            .alias(correctable)
        )
    reveal = life["reveal"].get(entity_name, {})
    hidden = {date_field: pl.col(date_field) > day for date_field in reveal}
    frame = frame.with_columns(
        [pl.when(~cond).then(pl.col(f)).alias(f) for f in reveal for cond in [hidden[f]]]
        + [pl.when(~hidden[d]).then(pl.col(f)).alias(f) for d, deps in reveal.items() for f in deps]
    )
    start, end = life["activity"][entity_name]
    cutoff = to_days(params["activity_cutoff"])
    frame = frame.filter(
        (pl.col(start) >= cutoff) | pl.col(end).is_null() | (pl.col(end) >= cutoff)
    )
    if entity.updated_at:
        frame = frame.with_columns(_last_update(reveal, day).alias(entity.updated_at))
    return _canonical(frame, entity)


def _last_update(reveal: dict[str, list[str]], day: int) -> pl.Expr:
    """Timestamp of the latest event known on the extract date (recording, reveals, correction)."""
    events = [pl.col("_visible_from")]
    events += [pl.when(pl.col(d) <= day).then(pl.col(d)) for d in reveal]
    events.append(pl.when(pl.col("_corrected_on") <= day).then(pl.col("_corrected_on")))
    latest = pl.min_horizontal(pl.max_horizontal(events), pl.lit(day))
    seconds = latest.cast(pl.Int64) * 86_400 + pl.col("_maj_seconds")
    return (seconds * 1_000_000).cast(pl.Datetime("us"))


def _canonical(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """Entity fields in order with canonical dtypes (days -> dates), plus the truth columns."""
    columns = []
    for name, field in entity.fields.items():
        dtype = canonical_dtype(field)
        if field.type in ("date", "year_month"):
            columns.append(pl.col(name).cast(pl.Int32).cast(pl.Date))
        else:
            columns.append(pl.col(name).cast(dtype))
    return frame.select(*columns, *TRUTH_COLUMNS)
