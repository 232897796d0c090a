"""Reading native files (ingestion.readers) and normalising them (ingestion.normalise).

Every native file is written by hand here, byte for byte as spec section 3 describes it, with
fake pseudonyms (md5 of a letter) and no realistic personal data.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from data_contracts import load_catalog
from data_contracts.schemas import canonical_dtype
from ingestion.normalise import to_canonical
from ingestion.readers import ReadError, read_header, read_native

P1 = hashlib.md5(b"a").hexdigest()
P2 = hashlib.md5(b"b").hexdigest()
P3 = hashlib.md5(b"c").hexdigest()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def write_text(path: Path, lines: list[str], *, encoding: str, eol: str, bom: bool = False) -> Path:
    data = (eol.join(lines) + eol).encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def errors_of(result) -> list[tuple[int, str, str]]:
    return [tuple(r) for r in result.errors.select("_line", "field", "rule").iter_rows()]


def assert_canonical_dtypes(contract, frame: pl.DataFrame) -> None:
    assert frame.columns == ["_line", *contract.entity.fields]
    assert frame.schema["_line"] == pl.Int64
    for name, field in contract.entity.fields.items():
        assert frame.schema[name] == canonical_dtype(field), name


# --- Layout A: cp1252, CRLF, ';', trailing delimiter on the header -------------------------------


def test_layout_a_actions_cp1252_crlf(tmp_path, catalog):
    contract = catalog.contract("cd22", "actions")
    header = (
        "NUM_PARTICIPATION;PSEUDO_NIR;PSEUDO_EC;CODE_ACTION;LIBELLE_ACTION;FAMILLE;DT_ENTREE;"
        "DT_SORTIE;MOTIF_SORTIE;FSE;CODE_OPERATION_FSE;"  # extra trailing delimiter (spec 4)
    )
    rows = [
        f"P1;{P1};;PDI22-ACI-014;Chantier d'insertion élagage;ACI;08/01/2024;19/04/2024;10;O;FSE-1",
        f'P2;;{P2};PDI22-MOB-002;"Mobilité; permis ""B""";MOB;2024-02-01;;;N;',
        f"P3;{P3};;PDI22-XX-001;Santé;INCONNUE;31/02/2024;;99;X;",
    ]
    path = write_text(
        tmp_path / "ACTIONS_20250131.csv", [header, *rows], encoding="cp1252", eol="\r\n"
    )
    native = read_native(contract, path)
    assert native.columns == ["_line", *contract.native_columns]
    assert all(dtype == pl.String for name, dtype in native.schema.items() if name != "_line")
    assert native["_line"].to_list() == [2, 3, 4]
    assert native["LIBELLE_ACTION"].to_list()[:2] == [
        "Chantier d'insertion élagage",
        'Mobilité; permis "B"',
    ]
    assert native["PSEUDO_EC"][0] is None  # empty field -> null

    result = to_canonical(contract, native)
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    assert frame["famille_action"].to_list() == ["ACI", "MOBILITE", None]
    assert frame["date_entree"].to_list() == [dt.date(2024, 1, 8), None, None]
    assert frame["date_sortie"].to_list() == [dt.date(2024, 4, 19), None, None]
    assert frame["motif_sortie"].to_list() == ["CDI", None, "AUTRE"]
    assert frame["cofinancement_fse"].to_list() == [True, False, None]
    assert errors_of(result) == [
        (3, "date_entree", "format_invalide"),  # ISO where JJ/MM/AAAA is expected
        (4, "famille_action", "code_inconnu"),
        (4, "date_entree", "type_invalide"),  # 31/02 is no date
        (4, "cofinancement_fse", "type_invalide"),
    ]
    message = result.errors.filter(pl.col("field") == "famille_action")["message"][0]
    assert message == (
        "Code absent de la liste « Famille d'action d'insertion (PDI) » "
        "pour le champ « Famille d'action »."
    )
    assert "INCONNUE" not in " ".join(result.errors["message"])


