"""Row-level validation of one file: every row read ends up landed, quarantined or superseded.

The checks run all at once (lazily): conversion of native values (`normalise`), then the pandera
schema built from the contracts (types, code lists, pseudonyms, date order, no date after the
extract), then duplicates of a record id (the latest update wins; older versions are superseded,
not lost). Former commune codes are replaced by current ones before landing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from data_contracts import Contract, load_catalog
from data_contracts.schemas import build_schema, validation_errors
from ingestion.normalise import to_canonical
from ingestion.readers import LINE
from ingestion.territory import current_commune

PSEUDONYMS = ("pseudo_nir", "pseudo_ec")


@dataclass(frozen=True)
class ValidatedRows:
    landed: pl.DataFrame  # canonical fields + _line
    quarantined: pl.DataFrame  # _line, valeurs_origine, regles, champs, message
    superseded: pl.DataFrame  # canonical fields + _line + _remplace_par_ligne
    opposed: int


def without_opposed(
    contract: Contract, native: pl.DataFrame, opposed: frozenset[str]
) -> pl.DataFrame:
    """Rows about a person who objected never land (spec section 2, right to object)."""
    if not opposed or not contract.entity.person_level:
        return native
    columns = [contract.column_for(p).native for p in PSEUDONYMS]
    about_opposed = pl.any_horizontal(
        pl.col(c).str.strip_chars().is_in(list(opposed)) for c in columns
    )
    return native.filter(~about_opposed.fill_null(False))


def _messages(contract: Contract, errors: pl.DataFrame) -> pl.DataFrame:
    """French message of each (line, field, rule) found by the schema."""
    catalog = load_catalog()
    fields = contract.entity.fields
    ends = {end: start for start, end in contract.entity.date_order}

    def message(field: str, rule: str) -> str:
        spec = fields.get(field)
        return catalog.rules[rule].format(
            label=spec.label if spec else "pseudonymes",
            type=spec.type if spec else "",
            code_list=spec.code_list if spec else "",
            min=spec.min if spec else "",
            end_label=spec.label if spec else "",
            start_label=fields[ends[field]].label if field in ends else "",
        )

    return errors.with_columns(
        message=pl.struct("field", "rule").map_elements(
            lambda r: message(r["field"], r["rule"]), return_dtype=pl.String
        )
    )


def _native_text(native: pl.DataFrame) -> pl.DataFrame:
    """Each row's original values as one JSON text (what the data steward needs to fix it)."""
    columns = [c for c in native.columns if c != LINE]
    return native.select(LINE, valeurs_origine=pl.struct(columns).struct.json_encode())


def _duplicates(contract: Contract, frame: pl.DataFrame) -> pl.DataFrame:
    """Lines holding an older version of a record repeated in the file, with the winning line."""
    entity = contract.entity
    order = [entity.updated_at, LINE] if entity.updated_at else [LINE]
    ranked = frame.select(entity.record_id, *order).filter(pl.col(entity.record_id).is_not_null())
    winners = (
        ranked.sort(order, nulls_last=False)
        .group_by(entity.record_id)
        .agg(pl.col(LINE).last().alias("_remplace_par_ligne"))
    )
    return (
        ranked.join(winners, on=entity.record_id)
        .filter(pl.col(LINE) != pl.col("_remplace_par_ligne"))
        .select(LINE, "_remplace_par_ligne")
    )


def validate_rows(
    contract: Contract,
    native: pl.DataFrame,
    extract_date: dt.date,
    opposed: frozenset[str] = frozenset(),
) -> ValidatedRows:
    kept = without_opposed(contract, native, opposed)
    normalised = to_canonical(contract, kept)
    frame = normalised.frame.with_columns(
        current_commune(name) for name, f in contract.entity.fields.items() if f.type == "commune"
    )
    schema = build_schema(contract.entity_name, extract_date)
    schema_errors = validation_errors(schema, frame.drop(LINE))
    lines = frame.select(LINE).with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    schema_errors = _messages(contract, schema_errors.join(lines, on="index").drop("index"))
    errors = pl.concat(
        [
            normalised.errors.select(LINE, "field", "rule", "message"),
            schema_errors.select(LINE, "field", "rule", "message"),
        ]
    ).unique(maintain_order=True)
    by_line = errors.group_by(LINE, maintain_order=True).agg(
        regles=pl.col("rule"), champs=pl.col("field"), message=pl.col("message").str.join(" ; ")
    )
    duplicates = _duplicates(contract, frame).join(by_line.select(LINE), on=LINE, how="anti")
    failed = kept.join(by_line.select(LINE), on=LINE, how="semi")
    quarantined = _native_text(failed).join(by_line, on=LINE, how="inner")
    superseded = frame.join(duplicates, on=LINE, how="inner")
    landed = frame.join(by_line.select(LINE), on=LINE, how="anti").join(
        duplicates.select(LINE), on=LINE, how="anti"
    )
    return ValidatedRows(landed, quarantined, superseded, opposed=native.height - kept.height)
