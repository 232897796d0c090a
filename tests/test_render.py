"""Rendering canonical frames into the native extract files of each source (spec 1.0, §1 and §3).

Files are read back with other tools than the writer (open/csv, json, zipfile, openpyxl) and
checked against the spec's text. Pseudonyms are fake (md5 of a counter); no realistic personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest

from data_contracts import load_catalog
from data_contracts.schemas import canonical_schema, empty_frame
from spifeb.synthetic import render

EXTRACT = dt.date(2025, 1, 31)
PRODUCED = dt.datetime(2025, 2, 3, 6, 12, 44)
SOURCES = ["cd22", "cd29", "cd35", "cd56", "reg53", "bmo", "rmo"]
ETAPES = 300  # enough date cells for some to be "typed by hand" as text in layout M2

EXPECTED_FILES = {
    "cd22": ["ACTIONS_20250131.csv", "AIDES_20250131.csv", "BRSA_20250131.csv"],
    "cd56": ["ACTIONS_20250131.csv", "AIDES_20250131.csv", "BRSA_20250131.csv"],
    "cd29": ["actions.tsv", "aides.tsv", "brsa.tsv"],
    "cd35": ["extraction_insertion_2025-01.xlsx"],
    "reg53": [
        "aides_formation_20250131.csv",
        "decrocheurs_20250131.csv",
        "stagiaires_20250131.jsonl",
    ],
    "bmo": ["clause_heures.csv", "plie_etapes.csv", "plie_participants.csv"],
    "rmo": ["export_plie_20250131.xlsx"],
}


def fake(i: int) -> str:
    return hashlib.md5(f"x{i}".encode()).hexdigest()


def _frame(entity: str, rows: list[dict]) -> pl.DataFrame:
    schema = canonical_schema(load_catalog().entities[entity])
    return pl.DataFrame(rows, schema=schema, orient="row")


def canonical_frames() -> dict[str, pl.DataFrame]:
    d = dt.date
    brsa = [
        {
            "dossier_id": "D-001",
            "pseudo_nir": fake(1),
            "pseudo_ec": fake(2),
            "sexe": "2",
            "mois_naissance": d(1990, 3, 1),
            "commune_insee": "35238",
            "niveau_diplome": "4",
            "date_ouverture_droit": d(2019, 2, 1),
            "date_fin_droit": None,
            "motif_fin_droit": None,
            "date_orientation": d(2019, 3, 1),
            "orientation": "SOCIO_PROFESSIONNELLE",
            "organisme_referent": "FRANCE_TRAVAIL",
            "date_contrat": d(2019, 4, 2),
            "type_contrat": "PPAE",
            "date_maj": dt.datetime(2024, 4, 22, 10, 2, 11),
        },
        {
            "dossier_id": "D-002",
            "pseudo_nir": None,
            "pseudo_ec": fake(3),
            "sexe": "1",
            "mois_naissance": d(1985, 11, 1),
            "commune_insee": "22278",
            "niveau_diplome": None,
            "date_ouverture_droit": d(2018, 5, 1),
            "date_fin_droit": d(2020, 6, 30),
            "motif_fin_droit": "DEMENAGEMENT",
            "date_orientation": None,
            "orientation": None,
            "organisme_referent": None,
            "date_contrat": None,
            "type_contrat": None,
            "date_maj": dt.datetime(2024, 1, 5, 8, 0, 0),
        },
        {
            "dossier_id": "D-003",
            "pseudo_nir": fake(4),
            "pseudo_ec": None,
            "sexe": "1",
            "mois_naissance": d(2001, 7, 1),
            "commune_insee": "29019",
            "niveau_diplome": "infra3",
            "date_ouverture_droit": d(2021, 9, 1),
            "date_fin_droit": d(2023, 1, 31),
            "motif_fin_droit": "RESSOURCES",
            "date_orientation": d(2021, 10, 4),
            "orientation": "SOCIALE",
            "organisme_referent": "CCAS",
            "date_contrat": d(2021, 11, 8),
            "type_contrat": "CER",
            "date_maj": dt.datetime(2023, 2, 1, 23, 59, 59),
        },
    ]
    actions = [
        {
            "participation_id": "P-1",
            "pseudo_nir": fake(1),
            "pseudo_ec": fake(2),
            "code_action": "PDI-ACI-014",
            "libelle_action": 'Atelier "vélo"; mécanique à 5 €',
            "famille_action": "ACI",
            "date_entree": d(2022, 1, 10),
            "date_sortie": None,
            "motif_sortie": None,
            "cofinancement_fse": True,
            "code_operation_fse": "FSE-01",
        },
        {
            "participation_id": "P-2",
            "pseudo_nir": None,
            "pseudo_ec": fake(3),
            "code_action": "PDI-AG-001",
            "libelle_action": "Accompagnement renforcé",
            "famille_action": "ACCOMPAGNEMENT_SOCIAL",
            "date_entree": d(2020, 3, 2),
            "date_sortie": d(2020, 9, 30),
            "motif_sortie": "CDI",
            "cofinancement_fse": False,
            "code_operation_fse": None,
        },
    ]
    aides = [
        {
            "aide_id": "A-1",
            "pseudo_nir": fake(1),
            "pseudo_ec": None,
            "type_aide": "MOBILITE",
            "date_decision": d(2023, 5, 17),
            "montant": 1234.5,
        },
        {
            "aide_id": "A-2",
            "pseudo_nir": None,
            "pseudo_ec": fake(3),
            "type_aide": "FAJ",
            "date_decision": d(2024, 12, 1),
            "montant": None,
        },
    ]
    stagiaires = [
        {
            "inscription_id": "INS-2024-000123",
            "pseudo_nir": fake(5),
            "pseudo_ec": fake(6),
            "sexe": "2",
            "mois_naissance": d(2004, 3, 1),
            "commune_insee": "35238",
            "niveau_diplome": "infra3",
            "statut_entree": "JEUNE",
            "dispositif": "PREPA_AVENIR",
            "formacode": "15041",
            "organisme_siret": "00000000000018",
            "date_entree": d(2024, 1, 8),
            "date_fin_prevue": d(2024, 4, 19),
            "date_sortie": d(2024, 4, 19),
            "resultat": "CERTIFICATION_TOTALE",
            "financements": [
                {"financeur": "PRIC", "montant": 2150.0, "code_operation_fse": None},
                {"financeur": "FSE", "montant": 1300.0, "code_operation_fse": "FSE-REG-2021-004"},
            ],
            "date_maj": dt.datetime(2024, 4, 22, 10, 2, 11),
        },
        {
            "inscription_id": "INS-2024-000124",
            "pseudo_nir": None,
            "pseudo_ec": fake(7),
            "sexe": "1",
            "mois_naissance": d(1999, 12, 1),
            "commune_insee": "56121",
            "niveau_diplome": None,
            "statut_entree": None,
            "dispositif": "QUALIF_EMPLOI_PROGRAMME",
            "formacode": None,
            "organisme_siret": None,
            "date_entree": d(2024, 2, 5),
            "date_fin_prevue": d(2025, 6, 30),
            "date_sortie": None,
            "resultat": None,
            "financements": [],
            # in the spring-forward gap: no clock shows 02:30 that night
            "date_maj": dt.datetime(2024, 3, 31, 2, 30, 0),
        },
    ]
    aides_formation = [
        {
            "aide_id": "AF-1",
            "pseudo_nir": fake(5),
            "pseudo_ec": fake(6),
            "type_aide": "AIF_QUALIF",
            "date_decision": d(2024, 1, 3),
            "montant": 980.25,
            "inscription_id": "INS-2024-000123",
        },
    ]
    decrocheurs = [
        {
            "signalement_id": "S-1",
            "pseudo_nir": None,
            "pseudo_ec": fake(8),
            "sexe": "1",
            "mois_naissance": d(2007, 5, 1),
            "commune_insee": "22113",
            "date_reperage": d(2024, 10, 1),
            "plateforme": "PSAD-22-SAINT-BRIEUC",
            "solution": "SERVICE_CIVIQUE",
            "date_solution": d(2024, 11, 15),
        },
    ]
    plie_participants = [
        {
            "participant_id": "PL-1",
            "pseudo_nir": fake(9),
            "pseudo_ec": fake(10),
            "sexe": "2",
            "mois_naissance": d(1990, 3, 1),
            "commune_insee": "29019",
            "niveau_diplome": "3",
            "publics": ["BRSA", "QPV"],
            "date_entree": d(2022, 6, 1),
            "date_sortie": None,
            "motif_sortie": None,
            "cofinancement_fse": True,
            "code_operation_fse": "FSE-PLIE-1",
        },
        {
            "participant_id": "PL-2",
            "pseudo_nir": None,
            "pseudo_ec": fake(11),
            "sexe": "1",
            "mois_naissance": d(1968, 1, 1),
            "commune_insee": "35238",
            "niveau_diplome": None,
            "publics": [],
            "date_entree": d(2021, 1, 4),
            "date_sortie": d(2022, 2, 28),
            "motif_sortie": "CDD_6M_PLUS",
            "cofinancement_fse": False,
            "code_operation_fse": None,
        },
    ]
    etape_types = ["FORMATION", "IMMERSION", "CLAUSE_SOCIALE"]
    plie_etapes = [
        {
            "etape_id": f"E-{i:04d}",
            "participant_id": f"PL-{i % 2 + 1}",
            "type_etape": etape_types[i % 3],
            "date_debut": d(2021, 1, 4) + dt.timedelta(days=i),
            "date_fin": None if i % 5 == 0 else d(2021, 3, 1) + dt.timedelta(days=i),
        }
        for i in range(ETAPES)
    ]
    clause_heures = [
        {
            "ligne_id": "L-1",
            "pseudo_nir": fake(9),
            "pseudo_ec": None,
            "marche_id": "M-2023-07",
            "donneur_ordre": "Ville & Métropole",
            "mois": d(2024, 3, 1),
            "heures": 35.5,
        },
    ]
    operations_fse = [
        {
            "code_operation": "FSE-01",
            "intitule": "Insertion; accompagnement global",
            "programme": "PN_FSE_PLUS_2021_2027",
            "date_debut": d(2022, 1, 1),
            "date_fin": d(2027, 12, 31),
            "cout_total_eligible": 150000.0,
            "montant_fse": 90000.5,
            "dispositif_local": "PDI-ACI-014",
        },
    ]
    raw = {
        "brsa": brsa,
        "actions": actions,
        "aides": aides,
        "stagiaires": stagiaires,
        "aides_formation": aides_formation,
        "decrocheurs": decrocheurs,
        "plie_participants": plie_participants,
        "plie_etapes": plie_etapes,
        "clause_heures": clause_heures,
        "operations_fse": operations_fse,
    }
    return {entity: _frame(entity, rows) for entity, rows in raw.items()}


FRAMES = canonical_frames()


def _render(out: Path, source: str, frames: dict[str, pl.DataFrame] | None = None) -> Path:
    return render.render_extract(
        source, EXTRACT, frames or FRAMES, out, produced_at=PRODUCED, seed=7
    )


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("landing")
    return {source: _render(out, source) for source in SOURCES}


def _csv_rows(path: Path, encoding: str, delimiter: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def _sheet_rows(path: Path, sheet: str) -> list[tuple]:
    workbook = openpyxl.load_workbook(path)
    return [tuple(row) for row in workbook[sheet].iter_rows(values_only=True)]


# --- Folder and manifest (§1) ------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
def test_folder_holds_the_spec_files_and_a_manifest(extracts: dict[str, Path], source: str):
    folder = extracts[source]
    assert folder.parts[-2:] == (source, "2025-01-31")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*EXPECTED_FILES[source], "operations_fse.csv", "manifest.json"])


@pytest.mark.parametrize("source", SOURCES)
def test_manifest_matches_the_files(extracts: dict[str, Path], source: str):
    folder = extracts[source]
    manifest = json.loads((folder / "manifest.json").read_bytes().decode("utf-8"))
    assert list(manifest) == [
        "spec_version",
        "source",
        "extract_date",
        "produced_at",
        "key_id",
        "files",
    ]
    assert manifest["spec_version"] == "1.0"
    assert manifest["source"] == source
    assert manifest["extract_date"] == "2025-01-31"
    assert manifest["produced_at"] == "2025-02-03T06:12:44+01:00"
    assert manifest["key_id"] == "spifeb-demo"
    listed = {entry["name"] for entry in manifest["files"]}
    assert listed == {p.name for p in folder.iterdir()} - {"manifest.json"}
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["rows"] == FRAMES[entry["entity"]].height
        expected_keys = {"name", "entity", "rows", "sha256"}
        if entry["name"].endswith(".xlsx"):
            expected_keys.add("sheet")
            assert entry["sheet"] in openpyxl.load_workbook(folder / entry["name"]).sheetnames
        assert set(entry) == expected_keys


def test_workbook_manifest_has_one_entry_per_sheet(extracts: dict[str, Path]):
    manifest = json.loads((extracts["rmo"] / "manifest.json").read_text(encoding="utf-8"))
    sheets = [(e["sheet"], e["entity"]) for e in manifest["files"] if "sheet" in e]
    assert sheets == [
        ("Participants", "plie_participants"),
        ("Etapes", "plie_etapes"),
        ("Heures clauses", "clause_heures"),
    ]
    assert len({e["sha256"] for e in manifest["files"] if "sheet" in e}) == 1


def test_produced_at_in_summer_has_the_summer_offset(tmp_path: Path):
    folder = render.render_extract(
        "bmo", EXTRACT, FRAMES, tmp_path, produced_at=dt.datetime(2024, 7, 1, 9, 0, 0)
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["produced_at"] == "2024-07-01T09:00:00+02:00"


def test_two_renders_give_identical_bytes(tmp_path: Path, extracts: dict[str, Path]):
    for source in SOURCES:
        again = _render(tmp_path, source)
        first = extracts[source]
        for path in first.iterdir():
            assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_renders_in_separate_processes_are_identical(tmp_path: Path, extracts: dict[str, Path]):
    """Hand-typed cells are drawn with a seeded hash: it must not depend on the process."""
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "import test_render as t; t._render(Path(sys.argv[2]), 'rmo')"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path)], check=True
    )
    for path in extracts["rmo"].iterdir():
        assert (tmp_path / "rmo/2025-01-31" / path.name).read_bytes() == path.read_bytes()


def test_a_failed_rerender_leaves_no_manifest_and_no_partial_file(tmp_path: Path):
    folder = _render(tmp_path, "cd22")
    assert (folder / "manifest.json").exists()
    doctorate = FRAMES["brsa"].with_columns(niveau_diplome=pl.lit("8"))
    with pytest.raises(ValueError, match="NIVEAU"):  # layout A has no native code for "8"
        _render(tmp_path, "cd22", {**FRAMES, "brsa": doctorate})
    names = {p.name for p in folder.iterdir()}
    assert "manifest.json" not in names
    assert not [n for n in names if n.endswith(".part")]


def test_codes_outside_the_lists_are_written_verbatim(tmp_path: Path):
    """Spec §4 anomalies injected on purpose reach the files as they are."""
    odd_brsa = FRAMES["brsa"].with_columns(orientation=pl.lit("ZZ_INCONNU"))
    odd_stagiaires = FRAMES["stagiaires"].with_columns(
        sexe=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("9X")).otherwise(pl.col("sexe"))
    )
    frames = {**FRAMES, "brsa": odd_brsa, "stagiaires": odd_stagiaires}
    rows = _csv_rows(_render(tmp_path, "cd22", frames) / "BRSA_20250131.csv", "cp1252", ";")
    assert {row[11] for row in rows[1:]} == {"ZZ_INCONNU"}
    sheet = _sheet_rows(
        _render(tmp_path, "cd35", frames) / "extraction_insertion_2025-01.xlsx", "BRSA"
    )
    assert sheet[3][11] == "ZZ_INCONNU"
    lines = (_render(tmp_path, "reg53", frames) / "stagiaires_20250131.jsonl").read_text("utf-8")
    first, second = (json.loads(line) for line in lines.splitlines())
    assert first["personne"]["sexe"] == "9X"  # not a number: kept as a string
    assert second["personne"]["sexe"] == 1


def test_a_missing_entity_frame_is_an_error(tmp_path: Path):
    frames = {k: v for k, v in FRAMES.items() if k != "aides"}
    with pytest.raises(ValueError, match="aides"):
        _render(tmp_path, "cd29", frames)


def test_empty_frames_give_header_only_files(tmp_path: Path):
    catalog = load_catalog()
    empty = {name: empty_frame(entity) for name, entity in catalog.entities.items()}
    for source in SOURCES:
        _render(tmp_path, source, empty)
    rows = _csv_rows(tmp_path / "cd22/2025-01-31/AIDES_20250131.csv", "cp1252", ";")
    assert rows == [["NUM_AIDE", "PSEUDO_NIR", "PSEUDO_EC", "TYPE_AIDE", "DT_DECISION", "MONTANT"]]
    assert (tmp_path / "reg53/2025-01-31/stagiaires_20250131.jsonl").read_bytes() == b""
    sheet = _sheet_rows(tmp_path / "cd35/2025-01-31/extraction_insertion_2025-01.xlsx", "Aides")
    assert sheet[-1][:2] == ("Total", 0)
    manifest = json.loads((tmp_path / "cd35/2025-01-31/manifest.json").read_text("utf-8"))
    assert {e["rows"] for e in manifest["files"]} == {0}


# --- Layout A: legacy CSV (cd22, cd56) -----------------------------------------------------


@pytest.mark.parametrize("source", ["cd22", "cd56"])
def test_layout_a_is_cp1252_crlf_semicolon_with_upper_case_header(
    extracts: dict[str, Path], source: str
):
    path = extracts[source] / "BRSA_20250131.csv"
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == data.count(b"\n") == 1 + FRAMES["brsa"].height
    header = data.split(b"\r\n")[0].decode("cp1252")
    assert header == (
        "NUM_DOSSIER;PSEUDO_NIR;PSEUDO_EC;SEXE;DATE_NAIS;CODE_COMMUNE;NIVEAU;DT_OUV_DROIT;"
        "DT_FIN_DROIT;MOTIF_FIN;DT_ORIENT;ORIENTATION;REFERENT;DT_CONTRAT;TYPE_CONTRAT;DT_MAJ"
    )
    rows = _csv_rows(path, "cp1252", ";")
    assert rows[1] == [
        "D-001",
        fake(1),
        fake(2),
        "F",
        "03/1990",
        "35238",
        "IV",
        "01/02/2019",
        "",
        "",
        "01/03/2019",
        "SP",
        "PE",
        "02/04/2019",
        "PPAE",
        "22/04/2024 10:02:11",
    ]
    assert rows[2][3:10] == ["M", "11/1985", "22278", "", "01/05/2018", "30/06/2020", "2"]
    assert rows[3][6] == "VI"  # infra3 -> the first 1969 code listed for it


def test_layout_a_quotes_only_where_needed_and_writes_decimal_commas(extracts: dict[str, Path]):
    folder = extracts["cd22"]
    data = (folder / "ACTIONS_20250131.csv").read_bytes()
    assert '"Atelier ""vélo""; mécanique à 5 €"'.encode("cp1252") in data
    assert b'"P-1"' not in data  # plain values are not quoted
    rows = _csv_rows(folder / "ACTIONS_20250131.csv", "cp1252", ";")
    assert rows[1][4] == 'Atelier "vélo"; mécanique à 5 €'
    assert rows[1][5] == "ACI" and rows[2][5] == "SOCIAL"
    assert [rows[1][9], rows[2][9]] == ["O", "N"]
    assert rows[2][8] == "10"
    aides = _csv_rows(folder / "AIDES_20250131.csv", "cp1252", ";")
    assert aides[1][3:] == ["MOBILITE", "17/05/2023", "1234,5"]
    assert aides[2][3:] == ["FAJ", "01/12/2024", ""]


# --- Layout B: TSV (cd29) ------------------------------------------------------------------


def test_layout_b_is_utf8_bom_tab_lf_with_null_literal(extracts: dict[str, Path]):
    path = extracts["cd29"] / "brsa.tsv"
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r" not in data
    text = data.decode("utf-8-sig")
    lines = text.split("\n")
    assert lines[-1] == ""
    assert lines[0].split("\t") == [
        "dossier_id",
        "pseudo_nir",
        "pseudo_ec",
        "sexe",
        "annee_mois_naissance",
        "commune_insee",
        "niveau_diplome",
        "date_ouverture",
        "date_cloture",
        "motif_cloture",
        "date_orientation",
        "orientation",
        "organisme_referent",
        "date_contrat",
        "type_contrat",
        "maj",
    ]
    first = lines[1].split("\t")
    assert first == [
        "D-001",
        fake(1),
        fake(2),
        "2",
        "1990-03",
        "35238",
        "4",
        "2019-02-01",
        "NULL",
        "NULL",
        "2019-03-01",
        "socio-professionnelle",
        "france_travail",
        "2019-04-02",
        "ppae",
        "2024-04-22T10:02:11",
    ]
    second = lines[2].split("\t")
    assert second[1] == "NULL" and second[6] == "NULL" and second[9] == "demenagement"


def test_layout_b_never_quotes(extracts: dict[str, Path]):
    text = (extracts["cd29"] / "actions.tsv").read_bytes().decode("utf-8-sig")
    first = text.split("\n")[1].split("\t")
    assert first[4] == 'Atelier "vélo"; mécanique à 5 €'
    assert first[5] == "aci" and first[9] == "true"
    aides = (extracts["cd29"] / "aides.tsv").read_bytes().decode("utf-8-sig").split("\n")
    assert aides[1].split("\t")[-1] == "1234.5"
    assert aides[2].split("\t")[-1] == "NULL"


# --- Layout C: XLSX workbook (cd35) --------------------------------------------------------


def test_layout_c_sheets_have_title_header_data_and_total(extracts: dict[str, Path]):
    path = extracts["cd35"] / "extraction_insertion_2025-01.xlsx"
    assert openpyxl.load_workbook(path).sheetnames == ["BRSA", "Actions", "Aides"]
    for sheet, entity in [("BRSA", "brsa"), ("Actions", "actions"), ("Aides", "aides")]:
        rows = _sheet_rows(path, sheet)
        assert rows[0][0] == "Département d'Ille-et-Vilaine - Extraction du 31/01/2025"
        assert all(v is None for v in rows[0][1:])
        assert all(v is None for v in rows[1])
        n = FRAMES[entity].height
        assert len(rows) == 3 + n + 1
        assert rows[-1][:2] == ("Total", n)
        assert all(v is None for v in rows[-1][2:])
    header = _sheet_rows(path, "Aides")[2]
    assert header == (
        "N° aide",
        "Pseudo NIR",
        "Pseudo état civil",
        "Type d'aide",
        "Date de décision",
        "Montant (€)",
    )


def test_layout_c_cells_are_typed(extracts: dict[str, Path]):
    path = extracts["cd35"] / "extraction_insertion_2025-01.xlsx"
    sheet = openpyxl.load_workbook(path)["BRSA"]
    assert [c.value for c in sheet[3]][:6] == [
        "N° dossier",
        "Pseudo NIR",
        "Pseudo état civil",
        "Sexe",
        "Mois de naissance",
        "Commune (code INSEE)",
    ]
    first = [c.value for c in sheet[4]]
    assert first[:4] == ["D-001", fake(1), fake(2), "Femme"]
    assert first[4] == dt.datetime(1990, 3, 1)  # the birth month as the date of its first day
    assert first[5] == 35238 and sheet["F4"].data_type == "n"
    assert first[6] == "Baccalauréat"
    assert first[7] == dt.datetime(2019, 2, 1) and sheet["H4"].number_format == "dd/mm/yyyy"
    assert first[8] is None and first[9] is None
    assert first[11:15] == [
        "Socio-professionnelle",
        "France Travail",
        dt.datetime(2019, 4, 2),
        "PPAE",
    ]
    assert first[15] == dt.datetime(2024, 4, 22, 10, 2, 11)
    assert sheet["P4"].is_date
    second = [c.value for c in sheet[5]]
    assert second[6] == "Non renseigné"  # the native code mapped to null
    assert second[9] == "Déménagement"
    actions = [c.value for c in openpyxl.load_workbook(path)["Actions"][4]]
    assert actions[4] == 'Atelier "vélo"; mécanique à 5 €'
    assert actions[5] == "ACI" and actions[9] == "Oui"
    aides = _sheet_rows(path, "Aides")
    assert aides[3][3:] == ("Mobilité", dt.datetime(2023, 5, 17), 1234.5)


def test_layout_c_reads_with_calamine(extracts: dict[str, Path]):
    reader = fastexcel.read_excel(extracts["cd35"] / "extraction_insertion_2025-01.xlsx")
    brsa = reader.load_sheet("BRSA", header_row=2).to_polars()
    assert brsa.height == FRAMES["brsa"].height + 1  # the Total row
    assert brsa.schema["Date d'ouverture du droit"] == pl.Datetime("ms")
    assert brsa["Commune (code INSEE)"].head(3).to_list() == [35238, 22278, 29019]
    assert brsa["N° dossier"].to_list() == ["D-001", "D-002", "D-003", "Total"]


# --- Layout R: JSON lines and CSV (reg53) --------------------------------------------------


def test_layout_r_jsonl_is_nested_with_native_keys(extracts: dict[str, Path]):
    data = (extracts["reg53"] / "stagiaires_20250131.jsonl").read_bytes()
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 1 + FRAMES["stagiaires"].height
    first, second = (json.loads(line) for line in lines[:-1])
    assert list(first) == [
        "id_inscription",
        "personne",
        "dispositif",
        "formacode",
        "organisme_siret",
        "date_entree",
        "date_fin_prevue",
        "date_sortie",
        "resultat",
        "financements",
        "maj",
    ]
    assert first["personne"] == {
        "pseudo_nir": fake(5),
        "pseudo_ec": fake(6),
        "sexe": 2,
        "naissance": "2004-03",
        "commune": "35238",
        "niveau": "infra3",
        "statut_entree": "JEUNE",
    }
    assert first["dispositif"] == "PREPA_AVENIR"
    assert first["resultat"] == "CERTIF_TOTALE"
    assert first["financements"] == [
        {"financeur": "PRIC", "montant": 2150.0, "code_operation_fse": None},
        {"financeur": "FSE", "montant": 1300.0, "code_operation_fse": "FSE-REG-2021-004"},
    ]
    assert first["maj"] == "2024-04-22T10:02:11+02:00"
    assert second["personne"]["pseudo_nir"] is None and second["personne"]["sexe"] == 1
    assert second["resultat"] is None and second["financements"] == []
    assert second["maj"] == "2024-03-31T03:30:00+02:00"  # 02:30 does not exist that night


def test_layout_r_csv_files(extracts: dict[str, Path]):
    folder = extracts["reg53"]
    aides = _csv_rows(folder / "aides_formation_20250131.csv", "utf-8", ",")
    assert aides[0] == [
        "aide_id",
        "pseudo_nir",
        "pseudo_ec",
        "type_aide",
        "date_decision",
        "montant",
        "id_inscription",
    ]
    assert aides[1][3:] == ["AIF_QUALIF", "2024-01-03", "980.25", "INS-2024-000123"]
    decrocheurs = _csv_rows(folder / "decrocheurs_20250131.csv", "utf-8", ",")
    assert decrocheurs[1] == [
        "S-1",
        "",
        fake(8),
        "1",
        "2007-05",
        "22113",
        "2024-10-01",
        "PSAD-22-SAINT-BRIEUC",
        "service_civique",
        "2024-11-15",
    ]


# --- Layout M1: CSV (bmo) ------------------------------------------------------------------


def test_layout_m1(extracts: dict[str, Path]):
    folder = extracts["bmo"]
    data = (folder / "plie_participants.csv").read_bytes()
    assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(folder / "plie_participants.csv", "utf-8", ",")
    assert rows[0][7] == "publics"
    assert rows[1][3:13] == [
        "2",
        "1990-03",
        "29019",
        "3",
        "BRSA|QPV",
        "2022-06-01",
        "",
        "",
        "1",
        "FSE-PLIE-1",
    ]
    assert rows[2][7] == "" and rows[2][10:12] == ["CDD_6M_PLUS", "0"]
    heures = _csv_rows(folder / "clause_heures.csv", "utf-8", ",")
    assert heures[1] == ["L-1", fake(9), "", "M-2023-07", "Ville & Métropole", "2024-03", "35.5"]


# --- Layout M2: XLSX workbook (rmo) --------------------------------------------------------


def test_layout_m2_header_and_text_columns(extracts: dict[str, Path]):
    path = extracts["rmo"] / "export_plie_20250131.xlsx"
    assert openpyxl.load_workbook(path).sheetnames == ["Participants", "Etapes", "Heures clauses"]
    rows = _sheet_rows(path, "Participants")
    assert rows[0] == (
        "ID participant",
        "Pseudo NIR",
        "Pseudo EC",
        "Sexe",
        "Naissance",
        "Commune",
        "Niveau",
        "Publics",
        "Date d'entrée",
        "Date de sortie",
        "Type de sortie",
        "FSE",
        "Opération FSE",
    )
    assert len(rows) == 1 + FRAMES["plie_participants"].height
    assert rows[1][3:8] == ("F", "03/1990", "29019", "3", "BRSA, QPV")
    assert rows[1][11] == "Oui" and rows[2][11] == "Non" and rows[2][7] is None
    heures = _sheet_rows(path, "Heures clauses")
    assert heures[1][3:] == ("M-2023-07", "Ville & Métropole", "03/2024", 35.5)


def test_layout_m2_dates_are_typed_by_hand(extracts: dict[str, Path]):
    path = extracts["rmo"] / "export_plie_20250131.xlsx"
    rows = _sheet_rows(path, "Etapes")
    assert rows[0] == ("ID étape", "ID participant", "Type d'étape", "Début", "Fin")
    expected = FRAMES["plie_etapes"]
    as_dates, as_text = 0, 0
    for row, (debut, fin) in zip(
        rows[1:], expected.select("date_debut", "date_fin").iter_rows(), strict=True
    ):
        for cell, value in [(row[3], debut), (row[4], fin)]:
            if value is None:
                assert cell is None
            elif isinstance(cell, str):
                assert re.fullmatch(r"\d\d/\d\d/\d{4}", cell)
                assert cell == value.strftime("%d/%m/%Y")
                as_text += 1
            else:
                assert cell == dt.datetime.combine(value, dt.time())
                as_dates += 1
    assert as_text >= 1
    assert as_text < 0.1 * (as_text + as_dates)


def test_text_dates_stay_with_their_record(tmp_path: Path, extracts: dict[str, Path]):
    """The same record keeps its hand-typed cells in the next extract, even with rows added."""
    path = extracts["rmo"] / "export_plie_20250131.xlsx"
    before = {r[0]: r[3:] for r in _sheet_rows(path, "Etapes")[1:]}
    extra = FRAMES["plie_etapes"].head(1).with_columns(etape_id=pl.lit("E-NEW"))
    later = {**FRAMES, "plie_etapes": pl.concat([extra, FRAMES["plie_etapes"]])}
    folder = render.render_extract(
        "rmo", dt.date(2025, 2, 28), later, tmp_path, produced_at=PRODUCED, seed=7
    )
    after = {r[0]: r[3:] for r in _sheet_rows(folder / "export_plie_20250228.xlsx", "Etapes")[1:]}
    assert all(after[key] == cells for key, cells in before.items())


def test_workbooks_are_plain_zip_with_fixed_timestamps(extracts: dict[str, Path]):
    for path in [
        extracts["cd35"] / "extraction_insertion_2025-01.xlsx",
        extracts["rmo"] / "export_plie_20250131.xlsx",
    ]:
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            core = zf.read("docProps/core.xml").decode("utf-8")
            assert "2025-01-31T00:00:00Z" in core


# --- operations_fse.csv (every source) -----------------------------------------------------


def test_operations_fse_is_the_same_file_everywhere(extracts: dict[str, Path]):
    files = {source: (extracts[source] / "operations_fse.csv").read_bytes() for source in SOURCES}
    assert len(set(files.values())) == 1
    data = files["cd22"]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))
    assert rows == [
        [
            "code_operation",
            "intitule",
            "programme",
            "date_debut",
            "date_fin",
            "cout_total_eligible",
            "montant_fse",
            "dispositif_local",
        ],
        [
            "FSE-01",
            "Insertion; accompagnement global",
            "PN_FSE_PLUS_2021_2027",
            "2022-01-01",
            "2027-12-31",
            "150000.0",
            "90000.5",
            "PDI-ACI-014",
        ],
    ]
    assert b'"Insertion; accompagnement global"' in data and b"\r" not in data