def test_layout_a_brsa_months_timestamps_and_decimal_comma(tmp_path, catalog):
    brsa = catalog.contract("cd56", "brsa")
    header = ";".join(brsa.native_columns)
    rows = [
        f"D1;{P1};{P2};F;03/1990;56260;V BIS;01/02/2020;;;15/02/2020;SP;PE;01/03/2020;PPAE;"
        "05/01/2025 14:30:00",
        f"D2;;{P3};M;13/1990;56121; IV ;01/02/2020;31/12/2024;1;;P;CD;;CER;2025-01-05T14:30:00",
    ]
    path = write_text(
        tmp_path / "BRSA_20250131.csv", [header, *rows], encoding="cp1252", eol="\r\n"
    )
    result = to_canonical(brsa, read_native(brsa, path))
    frame = result.frame
    assert_canonical_dtypes(brsa, frame)
    assert frame["sexe"].to_list() == ["2", "1"]
    assert frame["mois_naissance"].to_list() == [dt.date(1990, 3, 1), None]
    assert frame["niveau_diplome"].to_list() == ["infra3", "4"]  # codes are trimmed
    assert frame["date_maj"].to_list() == [dt.datetime(2025, 1, 5, 14, 30), None]
    assert frame["motif_fin_droit"].to_list() == [None, "RESSOURCES"]
    assert errors_of(result) == [
        (3, "mois_naissance", "type_invalide"),
        (3, "date_maj", "format_invalide"),
    ]

    aides = catalog.contract("cd22", "aides")
    lines = [
        ";".join(aides.native_columns),
        f"A1;{P1};;FAJ;02/01/2024;150,50",
        f"A2;{P2};;APRE;02/01/2024;1.200",
    ]
    path = write_text(tmp_path / "AIDES_20250131.csv", lines, encoding="cp1252", eol="\r\n")
    result = to_canonical(aides, read_native(aides, path))
    assert result.frame["montant"].to_list() == [150.5, None]
    assert errors_of(result) == [(3, "montant", "format_invalide")]


def test_layout_a_rejects_utf8_and_invalid_bytes(tmp_path, catalog):
    contract = catalog.contract("cd22", "aides")
    lines = [";".join(contract.native_columns), f"A1;{P1};;MOBILITE;02/01/2024;10"]
    utf8 = write_text(
        tmp_path / "AIDES_1.csv", [lines[0], lines[1] + ";Noël"], encoding="utf-8", eol="\r\n"
    )
    with pytest.raises(ReadError) as err:
        read_native(contract, utf8)
    assert err.value.rule == "encodage_invalide"
    assert "Noël" not in str(err.value)
    bad = tmp_path / "AIDES_2.csv"
    bad.write_bytes((lines[0] + "\r\n" + lines[1] + "\r\n").encode("cp1252") + b"A2;\x81;\r\n")
    with pytest.raises(ReadError) as err:
        read_native(contract, bad)
    assert (err.value.rule, err.value.line) == ("encodage_invalide", 3)


# --- Layout B: UTF-8 with BOM, tab, LF, NULL -----------------------------------------------------


