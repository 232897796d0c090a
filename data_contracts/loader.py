"""Load the contract files once, validate their shape and cross-check them against each other."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from data_contracts.models import (
    Catalog,
    CodeList,
    ColumnMapping,
    Contract,
    Entity,
    FileSpec,
    Physical,
    Source,
)

CONTRACTS_DIR = Path(__file__).parent
SUPPORTED_SPEC_VERSIONS = ("1.0",)


class ContractError(ValueError):
    """A contract file is malformed or inconsistent with the others."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(path, f"not valid YAML ({exc})") from exc
    if not isinstance(content, dict):
        raise ContractError(path, "expected a mapping at the top level")
    return content


def _parse(model: type, data: Any, path: Path, where: str = ""):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ContractError(path, f"{where}{problems}") from exc


def _check_spec_version(content: dict[str, Any], path: Path) -> str:
    version = str(content.get("spec_version", ""))
    if version not in SUPPORTED_SPEC_VERSIONS:
        raise ContractError(path, f"unsupported spec_version {version!r}")
    return version


def _load_canonical(
    root: Path,
) -> tuple[dict[str, CodeList], dict[str, Entity], dict[str, str], dict[str, str]]:
    code_lists_path = root / "canonical" / "code_lists.yaml"
    content = _read_yaml(code_lists_path)
    _check_spec_version(content, code_lists_path)
    code_lists = {
        name: _parse(CodeList, body, code_lists_path, f"code list {name}: ")
        for name, body in (content.get("code_lists") or {}).items()
    }
    entities_path = root / "canonical" / "entities.yaml"
    content = _read_yaml(entities_path)
    _check_spec_version(content, entities_path)
    entities = {
        name: _parse(Entity, body, entities_path, f"entity {name}: ")
        for name, body in (content.get("entities") or {}).items()
    }
    rules_path = root / "canonical" / "rules.yaml"
    content = _read_yaml(rules_path)
    _check_spec_version(content, rules_path)
    rules = {str(k): str(v) for k, v in (content.get("rules") or {}).items()}
    refusals = {str(k): str(v) for k, v in (content.get("refusals") or {}).items()}
    for name, entity in entities.items():
        _check_entity(name, entity, code_lists, entities_path)
    return code_lists, entities, rules, refusals


def _check_entity(name: str, entity: Entity, code_lists: dict[str, CodeList], path: Path) -> None:
    fields = entity.fields
    for key in [
        entity.record_id,
        entity.updated_at,
        *(f for pair in entity.date_order for f in pair),
    ]:
        if key is not None and key not in fields:
            raise ContractError(path, f"entity {name}: refers to unknown field {key!r}")
    if entity.person_level and not {"pseudo_nir", "pseudo_ec"} <= fields.keys():
        raise ContractError(path, f"entity {name}: person-level entities need both pseudonyms")
    for field_name, field in fields.items():
        for sub_name, sub in [(field_name, field), *(field.struct or {}).items()]:
            if sub.type in ("code", "code_set") and sub.code_list not in code_lists:
                raise ContractError(
                    path, f"entity {name}, field {sub_name}: unknown code list {sub.code_list!r}"
                )
        if (field.type == "list_of_struct") != (field.struct is not None):
            raise ContractError(
                path, f"entity {name}, field {field_name}: struct is required for list_of_struct"
            )


def _load_layout(
    layout_dir: Path, entities: dict[str, Entity], code_lists: dict[str, CodeList]
) -> dict[str, Contract]:
    layout_path = layout_dir / "layout.yaml"
    layout_content = _read_yaml(layout_path)
    version = _check_spec_version(layout_content, layout_path)
    layout = str(layout_content.get("layout", ""))
    if layout != layout_dir.name:
        raise ContractError(layout_path, f"layout {layout!r} does not match its folder name")
    contracts: dict[str, Contract] = {}
    for entity_name in layout_content.get("entities") or []:
        path = layout_dir / f"{entity_name}.yaml"
        if not path.exists():
            raise ContractError(
                layout_path, f"lists entity {entity_name!r} but {path.name} is missing"
            )
        contracts[f"{layout}/{entity_name}"] = _load_contract(
            path, layout, version, layout_content.get("physical") or {}, entities, code_lists
        )
    return contracts


