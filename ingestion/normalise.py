"""Normalising half of ingestion: native text -> canonical fields and dtypes, from the contract.

`to_canonical(contract, native)` takes what `ingestion.readers.read_native` returns and gives a
`NormalisedFrame`:

- `frame`: `_line` plus one column per canonical field of the entity (entity order), with its
  canonical dtype (`canonical_dtype`);
- `errors`: one row per (line, field) whose value could not be converted, with the rule code and
  the French message of `rules.yaml` (formatted with the field's label, type and code list, never
  with the value). The value is null in `frame`.

Only values are converted here. Required fields, pseudonym shape, patterns, date order and dates
after the extract are checked by the pandera schema (`data_contracts.schemas`).

Conversion, by canonical type (values are trimmed first; an empty or blank value is null):

- `string`, `pseudonym`, `commune`: text as is.
- `code`: native code -> shared code through the column's `codes` (a code mapped to null, like
  layout C's "Non renseigné", is null without error); otherwise `code_inconnu`.
- `code_set`: split on the column's `separator` (surrounding spaces ignored, so `BRSA,TH` and
  `BRSA, TH` both split), each element mapped like a code, duplicates and unknown elements dropped
  (an unknown element is reported `code_inconnu`). `List(String)`.
- `boolean`: through `codes` to true/false; otherwise `type_invalide`.
- `date`, `year_month`: `column.format` if set, else `physical.date_format`; for workbooks
  (`date_format: excel`) the ISO text the reader produced for date cells, and
  `physical.date_text_format` for text cells. A month format without a day gives the 1st of the
  month; a month read from an Excel date cell keeps its day, so that the schema can flag one that
  is not the 1st (`mois_invalide`).
- `datetime`: `physical.datetime_format` (or `column.format`); with an offset (`%z`, `%:z`) the
  instant is converted to Europe/Paris, then the time zone dropped: every datetime is a naive
  Europe/Paris wall clock `Datetime("us")`.
- `integer` (Int64), `decimal` (Float64): plain numbers with `physical.decimal_separator` (`.`
  when unset); a thousands separator or the other decimal separator is refused.
- `list_of_struct`: each element converted sub-field by sub-field as above, sub-fields renamed
  to their canonical names; an error on a sub-field is reported under `field.subfield`.

A value that does not convert is reported `format_invalide` when it reads in another usual
format of its type (an ISO date where `JJ/MM/AAAA` is expected, `12.5` in a decimal-comma file,
a timestamp without its offset), `type_invalide` otherwise.

Everything is a vectorised polars expression; failing rows are classified on the (small) subset
of failing rows only.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import polars as pl

from data_contracts.loader import load_catalog
from data_contracts.models import (
    CanonicalField,
    Catalog,
    ColumnMapping,
    Contract,
    Physical,
)
from data_contracts.schemas import canonical_dtype

LINE = "_line"
TIME_ZONE = "Europe/Paris"
ERRORS_SCHEMA: dict[str, pl.DataType] = {
    LINE: pl.Int64(),
    "field": pl.String(),
    "rule": pl.String(),
    "message": pl.String(),
}

TYPE_INVALIDE = "type_invalide"
CODE_INCONNU = "code_inconnu"
FORMAT_INVALIDE = "format_invalide"

# How a type is named in French in the `{type}` placeholder of a message.
TYPE_LABELS = {
    "string": "texte",
    "code": "code",
    "code_set": "liste de codes",
    "date": "date",
    "year_month": "mois",
    "datetime": "date et heure",
    "integer": "nombre entier",
    "decimal": "nombre décimal",
    "boolean": "booléen (oui/non)",
    "pseudonym": "pseudonyme",
    "commune": "code commune INSEE",
    "list_of_struct": "liste structurée",
}

# Formats of the reader's ISO text for Excel date cells.
_ISO_DATE = "%Y-%m-%d"
_ISO_DATETIME = "%Y-%m-%dT%H:%M:%S%.f"
_EXCEL = "excel"
# Other usual ways of writing a date, month or timestamp (to tell a format error from garbage).
_OTHER_DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m",
    "%m/%Y",
    "%m-%Y",
)
_NUMBER_LIKE = r"^[+-]?[0-9][0-9\s\u00a0\u202f.,']*$"


@dataclass(frozen=True)
class NormalisedFrame:
    """Canonical rows (`frame`) and the values that could not be converted (`errors`)."""

    frame: pl.DataFrame
    errors: pl.DataFrame


@dataclass(frozen=True)
class _Conversion:
    value: pl.Expr  # the canonical value (null when the native value does not convert)
    failed: pl.Expr  # true where a non-null native value did not convert


@dataclass(frozen=True)
class _Target:
    """One canonical value to produce and check: a field, or a sub-field of a list of structs."""

    key: str  # `field` or `field.subfield`: the name errors are reported under
    field: CanonicalField
    column: ColumnMapping
    label: str
    parent_native: str | None = None  # for a sub-field: the native list column holding it


# --- Public API ----------------------------------------------------------------------------------


def to_canonical(
    contract: Contract, native: pl.DataFrame, catalog: Catalog | None = None
) -> NormalisedFrame:
    """Convert a native frame (text) to canonical fields and dtypes, reporting what fails."""
    catalog = catalog or load_catalog()
    missing = [c for c in [LINE, *contract.native_columns] if c not in native.columns]
    if missing:
        raise ValueError(f"{contract.name}: native frame lacks columns {missing}")
    fields = contract.entity.fields
    columns = {c.field: c for c in contract.columns}
    physical = contract.physical

    values = [
        _convert(_native(columns[name], fields[name]), fields[name], columns[name], physical)
        .value.cast(canonical_dtype(fields[name]))
        .alias(name)
        for name in fields
    ]
    targets = _targets(contract)
    flags = [_failed(t, physical).alias(f"__failed__{t.key}") for t in targets]
    result = native.lazy().select(pl.col(LINE).cast(pl.Int64), *values, *flags).collect()

    frame = result.select(LINE, *fields)
    errors = _errors(native, result, targets, physical, catalog)
    return NormalisedFrame(frame=frame, errors=errors)


# --- Conversions ---------------------------------------------------------------------------------


def _native(column: ColumnMapping, field: CanonicalField) -> pl.Expr:
    """The native column, cleaned when it is text (a list of structs is converted per element)."""
    expr = pl.col(column.native)
    return expr if field.type == "list_of_struct" else _clean(expr)


def _clean(expr: pl.Expr) -> pl.Expr:
    """Trimmed text, blank -> null."""
    trimmed = expr.str.strip_chars()
    return pl.when(trimmed != "").then(trimmed)


def _convert(
    raw: pl.Expr, field: CanonicalField, column: ColumnMapping, physical: Physical
) -> _Conversion:
    """The canonical value of `raw` (already cleaned) and where it failed."""
    match field.type:
        case "code" | "boolean":
            return _convert_code(raw, column, canonical_dtype(field))
        case "code_set":
            return _convert_code_set(raw, column)
        case "date" | "year_month":
            return _parsed(raw, _parse_date(raw, _date_formats(column, physical)))
        case "datetime":
            return _parsed(raw, _parse_datetime(raw, _datetime_formats(column, physical)))
        case "integer":
            valid = raw.str.contains(r"^[+-]?[0-9]+$")
            return _parsed(raw, pl.when(valid).then(raw.cast(pl.Int64, strict=False)))
        case "decimal":
            return _parsed(raw, _parse_decimal(raw, physical.decimal_separator or "."))
        case "list_of_struct":
            return _convert_list_of_struct(raw, field, column, physical)
        case _:
            return _Conversion(raw, pl.lit(False))


def _parsed(raw: pl.Expr, value: pl.Expr) -> _Conversion:
    return _Conversion(value, raw.is_not_null() & value.is_null())


def _convert_code(raw: pl.Expr, column: ColumnMapping, dtype: pl.DataType) -> _Conversion:
    codes = column.codes or {}
    value = raw.replace_strict(list(codes), list(codes.values()), default=None, return_dtype=dtype)
    return _Conversion(value, raw.is_not_null() & ~raw.is_in(list(codes)))


def _convert_code_set(raw: pl.Expr, column: ColumnMapping) -> _Conversion:
    codes = column.codes or {}
    separator = (column.separator or ",").strip() or (column.separator or ",")
    element = pl.element()
    parts = (
        raw.str.split(separator)
        .list.eval(element.str.strip_chars())
        .list.eval(element.filter(element != ""))
    )
    value = parts.list.eval(
        element.replace_strict(
            list(codes), list(codes.values()), default=None, return_dtype=pl.String
        )
        .drop_nulls()
        .unique(maintain_order=True)
    )
    failed = parts.list.eval(~element.is_in(list(codes))).list.any().fill_null(False)
    return _Conversion(value, failed)


def _convert_list_of_struct(
    raw: pl.Expr, field: CanonicalField, column: ColumnMapping, physical: Physical
) -> _Conversion:
    """`raw` is the reader's List(Struct) of text; each sub-field is converted in place."""
    subs = {s.field: s for s in column.struct or []}
    sub_fields = field.struct or {}
    element = pl.element()
    value = raw.list.eval(
        pl.struct(
            _convert(_clean(element.struct.field(subs[name].native)), sub, subs[name], physical)
            .value.cast(canonical_dtype(sub))
            .alias(name)
            for name, sub in sub_fields.items()
        )
    )
    # Failures are reported per sub-field (see `_targets`); the field itself never fails.
    return _Conversion(value, pl.lit(False))