def test_layout_b_brsa_bom_tab_null(tmp_path, catalog):
    contract = catalog.contract("cd29", "brsa")
    header = "\t".join(contract.native_columns)
    rows = [
        f"D1\t{P1}\tNULL\t2\t1990-03\t29019\tinfra3\t2020-02-01\tNULL\tNULL\t2020-02-15\tsocio-professionnelle\tfrance_travail\t2020-03-01\tppae\t2025-01-05T14:30:00",
        f"D2\tNULL\t{P2}\t1\t1985-11\t29232\t8\t2019-06-01\t2024-12-31\tdemenagement\tNULL\tsociale\tccas\tNULL\tcer\t2025-01-06T08:00:00",
    ]
    path = write_text(tmp_path / "brsa.tsv", [header, *rows], encoding="utf-8", eol="\n", bom=True)
    native = read_native(contract, path)
    assert native.columns[1] == "dossier_id"  # no BOM glued to the first header
    assert native["pseudo_ec"].to_list() == [None, P2]
    assert native["_line"].to_list() == [2, 3]
    result = to_canonical(contract, native)
    assert result.errors.is_empty()
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    assert frame.row(0, named=True) == {
        "_line": 2,
        "dossier_id": "D1",
        "pseudo_nir": P1,
        "pseudo_ec": None,
        "sexe": "2",
        "mois_naissance": dt.date(1990, 3, 1),
        "commune_insee": "29019",
        "niveau_diplome": "infra3",
        "date_ouverture_droit": dt.date(2020, 2, 1),
        "date_fin_droit": None,
        "motif_fin_droit": None,
        "date_orientation": dt.date(2020, 2, 15),
        "orientation": "SOCIO_PROFESSIONNELLE",
        "organisme_referent": "FRANCE_TRAVAIL",
        "date_contrat": dt.date(2020, 3, 1),
        "type_contrat": "PPAE",
        "date_maj": dt.datetime(2025, 1, 5, 14, 30),
    }
    assert frame["motif_fin_droit"][1] == "DEMENAGEMENT"


# --- Layout C: workbook with title, empty row, header, Total row ---------------------------------


def write_c_brsa(path: Path, brsa, extra_rows: list[list] | None = None) -> Path:
    workbook = xlsxwriter.Workbook(path)
    date = workbook.add_format({"num_format": "dd/mm/yyyy"})
    stamp = workbook.add_format({"num_format": "dd/mm/yyyy hh:mm:ss"})
    for sheet_name in ("BRSA", "Actions"):
        sheet = workbook.add_worksheet(sheet_name)
        sheet.write(0, 0, "Département d'Ille-et-Vilaine - Extraction du 31/01/2025")
        sheet.write_row(2, 0, brsa.native_columns)
    sheet = workbook.get_worksheet_by_name("BRSA")
    rows = [
        [
            "D1",
            P1,
            None,
            "Femme",
            dt.date(1990, 3, 1),
            35238,
            "Bac+2",
            dt.date(2020, 2, 1),
            None,
            None,
            dt.date(2020, 2, 15),
            "Sociale",
            "CCAS",
            dt.date(2020, 3, 1),
            "CER",
            dt.datetime(2025, 1, 5, 14, 30, 5),
        ],
        [
            "D2",
            None,
            P2,
            "Homme",
            dt.date(1985, 11, 1),
            35047,
            "Non renseigné",
            dt.date(2019, 6, 1),
            dt.date(2024, 12, 31),
            "Décès",
            None,
            "Professionnelle",
            "France Travail",
            None,
            "PPAE",
            dt.datetime(2025, 1, 6),
        ],
        *(extra_rows or []),
    ]
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, value, date)
            elif value is not None:
                sheet.write(r, c, value)
    sheet.write_row(3 + len(rows), 0, ["Total", len(rows)])
    workbook.close()
    return path


