"""Pandera (polars) schemas built from the contracts: the row-level rules of every landed entity.

Every check carries a rule code from `canonical/rules.yaml` as its name, so a failure case can be
turned into the French message a data steward reads in quarantine.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from data_contracts.loader import load_catalog
from data_contracts.models import DATE_TYPES, CanonicalField, Catalog, Entity

PSEUDONYM_PATTERN = r"^[0-9a-f]{32}$"
COMMUNE_PATTERN = r"^(2[AB]|[0-9]{2})[0-9]{3}$"


def canonical_dtype(field: CanonicalField) -> pl.DataType:
    """The canonical polars dtype of a field, whatever layout it came from."""
    simple: dict[str, pl.DataType] = {
        "string": pl.String(),
        "code": pl.String(),
        "pseudonym": pl.String(),
        "commune": pl.String(),
        "code_set": pl.List(pl.String()),
        "date": pl.Date(),
        "year_month": pl.Date(),
        "datetime": pl.Datetime("us"),
        "integer": pl.Int64(),
        "decimal": pl.Float64(),
        "boolean": pl.Boolean(),
    }
    if field.type == "list_of_struct":
        return pl.List(
            pl.Struct({name: canonical_dtype(sub) for name, sub in (field.struct or {}).items()})
        )
    return simple[field.type]


def canonical_schema(entity: Entity) -> pl.Schema:
    """Column names and dtypes of an entity's canonical frame, in the entity's field order."""
    return pl.Schema({name: canonical_dtype(field) for name, field in entity.fields.items()})


def empty_frame(entity: Entity) -> pl.DataFrame:
    """A canonical frame with no rows."""
    return pl.DataFrame(schema=canonical_schema(entity))


def _code_set_check(codes: list[str]) -> pa.Check:
    def all_elements_known(data: pa.PolarsData) -> pl.LazyFrame:
        column = pl.col(data.key)
        known = column.list.eval(pl.element().is_in(codes)).list.all()
        return data.lazyframe.select(known.fill_null(True))

    return pa.Check(all_elements_known, name="code_inconnu", element_wise=False)


def _field_checks(
    field: CanonicalField, catalog: Catalog, extract_date: dt.date | None
) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if field.type == "code":
        codes = list(catalog.code_lists[field.code_list].codes)
        checks.append(pa.Check.isin(codes, name="code_inconnu"))
    elif field.type == "code_set":
        checks.append(_code_set_check(list(catalog.code_lists[field.code_list].codes)))
    elif field.type == "pseudonym":
        checks.append(pa.Check.str_matches(PSEUDONYM_PATTERN, name="pseudonyme_invalide"))
    elif field.type == "commune":
        checks.append(pa.Check.str_matches(COMMUNE_PATTERN, name="format_invalide"))
    elif field.type == "year_month":
        checks.append(
            pa.Check(
                lambda d: d.lazyframe.select(pl.col(d.key).dt.day() == 1), name="mois_invalide"
            )
        )
    if field.pattern:
        checks.append(pa.Check.str_matches(field.pattern, name="format_invalide"))
    if field.min is not None:
        checks.append(pa.Check.ge(field.min, name="valeur_negative"))
    if extract_date is not None and field.type in DATE_TYPES and field.not_after_extract:
        limit = (
            dt.datetime.combine(extract_date, dt.time.max)
            if field.type == "datetime"
            else extract_date
        )
        checks.append(pa.Check.le(limit, name="date_future"))
    return checks


def _has_pseudonym(data: pa.PolarsData) -> pl.LazyFrame:
    def well_formed(name: str) -> pl.Expr:
        return pl.col(name).str.contains(PSEUDONYM_PATTERN).fill_null(False)

    return data.lazyframe.select(well_formed("pseudo_nir") | well_formed("pseudo_ec"))


def _end_not_before_start(start: str, end: str):
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        ok = (pl.col(end) >= pl.col(start)).fill_null(True)
        return data.lazyframe.select(ok)

    return check


def entity_checks(entity: Entity) -> list[pa.Check]:
    """Row-level rules that involve several fields of an entity."""
    checks: list[pa.Check] = []
    if entity.person_level:
        checks.append(pa.Check(_has_pseudonym, name="sans_pseudonyme"))
    for start, end in entity.date_order:
        checks.append(
            pa.Check(
                _end_not_before_start(start, end),
                name="fin_avant_debut",
                title=f"{start}<={end}",
                description=f"{end} >= {start}",
            )
        )
    return checks


def build_schema(
    entity_name: str, extract_date: dt.date | None = None, catalog: Catalog | None = None
) -> pa.DataFrameSchema:
    """The pandera schema of a canonical entity (checks of future dates need the extract date)."""
    catalog = catalog or load_catalog()
    entity = catalog.entities[entity_name]
    columns = {
        name: pa.Column(
            canonical_dtype(field),
            checks=_field_checks(field, catalog, extract_date),
            nullable=not field.required,
            required=True,
            title=field.label,
        )
        for name, field in entity.fields.items()
    }
    return pa.DataFrameSchema(
        columns,
        checks=entity_checks(entity),
        name=entity_name,
        strict="filter",
        coerce=False,
    )


VALIDATION_ERROR_SCHEMA = {"index": pl.Int64(), "field": pl.String(), "rule": pl.String()}


def _rule_name(schema: pa.DataFrameSchema, context: str, column: str, check_number) -> str:
    if context == "DataFrameSchema":
        return schema.checks[check_number].name
    if check_number is None:
        return "champ_obligatoire"
    return schema.columns[column].checks[check_number].name


def validation_errors(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """Validate lazily (all errors at once); one row per (row index, field, rule) that failed.

    Row-level rules that span fields (no pseudonym, end before start) are reported on the field
    named by the rule: the entity itself for the pseudonym rule, the end date for date order.
    """
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.filter(pl.col("index").is_not_null())
        if cases.height < exc.failure_cases.height:
            # Failures without a row (wrong dtype, missing column) are bugs upstream, not data.
            raise
        rows = [
            {
                "index": int(case["index"]),
                "field": _failed_field(schema, case),
                "rule": _rule_name(
                    schema, case["schema_context"], case["column"], case["check_number"]
                ),
            }
            for case in cases.iter_rows(named=True)
        ]
        return pl.DataFrame(rows, schema=VALIDATION_ERROR_SCHEMA).unique(maintain_order=True)
    return pl.DataFrame(schema=VALIDATION_ERROR_SCHEMA)


def _failed_field(schema: pa.DataFrameSchema, case: dict) -> str:
    if case["schema_context"] != "DataFrameSchema":
        return case["column"]
    check = schema.checks[case["check_number"]]
    if check.name == "fin_avant_debut":
        return check.title.split("<=")[1]
    return "pseudo_nir,pseudo_ec"