def _date_formats(column: ColumnMapping, physical: Physical) -> list[str]:
    """The formats a date or month may be written in, in order of preference."""
    formats = [column.format] if column.format else []
    if physical.date_format == _EXCEL:
        formats += [_ISO_DATE, _ISO_DATETIME]
    elif not column.format:
        formats.append(physical.date_format)
    if physical.date_text_format:
        formats.append(physical.date_text_format)
    return list(dict.fromkeys(formats))


def _datetime_formats(column: ColumnMapping, physical: Physical) -> list[str]:
    base = column.format or physical.datetime_format
    formats = [_ISO_DATETIME, _ISO_DATE] if base == _EXCEL else [base]
    if physical.date_text_format:
        formats.append(physical.date_text_format)
    return list(dict.fromkeys(formats))


def _has_time(fmt: str) -> bool:
    return any(d in fmt for d in ("%H", "%T", "%R", "%z", "%:z", "%#z"))


def _has_offset(fmt: str) -> bool:
    return any(d in fmt for d in ("%z", "%:z", "%#z"))


def _has_day(fmt: str) -> bool:
    return any(d in fmt for d in ("%d", "%e", "%j", "%F", "%D"))


def _parse_date(raw: pl.Expr, formats: list[str]) -> pl.Expr:
    """A date from any of `formats`; a format without a day gives the 1st of the month."""
    parses = []
    for fmt in formats:
        if _has_time(fmt):
            parses.append(_to_naive_datetime(raw, fmt).dt.date())
        elif _has_day(fmt):
            parses.append(raw.str.to_date(fmt, strict=False))
        else:
            parses.append((raw + "|01").str.to_date(f"{fmt}|%d", strict=False))
    return pl.coalesce(parses) if len(parses) > 1 else parses[0]