def test_layout_c_workbook(tmp_path, catalog):
    contract = catalog.contract("cd35", "brsa")
    extra = [
        [
            "D3",
            P3,
            None,
            "Femme",
            "1990-03",
            "35238",
            "Bac+9",
            "hier",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            dt.datetime(2025, 1, 7),
        ]
    ]
    path = write_c_brsa(tmp_path / "extraction_insertion_2025-01.xlsx", contract, extra)
    native = read_native(contract, path)
    assert native["_line"].to_list() == [4, 5, 6]  # Excel rows; title, blank row, header skipped
    assert native["N° dossier"].to_list() == ["D1", "D2", "D3"]  # Total row dropped
    assert native["Commune (code INSEE)"].to_list() == ["35238", "35047", "35238"]
    assert native["Date d'ouverture du droit"].to_list() == ["2020-02-01", "2019-06-01", "hier"]
    assert native["Dernière mise à jour"].to_list() == [
        "2025-01-05T14:30:05",
        "2025-01-06",  # a date-time at midnight reads as a date
        "2025-01-07",
    ]

    result = to_canonical(contract, native)
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    assert frame["commune_insee"].to_list() == ["35238", "35047", "35238"]
    assert frame["sexe"].to_list() == ["2", "1", "2"]
    assert frame["mois_naissance"].to_list() == [dt.date(1990, 3, 1), dt.date(1985, 11, 1), None]
    assert frame["niveau_diplome"].to_list() == ["5", None, None]  # "Non renseigné" -> null
    assert frame["motif_fin_droit"].to_list() == [None, "DECES", None]
    assert frame["date_maj"].to_list() == [
        dt.datetime(2025, 1, 5, 14, 30, 5),
        dt.datetime(2025, 1, 6),
        dt.datetime(2025, 1, 7),
    ]
    assert errors_of(result) == [
        (6, "mois_naissance", "format_invalide"),
        (6, "niveau_diplome", "code_inconnu"),
        (6, "date_ouverture_droit", "type_invalide"),
    ]


def test_layout_c_missing_sheet_and_not_a_workbook(tmp_path, catalog):
    brsa = catalog.contract("cd35", "brsa")
    path = write_c_brsa(tmp_path / "extraction_insertion_2025-01.xlsx", brsa)
    with pytest.raises(ReadError) as err:
        read_native(catalog.contract("cd35", "aides"), path)
    assert err.value.rule == "feuille_absente" and "Aides" in str(err.value)
    with pytest.raises(ReadError) as err:
        read_native(catalog.contract("cd35", "actions"), path)  # header of another entity
    assert err.value.rule == "colonne_manquante" and "« N° participation »" in str(err.value)
    fake = tmp_path / "fake.xlsx"
    fake.write_text(f"N° dossier;{P1}\n", encoding="utf-8")
    with pytest.raises(ReadError) as err:
        read_native(brsa, fake)
    assert err.value.rule == "fichier_illisible" and P1 not in str(err.value)
    assert read_header(brsa, path) == brsa.native_columns


# --- Layout M2: hand-typed date cells mixing Excel dates and JJ/MM/AAAA text ---------------------


def test_layout_m2_mixed_date_cells(tmp_path, catalog):
    contract = catalog.contract("rmo", "plie_participants")
    path = tmp_path / "export_plie_20250131.xlsx"
    workbook = xlsxwriter.Workbook(path)
    date = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet = workbook.add_worksheet("Participants")
    sheet.write_row(0, 0, contract.native_columns)
    entries = [dt.date(2024, 1, 8), "15/03/2024", dt.date(2024, 5, 2), "2024-06-01", "32/01/2024"]
    for i, entry in enumerate(entries, start=1):
        sheet.write_row(i, 0, [f"R{i}", P1, P2, "F", "03/2004", "35238", "infra3"])
        sheet.write(i, 7, "BRSA, QPV,TH" if i == 1 else "DELD")
        if isinstance(entry, dt.date):
            sheet.write_datetime(i, 8, entry, date)
        else:
            sheet.write_string(i, 8, entry)
        sheet.write_row(i, 10, [None, "Oui"])
    sheet.write_number(2, 5, 35047)  # a commune typed as a number
    sheet.write_datetime(3, 4, dt.date(2004, 3, 1), date)  # "03/2004" turned into a date by Excel
    workbook.close()

    native = read_native(contract, path)
    assert native["_line"].to_list() == [2, 3, 4, 5, 6]
    assert native["Date d'entrée"].to_list() == [
        "2024-01-08",
        "15/03/2024",
        "2024-05-02",
        "2024-06-01",
        "32/01/2024",
    ]
    result = to_canonical(contract, native)
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    assert frame["date_entree"].to_list() == [
        dt.date(2024, 1, 8),
        dt.date(2024, 3, 15),
        dt.date(2024, 5, 2),
        dt.date(2024, 6, 1),  # ISO text reads like an Excel date cell
        None,
    ]
    assert frame["mois_naissance"].to_list() == [dt.date(2004, 3, 1)] * 5
    assert frame["commune_insee"].to_list()[:2] == ["35238", "35047"]
    assert frame["sexe"].to_list() == ["2"] * 5
    assert frame["publics"].to_list()[:2] == [["BRSA", "QPV", "TH"], ["DELD"]]
    assert frame["cofinancement_fse"].to_list() == [True] * 5
    assert errors_of(result) == [(6, "date_entree", "type_invalide")]


