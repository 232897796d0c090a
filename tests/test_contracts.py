"""The data contracts cover the spec, map every native code, and fail clearly when malformed."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest
import yaml

from data_contracts import ContractError, load_catalog
from data_contracts.loader import CONTRACTS_DIR, load_catalog_from
from data_contracts.schemas import build_schema, canonical_schema, validation_errors
from tests.spec import inventory

SPEC_TEXT = (Path(__file__).parents[1] / "docs" / "exchange-spec-1.0.md").read_text(
    encoding="utf-8"
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def spec_columns(contract_name: str) -> list[str]:
    if contract_name in inventory.HEADER_LINES:
        line, separator = inventory.HEADER_LINES[contract_name]
        return line.split(separator)
    return inventory.LISTED_HEADERS[contract_name]


def test_inventory_is_taken_from_the_spec_text():
    for line, _ in inventory.HEADER_LINES.values():
        assert f"`{line}`" in SPEC_TEXT, line
    for name, headers in inventory.LISTED_HEADERS.items():
        for header in headers:
            leaf = header.split(".")[-1]
            assert f"`{header}`" in SPEC_TEXT or f'"{leaf}"' in SPEC_TEXT, (name, header)


def test_every_source_of_the_spec_has_a_contract(catalog):
    assert sorted(catalog.sources) == sorted(inventory.SOURCES)
    layouts = {s: catalog.sources[s].layout for s in inventory.SOURCES}
    assert layouts == {
        "reg53": "R",
        "cd22": "A",
        "cd29": "B",
        "cd35": "C",
        "cd56": "A",
        "bmo": "M1",
        "rmo": "M2",
    }
    for source in inventory.SOURCES:
        entities = {c.entity_name for c in catalog.contracts_for_source(source)}
        assert "operations_fse" in entities


@pytest.mark.parametrize(
    "contract_name", sorted({*inventory.HEADER_LINES, *inventory.LISTED_HEADERS})
)
def test_every_spec_column_is_covered_by_its_contract(catalog, contract_name):
    contract = catalog.contracts[contract_name]
    assert contract.native_columns == spec_columns(contract_name)


def test_every_layout_entity_has_a_contract(catalog):
    expected = {*inventory.HEADER_LINES, *inventory.LISTED_HEADERS}
    assert set(catalog.contracts) == expected


def _mapping(contract, native: str) -> dict:
    if "." in native and native.split(".")[0] == "financements":
        parent = next(c for c in contract.columns if c.native == "financements")
        return next(s for s in parent.struct if s.native == native.split(".")[1]).codes
    return next(c for c in contract.columns if c.native == native).codes


@pytest.mark.parametrize("contract_name", sorted(inventory.NATIVE_CODES))
def test_every_native_code_of_the_spec_maps_to_a_shared_code(catalog, contract_name):
    contract = catalog.contracts[contract_name]
    for native, codes in inventory.NATIVE_CODES[contract_name].items():
        mapping = _mapping(contract, native)
        for code in codes:
            assert code in mapping, f"{contract_name}.{native}: {code!r} not mapped"
            shared = mapping[code]
            if isinstance(shared, str):
                field_name = next(
                    (c.field for c in contract.columns if c.native == native), "financeur"
                )
                field = (
                    contract.entity.fields.get(field_name)
                    or contract.entity.fields["financements"].struct["financeur"]
                )
                assert shared in catalog.code_lists[field.code_list].codes


def test_diploma_nomenclatures_land_as_one(catalog):
    assert (
        catalog.contracts["A/brsa"].column_for("niveau_diplome").codes
        == inventory.NIVEAU_1969_TO_2019
    )
    for name in ("B/brsa", "M1/plie_participants", "M2/plie_participants", "R/stagiaires"):
        codes = catalog.contracts[name].column_for("niveau_diplome").codes
        assert codes == {c: c for c in inventory.NIVEAU_2019}
    assert catalog.contracts["C/brsa"].column_for("niveau_diplome").codes["Non renseigné"] is None


def test_orientations_land_as_one(catalog):
    for name, expected in inventory.ORIENTATIONS.items():
        assert catalog.contracts[name].column_for("orientation").codes == expected


def test_every_exit_reason_maps_to_the_one_shared_list(catalog):
    exit_fields = {"motif_fin_droit", "motif_sortie", "resultat"}
    for contract in catalog.contracts.values():
        for column in contract.columns:
            if column.field in exit_fields:
                assert contract.entity.fields[column.field].code_list == "motif_sortie"


def test_shared_code_lists_have_french_labels(catalog):
    for code_list in catalog.code_lists.values():
        assert code_list.label
        for code, label in code_list.codes.items():
            assert label.strip(), code


def test_every_field_has_a_personal_data_class_and_no_direct_identifier(catalog):
    for entity in catalog.entities.values():
        for name, field in entity.fields.items():
            assert field.pii in ("pseudonym", "quasi_identifier", "none")
            assert not re.fullmatch(r"(nir|nom|prenoms?|e?mail|telephone|adresse)", name)
        if entity.person_level:
            assert entity.fields["pseudo_nir"].pii == "pseudonym"


def test_physical_layouts_follow_the_spec(catalog):
    a, b, c = (catalog.contracts[f"{x}/brsa"].physical for x in "ABC")
    assert (a.encoding, a.delimiter, a.line_terminator, a.decimal_separator) == (
        "cp1252",
        ";",
        "\r\n",
        ",",
    )
    assert (b.encoding, b.bom, b.delimiter, b.null_written_as) == ("utf-8", True, "\t", "NULL")
    assert (c.format, c.header_row, c.title_rows, c.total_row, c.total_label) == (
        "xlsx",
        3,
        2,
        True,
        "Total",
    )
    assert catalog.contracts["M2/plie_etapes"].physical.date_text_format == "%d/%m/%Y"
    assert catalog.contracts["R/stagiaires"].physical.format == "jsonl"
    day = dt.date(2025, 1, 31)
    assert catalog.contracts["A/brsa"].file.file_name(day) == "BRSA_20250131.csv"
    assert catalog.contracts["C/aides"].file.file_name(day) == "extraction_insertion_2025-01.xlsx"
    assert catalog.contracts["C/aides"].file.sheet == "Aides"
    assert catalog.contracts["M2/clause_heures"].file.file_name(day) == "export_plie_20250131.xlsx"
    assert catalog.contracts["R/stagiaires"].file.file_name(day) == "stagiaires_20250131.jsonl"


def test_a_new_source_of_a_known_layout_is_only_a_new_file(tmp_path):
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (root / "sources" / "cd44.yaml").write_text(
        'source: cd44\ncollectivite: "Département fictif"\nkind: departement\nlayout: A\n'
        'layouts_common: [common]\ndepartement: "44"\nspec_versions: ["1.0"]\n',
        encoding="utf-8",
    )
    catalog = load_catalog_from(root)
    assert [c.name for c in catalog.contracts_for_source("cd44")] == [
        "A/brsa",
        "A/actions",
        "A/aides",
        "common/operations_fse",
    ]


# --- Malformed contracts fail with a clear error ------------------------------------------------


def _broken_copy(tmp_path: Path, relative: str, edit) -> Path:
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / relative
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(content)
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return root


def _column(content, native):
    return next(c for c in content["columns"] if c["native"] == native)


@pytest.mark.parametrize(
    ("relative", "edit", "message"),
    [
        (
            "layouts/A/brsa.yaml",
            lambda c: _column(c, "SEXE")["codes"].update({"X": "9"}),
            r"layouts/A/brsa.yaml: column 'SEXE': maps to codes not in list 'sexe': \['9'\]",
        ),
        (
            "layouts/A/brsa.yaml",
            lambda c: c["columns"].pop(0),
            r"canonical fields not mapped: \['dossier_id'\]",
        ),
        (
            "layouts/B/aides.yaml",
            lambda c: _column(c, "montant").update(field="montantx"),
            r"column maps to unknown field 'montantx'",
        ),
        (
            "layouts/C/brsa.yaml",
            lambda c: _column(c, "Sexe").pop("codes"),
            r"column 'Sexe': a code field needs its native code mapping",
        ),
        (
            "layouts/M1/plie_participants.yaml",
            lambda c: _column(c, "publics").pop("separator"),
            r"a code set needs its separator",
        ),
        (
            "layouts/A/layout.yaml",
            lambda c: c.update(spec_version="2.0"),
            r"unsupported spec_version '2.0'",
        ),
        (
            "layouts/A/layout.yaml",
            lambda c: c["physical"].update(format="parquet"),
            r"layouts/A/brsa.yaml: physical \(layout.yaml merged with this file\): format: Input should be",
        ),
        (
            "layouts/A/actions.yaml",
            lambda c: _column(c, "FSE").update(codes={"O": "oui"}),
            r"a boolean field needs a mapping to true/false",
        ),
        (
            "canonical/entities.yaml",
            lambda c: c["entities"]["brsa"]["fields"]["sexe"].update(code_list="genre"),
            r"entity brsa, field sexe: unknown code list 'genre'",
        ),
        (
            "canonical/entities.yaml",
            lambda c: c["entities"]["aides"]["fields"]["montant"].update(type="money"),
            r"entity aides: fields.montant.type: Input should be",
        ),
        (
            "sources/cd22.yaml",
            lambda c: c.update(layout="Z"),
            r"sources/cd22.yaml: unknown layout 'Z'",
        ),
        (
            "layouts/A/brsa.yaml",
            lambda c: c["file"].update(name="BRSA_{date}.csv"),
            r"file name pattern 'BRSA_\{date\}.csv' is invalid",
        ),
    ],
)
def test_malformed_contracts_fail_with_a_clear_error(tmp_path, relative, edit, message):
    root = _broken_copy(tmp_path, relative, edit)
    with pytest.raises(ContractError, match=message):
        load_catalog_from(root)


def test_unquoted_numeric_codes_are_refused(tmp_path):
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = root / "layouts" / "A" / "brsa.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('{"1": RESSOURCES', "{1: RESSOURCES"))
    with pytest.raises(ContractError, match=r"MOTIF_FIN|column 10"):
        load_catalog_from(root)


def test_invalid_yaml_names_the_file(tmp_path):
    root = tmp_path / "contracts"
    shutil.copytree(CONTRACTS_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (root / "layouts" / "B" / "aides.yaml").write_text(
        "entity: aides\ncolumns: [\n", encoding="utf-8"
    )
    with pytest.raises(ContractError, match=r"layouts/B/aides.yaml: not valid YAML"):
        load_catalog_from(root)


# --- Pandera schemas built from the contracts ---------------------------------------------------


def _actions(**overrides) -> pl.DataFrame:
    row = {
        "participation_id": "P1",
        "pseudo_nir": "0" * 32,
        "pseudo_ec": None,
        "code_action": "X",
        "libelle_action": "Action",
        "famille_action": "ACI",
        "date_entree": dt.date(2023, 1, 1),
        "date_sortie": dt.date(2023, 6, 1),
        "motif_sortie": "CDI",
        "cofinancement_fse": True,
        "code_operation_fse": None,
    }
    row.update(overrides)
    return pl.DataFrame([row], schema=canonical_schema(load_catalog().entities["actions"]))


def test_every_entity_has_a_pandera_schema(catalog):
    for name in catalog.entities:
        schema = build_schema(name, dt.date(2025, 1, 31))
        assert isinstance(schema, pa.DataFrameSchema)
        assert set(schema.columns) == set(catalog.entities[name].fields)


def test_a_valid_row_passes_the_schema():
    assert validation_errors(build_schema("actions", dt.date(2024, 1, 31)), _actions()).is_empty()


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"famille_action": "INCONNUE"}, "famille_action", "code_inconnu"),
        ({"pseudo_nir": None}, "pseudo_nir,pseudo_ec", "sans_pseudonyme"),
        ({"pseudo_nir": "ABC"}, "pseudo_nir", "pseudonyme_invalide"),
        ({"date_sortie": dt.date(2022, 1, 1)}, "date_sortie", "fin_avant_debut"),
        ({"date_sortie": dt.date(2024, 2, 1)}, "date_sortie", "date_future"),
        ({"participation_id": None}, "participation_id", "champ_obligatoire"),
    ],
)
def test_schema_reports_each_broken_rule(overrides, field, rule):
    errors = validation_errors(build_schema("actions", dt.date(2024, 1, 31)), _actions(**overrides))
    assert (field, rule) in set(zip(errors["field"], errors["rule"], strict=True))


def test_every_rule_has_a_french_message(catalog):
    used = {
        "type_invalide",
        "champ_obligatoire",
        "code_inconnu",
        "format_invalide",
        "pseudonyme_invalide",
        "sans_pseudonyme",
        "fin_avant_debut",
        "date_future",
        "valeur_negative",
        "mois_invalide",
    }
    assert used <= set(catalog.rules)
    assert all(" " in message and message.endswith(".") for message in catalog.rules.values())
