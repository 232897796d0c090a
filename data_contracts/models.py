"""Typed shapes of the contract files, so that a malformed contract fails with a clear error."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

FieldType = Literal[
    "string",
    "code",
    "code_set",
    "date",
    "year_month",
    "datetime",
    "integer",
    "decimal",
    "boolean",
    "pseudonym",
    "commune",
    "list_of_struct",
]
PiiClass = Literal["pseudonym", "quasi_identifier", "none"]
DATE_TYPES = ("date", "year_month", "datetime")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeList(_Strict):
    label: str
    codes: dict[StrictStr, str]


class CanonicalField(_Strict):
    type: FieldType
    label: str
    pii: PiiClass = "none"
    required: bool = False
    code_list: str | None = None
    pattern: str | None = None
    min: float | None = None
    not_after_extract: bool = True
    struct: dict[str, CanonicalField] | None = None


class Entity(_Strict):
    label: str
    record_id: str
    person_level: bool
    updated_at: str | None = None
    date_order: list[tuple[str, str]] = Field(default_factory=list)
    fields: dict[str, CanonicalField]


class Physical(_Strict):
    """How the bytes of a file are laid out (spec section 3, per layout)."""

    format: Literal["csv", "xlsx", "jsonl"]
    encoding: str | None = None
    bom: bool = False
    delimiter: str | None = None
    quote_char: str | None = None
    line_terminator: str = "\n"
    header_row: int = 1
    title_rows: int = 0
    title: str | None = None
    total_row: bool = False
    total_label: str | None = None
    null_markers: list[str] = Field(default_factory=lambda: [""])
    null_written_as: str = ""
    date_format: str
    date_text_format: str | None = None
    datetime_format: str
    decimal_separator: str | None = None


class ColumnMapping(_Strict):
    """One native column (or JSON path) and the canonical field it feeds."""

    native: str
    field: str
    codes: dict[StrictStr, StrictStr | StrictBool | None] | None = None
    format: str | None = None
    separator: str | None = None
    cell: Literal["number"] | None = None
    struct: list[ColumnMapping] | None = None

    @cached_property
    def inverse_codes(self) -> dict[object, str]:
        """Shared code -> the first native code written for it (used to render extracts)."""
        inverse: dict[object, str] = {}
        for native, shared in (self.codes or {}).items():
            inverse.setdefault(shared, native)
        return inverse


class FileSpec(_Strict):
    name: str
    sheet: str | None = None

    def file_name(self, extract_date: dt.date) -> str:
        return self.name.format(extract_date=extract_date)


class Source(_Strict):
    source: str
    collectivite: str
    kind: Literal["region", "departement", "metropole"]
    layout: str
    layouts_common: list[str] = Field(default_factory=list)
    departement: str | None = None
    epci_siren: str | None = None
    spec_versions: list[str]


class Contract(_Strict):
    """A layout x entity contract, with its physical layout merged and its entity resolved."""

    layout: str
    spec_version: str
    entity_name: str
    entity: Entity
    file: FileSpec
    physical: Physical
    columns: list[ColumnMapping]
    path: str

    @property
    def name(self) -> str:
        return f"{self.layout}/{self.entity_name}"

    def column_for(self, field: str) -> ColumnMapping:
        return next(c for c in self.columns if c.field == field)

    @property
    def native_columns(self) -> list[str]:
        return [c.native for c in self.columns]


class Catalog(_Strict):
    """Everything the contracts say, loaded and cross-checked."""

    spec_version: str
    code_lists: dict[str, CodeList]
    entities: dict[str, Entity]
    rules: dict[str, str]
    refusals: dict[str, str]
    contracts: dict[str, Contract]
    sources: dict[str, Source]

    def contracts_for_source(self, source: str) -> list[Contract]:
        """The contracts of every file a source sends, in spec order."""
        src = self.sources[source]
        layouts = [src.layout, *src.layouts_common]
        return [c for layout in layouts for c in self.contracts.values() if c.layout == layout]

    def contract(self, source: str, entity: str) -> Contract:
        for c in self.contracts_for_source(source):
            if c.entity_name == entity:
                return c
        raise KeyError(f"source {source!r} sends no entity {entity!r}")