def test_layout_m2_text_dates_after_many_date_cells(tmp_path, catalog):
    """fastexcel infers a column's type from its first rows: every cell must be read as text."""
    contract = catalog.contract("rmo", "plie_etapes")
    path = tmp_path / "export_plie_20250131.xlsx"
    workbook = xlsxwriter.Workbook(path)
    date = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet = workbook.add_worksheet("Etapes")
    sheet.write_row(0, 0, contract.native_columns)
    n = 1500
    for i in range(1, n + 1):
        sheet.write_row(i, 0, [f"E{i}", f"R{i}", "FORMATION"])
        sheet.write_datetime(i, 3, dt.date(2024, 1, 1) + dt.timedelta(days=i % 300), date)
    sheet.write_string(n, 3, "15/03/2024")
    sheet.write_string(n, 4, "16/03/2024")
    workbook.close()
    native = read_native(contract, path)
    assert native.height == n and native["_line"][-1] == n + 1
    assert native["Début"][-1] == "15/03/2024" and native["Fin"][-1] == "16/03/2024"
    result = to_canonical(contract, native)
    assert result.errors.is_empty()
    assert result.frame["date_debut"][-1] == dt.date(2024, 3, 15)
    assert result.frame["date_fin"].null_count() == n - 1


# --- Layout R: JSON lines with nested objects, lists and late unknown keys -----------------------


def stagiaire(i: int, **changes) -> dict:
    record = {
        "id_inscription": f"INS-2024-{i:06d}",
        "personne": {
            "pseudo_nir": P1,
            "pseudo_ec": P2,
            "sexe": 2,
            "naissance": "2004-03",
            "commune": "35238",
            "niveau": "infra3",
            "statut_entree": "JEUNE",
        },
        "dispositif": "PREPA_AVENIR",
        "formacode": "15041",
        "organisme_siret": "00000000000000",
        "date_entree": "2024-01-08",
        "date_fin_prevue": "2024-04-19",
        "date_sortie": None,
        "resultat": None,
        "financements": [
            {"financeur": "PRIC", "montant": 2150.0, "code_operation_fse": None},
            {"financeur": "FSE", "montant": 1300, "code_operation_fse": "FSE-REG-2021-004"},
        ],
        "maj": "2024-04-22T10:02:11+02:00",
    }
    record.update(changes)
    return record