def _load_contract(
    path: Path,
    layout: str,
    version: str,
    layout_physical: dict[str, Any],
    entities: dict[str, Entity],
    code_lists: dict[str, CodeList],
) -> Contract:
    content = _read_yaml(path)
    entity_name = content.get("entity")
    if entity_name != path.stem:
        raise ContractError(path, f"entity {entity_name!r} does not match the file name")
    if entity_name not in entities:
        raise ContractError(path, f"unknown canonical entity {entity_name!r}")
    physical = _parse(
        Physical,
        {**layout_physical, **(content.get("physical") or {})},
        path,
        "physical (layout.yaml merged with this file): ",
    )
    columns = [
        _parse(ColumnMapping, column, path, f"column {i + 1}: ")
        for i, column in enumerate(content.get("columns") or [])
    ]
    file_spec = _parse(FileSpec, content.get("file"), path, "file: ")
    try:
        file_spec.file_name(dt.date(2025, 1, 31))
    except (KeyError, ValueError, IndexError) as exc:
        raise ContractError(
            path, f"file name pattern {file_spec.name!r} is invalid ({exc})"
        ) from exc
    entity = entities[entity_name]
    _check_columns(path, entity, columns, code_lists)
    return Contract(
        layout=layout,
        spec_version=version,
        entity_name=entity_name,
        entity=entity,
        file=file_spec,
        physical=physical,
        columns=columns,
        path=str(path.relative_to(CONTRACTS_DIR) if path.is_relative_to(CONTRACTS_DIR) else path),
    )


def _check_columns(
    path: Path, entity: Entity, columns: list[ColumnMapping], code_lists: dict[str, CodeList]
) -> None:
    mapped = [c.field for c in columns]
    for field in mapped:
        if field not in entity.fields:
            raise ContractError(path, f"column maps to unknown field {field!r}")
    duplicated = {f for f in mapped if mapped.count(f) > 1}
    if duplicated:
        raise ContractError(path, f"fields mapped twice: {sorted(duplicated)}")
    natives = [c.native for c in columns]
    if len(set(natives)) != len(natives):
        raise ContractError(path, "a native column is listed twice")
    missing = [f for f in entity.fields if f not in mapped]
    if missing:
        raise ContractError(path, f"canonical fields not mapped: {missing}")
    for column in columns:
        _check_column(path, column, entity.fields[column.field], code_lists)


def _check_column(
    path: Path, column: ColumnMapping, field, code_lists: dict[str, CodeList]
) -> None:
    where = f"column {column.native!r}"
    if field.type in ("code", "code_set"):
        if not column.codes:
            raise ContractError(path, f"{where}: a code field needs its native code mapping")
        allowed = code_lists[field.code_list].codes
        unknown = [s for s in column.codes.values() if s is not None and s not in allowed]
        if unknown:
            raise ContractError(
                path, f"{where}: maps to codes not in list {field.code_list!r}: {unknown}"
            )
    elif field.type == "boolean":
        if not column.codes or not all(isinstance(v, bool) for v in column.codes.values()):
            raise ContractError(path, f"{where}: a boolean field needs a mapping to true/false")
    elif column.codes:
        raise ContractError(path, f"{where}: only code and boolean fields take a code mapping")
    if field.type == "code_set" and not column.separator:
        raise ContractError(path, f"{where}: a code set needs its separator")
    if field.type == "list_of_struct":
        if not column.struct:
            raise ContractError(path, f"{where}: a list of structs needs its struct mapping")
        sub_mapped = {c.field for c in column.struct}
        if sub_mapped != set(field.struct or {}):
            raise ContractError(path, f"{where}: struct fields do not match the canonical entity")
        for sub in column.struct:
            _check_column(path, sub, field.struct[sub.field], code_lists)


def _load_sources(root: Path, layouts: set[str]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        source = _parse(Source, _read_yaml(path), path)
        if source.source != path.stem:
            raise ContractError(path, f"source code {source.source!r} does not match the file name")
        for layout in [source.layout, *source.layouts_common]:
            if layout not in layouts:
                raise ContractError(path, f"unknown layout {layout!r}")
        unsupported = set(source.spec_versions) - set(SUPPORTED_SPEC_VERSIONS)
        if unsupported:
            raise ContractError(path, f"unsupported spec versions {sorted(unsupported)}")
        sources[source.source] = source
    return sources


def load_catalog_from(root: Path) -> Catalog:
    """Load and cross-check every contract under `root` (a tree shaped like this package)."""
    code_lists, entities, rules, refusals = _load_canonical(root)
    contracts: dict[str, Contract] = {}
    for layout_dir in sorted(p for p in (root / "layouts").iterdir() if p.is_dir()):
        contracts.update(_load_layout(layout_dir, entities, code_lists))
    layouts = {c.layout for c in contracts.values()}
    return Catalog(
        spec_version=SUPPORTED_SPEC_VERSIONS[-1],
        code_lists=code_lists,
        entities=entities,
        rules=rules,
        refusals=refusals,
        contracts=contracts,
        sources=_load_sources(root, layouts),
    )


@cache
def load_catalog() -> Catalog:
    """The contracts shipped with the product (loaded once per process)."""
    return load_catalog_from(CONTRACTS_DIR)