def _parse_datetime(raw: pl.Expr, formats: list[str]) -> pl.Expr:
    parses = [
        _to_naive_datetime(raw, fmt)
        if _has_time(fmt)
        else raw.str.to_date(fmt, strict=False).cast(pl.Datetime("us"))
        for fmt in formats
    ]
    return pl.coalesce(parses) if len(parses) > 1 else parses[0]


def _to_naive_datetime(raw: pl.Expr, fmt: str) -> pl.Expr:
    """A naive Europe/Paris wall clock; an offset in the text is honoured, then dropped."""
    parsed = raw.str.to_datetime(fmt, time_unit="us", strict=False)
    if _has_offset(fmt):
        parsed = parsed.dt.convert_time_zone(TIME_ZONE).dt.replace_time_zone(None)
    return parsed


def _parse_decimal(raw: pl.Expr, separator: str) -> pl.Expr:
    if separator == ",":
        valid = raw.str.contains(r"^[+-]?([0-9]+(,[0-9]*)?|,[0-9]+)$")
        text = raw.str.replace(",", ".", literal=True)
    else:
        valid = raw.str.contains(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
        text = raw
    return pl.when(valid).then(text.cast(pl.Float64, strict=False))


# --- Errors --------------------------------------------------------------------------------------


def _targets(contract: Contract) -> list[_Target]:
    """Every value that can fail: each field, and each sub-field of a list of structs."""
    targets: list[_Target] = []
    columns = {c.field: c for c in contract.columns}
    for name, field in contract.entity.fields.items():
        column = columns[name]
        if field.type == "list_of_struct":
            subs = {s.field: s for s in column.struct or []}
            for sub_name, sub in (field.struct or {}).items():
                label = f"{field.label} : {sub.label}"
                targets.append(
                    _Target(f"{name}.{sub_name}", sub, subs[sub_name], label, column.native)
                )
        else:
            targets.append(_Target(name, field, column, field.label))
    return targets


def _failed(target: _Target, physical: Physical) -> pl.Expr:
    """True on the rows where this target failed (for a sub-field: in any element)."""
    if target.parent_native is None:
        raw = _clean(pl.col(target.column.native))
        return _convert(raw, target.field, target.column, physical).failed
    element = _clean(pl.element().struct.field(target.column.native))
    failed = _convert(element, target.field, target.column, physical).failed
    return pl.col(target.parent_native).list.eval(failed).list.any().fill_null(False)


def _errors(
    native: pl.DataFrame,
    result: pl.DataFrame,
    targets: list[_Target],
    physical: Physical,
    catalog: Catalog,
) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    for target in targets:
        flag = result.get_column(f"__failed__{target.key}")
        if not flag.any():
            continue
        failing = native.filter(flag)
        rule = _rule(target, physical)
        messages = {
            r: _message(catalog, r, target) for r in (TYPE_INVALIDE, CODE_INCONNU, FORMAT_INVALIDE)
        }
        parts.append(
            failing.select(
                pl.col(LINE).cast(pl.Int64),
                pl.lit(target.key, dtype=pl.String).alias("field"),
                rule.alias("rule"),
            ).with_columns(
                pl.col("rule").replace_strict(messages, return_dtype=pl.String).alias("message")
            )
        )
    if not parts:
        return pl.DataFrame(schema=ERRORS_SCHEMA)
    return pl.concat(parts).sort(LINE, maintain_order=True)


def _rule(target: _Target, physical: Physical) -> pl.Expr:
    """The rule a failing value breaks: evaluated on failing rows only."""
    kind = target.field.type
    if kind in ("code", "code_set"):
        return pl.lit(CODE_INCONNU, dtype=pl.String)
    if kind not in ("date", "year_month", "datetime", "integer", "decimal") or target.parent_native:
        return pl.lit(TYPE_INVALIDE, dtype=pl.String)
    raw = _clean(pl.col(target.column.native))
    if kind in ("integer", "decimal"):
        other_format = raw.str.contains(_NUMBER_LIKE)
    else:
        other_format = pl.any_horizontal(
            _parse_date(raw, [f]).is_not_null() for f in _OTHER_DATE_FORMATS
        )
    return pl.when(other_format).then(pl.lit(FORMAT_INVALIDE)).otherwise(pl.lit(TYPE_INVALIDE))


class _Placeholders(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _message(catalog: Catalog, rule: str, target: _Target) -> str:
    code_list = target.field.code_list
    placeholders = _Placeholders(
        label=target.label,
        type=TYPE_LABELS.get(target.field.type, target.field.type),
        code_list=catalog.code_lists[code_list].label if code_list in catalog.code_lists else "",
        min="" if target.field.min is None else f"{target.field.min:g}",
    )
    return string.Formatter().vformat(catalog.rules[rule], (), placeholders)