def test_layout_r_jsonl(tmp_path, catalog):
    contract = catalog.contract("reg53", "stagiaires")
    records = [stagiaire(i) for i in range(1, 2001)]
    records[1] = stagiaire(
        2,
        maj="2024-01-15T09:00:00+01:00",
        resultat="CERTIF_TOTALE",
        financements=[{"financeur": "MECENE", "montant": "12,5"}],
    )
    records[2] = stagiaire(
        3, personne={"pseudo_ec": P3, "sexe": "1", "commune": 35047}, financements=[]
    )
    late = stagiaire(
        2000,
        commentaire={"libre": ["x"]},  # unknown key, only on the last line
        dispositif="QUALIF_EMPLOI_PROGRAMME",
        date_sortie="2024-04-19",  # null on every earlier line
    )
    late["personne"]["prenom_usage"] = "inconnu"
    records[-1] = late
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    lines.insert(3, "")  # a blank line: no row, line numbers unchanged
    path = write_text(tmp_path / "stagiaires_20250131.jsonl", lines, encoding="utf-8", eol="\n")

    native = read_native(contract, path)
    assert native.height == 2000
    assert native.columns == ["_line", *contract.native_columns]
    assert native["_line"].to_list()[:4] == [1, 2, 3, 5]
    assert native["personne.sexe"].to_list()[:3] == ["2", "2", "1"]
    assert native["personne.commune"][2] == "35047"
    assert native["dispositif"][-1] == "QUALIF_EMPLOI_PROGRAMME"
    assert native["date_sortie"].to_list()[-2:] == [None, "2024-04-19"]
    assert native.schema["financements"] == pl.List(
        pl.Struct({"financeur": pl.String, "montant": pl.String, "code_operation_fse": pl.String})
    )

    result = to_canonical(contract, native)
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    first = frame.row(0, named=True)
    assert first["sexe"] == "2" and first["mois_naissance"] == dt.date(2004, 3, 1)
    assert first["financements"] == [
        {"financeur": "PRIC", "montant": 2150.0, "code_operation_fse": None},
        {"financeur": "FSE", "montant": 1300.0, "code_operation_fse": "FSE-REG-2021-004"},
    ]
    assert first["date_maj"] == dt.datetime(2024, 4, 22, 10, 2, 11)  # Paris wall clock
    second = frame.row(1, named=True)
    assert second["date_maj"] == dt.datetime(2024, 1, 15, 9, 0)
    assert second["resultat"] == "CERTIFICATION_TOTALE"
    assert second["financements"] == [
        {"financeur": None, "montant": None, "code_operation_fse": None}
    ]
    assert frame["financements"][2].to_list() == []
    assert frame["pseudo_nir"][2] is None and frame["commune_insee"][2] == "35047"
    assert errors_of(result) == [
        (2, "financements.financeur", "code_inconnu"),
        (2, "financements.montant", "type_invalide"),
    ]
    assert "Financements : Financeur" in result.errors["message"][0]
    assert "personne.prenom_usage" in read_header(contract, path)


def test_layout_r_broken_json_line(tmp_path, catalog):
    contract = catalog.contract("reg53", "stagiaires")
    lines = [json.dumps(stagiaire(i)) for i in range(1, 6)]
    lines[3] = lines[3][:-40]  # a line cut short
    path = write_text(tmp_path / "stagiaires_20250131.jsonl", lines, encoding="utf-8", eol="\n")
    with pytest.raises(ReadError) as err:
        read_native(contract, path)
    assert (err.value.rule, err.value.line) == ("ligne_illisible", 4)
    assert P1 not in str(err.value) and "INS-" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


# --- Layout M1: CSV with '|' code sets, quoted line breaks, blank lines --------------------------


def test_layout_m1_participants(tmp_path, catalog):
    contract = catalog.contract("bmo", "plie_participants")
    lines = [
        ",".join(contract.native_columns),
        f"B1,{P1},,2,1990-03,29019,3,BRSA|QPV,2024-01-08,,,1,",
        f'B2,,{P2},1,1985-11,29019,infra3,"DELD|',
        'SENIOR",2024-02-01,2024-06-30,CDI,0,FSE-29-001',
        "",
        f"B3,,{P3},1,1985-11,29019,5,BRSA||ETUDIANT|brsa,2024-02-01,,,1,",
    ]
    path = write_text(tmp_path / "plie_participants.csv", lines, encoding="utf-8", eol="\n")
    native = read_native(contract, path)
    assert native["_line"].to_list() == [2, 3, 6]  # B2 spans lines 3-4, line 5 is blank
    result = to_canonical(contract, native)
    frame = result.frame
    assert_canonical_dtypes(contract, frame)
    assert frame["publics"].to_list() == [["BRSA", "QPV"], ["DELD", "SENIOR"], ["BRSA"]]
    assert frame["cofinancement_fse"].to_list() == [True, False, True]
    assert frame["motif_sortie"].to_list() == [None, "CDI", None]
    assert errors_of(result) == [(6, "publics", "code_inconnu")]


# --- Errors that make a file unreadable ----------------------------------------------------------


def test_missing_column_is_named(tmp_path, catalog):
    contract = catalog.contract("bmo", "clause_heures")
    header = [c for c in contract.native_columns if c != "marche_id"] + ["nom"]
    path = write_text(
        tmp_path / "clause_heures.csv",
        [",".join(header), f"L1,{P1},,DO,2024-01,7,DUPONT"],
        encoding="utf-8",
        eol="\n",
    )
    with pytest.raises(ReadError) as err:
        read_native(contract, path)
    assert err.value.rule == "colonne_manquante"
    assert err.value.line == 1
    assert "« marche_id »" in err.value.message_fr
    assert "DUPONT" not in str(err.value)
    assert read_header(contract, path)[-1] == "nom"


def test_extra_columns_are_dropped_and_columns_matched_by_name(tmp_path, catalog):
    contract = catalog.contract("bmo", "clause_heures")
    header = ["email", *reversed(contract.native_columns)]
    row = ["x@example.org", "12,5", "2024-01", "Ville", "M-1", "", P1, "L1"]
    path = write_text(
        tmp_path / "clause_heures.csv",
        [",".join(header), ",".join(f'"{v}"' for v in row)],
        encoding="utf-8",
        eol="\n",
    )
    native = read_native(contract, path)
    assert native.columns == ["_line", *contract.native_columns]
    result = to_canonical(contract, native)
    assert result.frame.row(0) == (2, "L1", P1, None, "M-1", "Ville", dt.date(2024, 1, 1), None)
    assert errors_of(result) == [(2, "heures", "format_invalide")]


def test_empty_and_header_only_files(tmp_path, catalog):
    contract = catalog.contract("bmo", "plie_etapes")
    empty = tmp_path / "plie_etapes.csv"
    empty.write_bytes(b"")
    with pytest.raises(ReadError) as err:
        read_native(contract, empty)
    assert err.value.rule == "fichier_vide"
    only_header = write_text(
        tmp_path / "h.csv", [",".join(contract.native_columns)], encoding="utf-8", eol="\n"
    )
    native = read_native(contract, only_header)
    assert native.height == 0 and native.columns == ["_line", *contract.native_columns]
    result = to_canonical(contract, native)
    assert result.frame.height == 0 and result.errors.is_empty()
    assert_canonical_dtypes(contract, result.frame)


def test_ragged_csv_error_quotes_no_value(tmp_path, catalog):
    contract = catalog.contract("bmo", "operations_fse")
    lines = [
        ";".join(contract.native_columns),
        "OP1;Opération;PN_FSE_PLUS_2021_2027;2022-01-01;2024-12-31;1000;500;PLIE",
        "OP2;1850535238123;x;y;z;1;2;3;4;5",
    ]
    path = write_text(tmp_path / "operations_fse.csv", lines, encoding="utf-8", eol="\n")
    with pytest.raises(ReadError) as err:
        read_native(contract, path)
    assert err.value.rule == "fichier_illisible"
    assert "1850535238123" not in str(err.value) and err.value.__suppress_context__


def test_error_messages_never_quote_values(tmp_path, catalog):
    contract = catalog.contract("bmo", "clause_heures")
    nir_like = "1850535238123"
    lines = [",".join(contract.native_columns), f"L1,{P1},,M-1,DO,{nir_like},{nir_like}x"]
    path = write_text(tmp_path / "clause_heures.csv", lines, encoding="utf-8", eol="\n")
    result = to_canonical(contract, read_native(contract, path))
    assert errors_of(result) == [(2, "mois", "type_invalide"), (2, "heures", "type_invalide")]
    for message in result.errors["message"]:
        assert nir_like not in message and message.endswith(".")
