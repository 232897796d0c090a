"""Grid exports, opened with other libraries than the ones that wrote them."""

from __future__ import annotations

import csv
import io

import duckdb
import openpyxl
import polars as pl
import pytest
from typer.testing import CliRunner

from publication import gate_and_publish
from publication.exports import ExportError, export_cohorts, export_grid
from spifeb.cli import app


@pytest.fixture(scope="module")
def published(built_warehouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    result = gate_and_publish(built_warehouse / "warehouse.duckdb", built_warehouse / "lake", root)
    assert result.published
    return root


def _grid(published, collectivite, annee) -> pl.DataFrame:
    with duckdb.connect(str(published / "current" / "spifeb.duckdb"), read_only=True) as connection:
        return connection.sql(
            f"select * from marts.grille_indicateurs where collectivite = '{collectivite}' and annee = {annee}"
        ).pl()


def test_the_workbook_has_french_sheets_headers_values_and_marks(published, tmp_path):
    path = export_grid(published, tmp_path / "grille.xlsx", "cd35", 2022, "xlsx")
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [
        "Entrées et présences",
        "Sorties",
        "Situation à 6 mois",
        "Aides",
        "Définitions",
        "À propos",
    ]
    sheet = workbook["Entrées et présences"]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["Indicateur", "Code", "Année"] and headers[-3:] == [
        "Valeur",
        "Numérateur",
        "Dénominateur",
    ]
    assert sheet.freeze_panes == "A2"
    grid = _grid(published, "cd35", 2022)
    expected = {
        (r["code_indicateur"], r["trimestre"], r["dispositif"]): r["valeur"]
        for r in grid.filter(pl.col("code_indicateur") == "ENTRANTS").iter_rows(named=True)
    }
    seen = {}
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if row[1] == "ENTRANTS":
            seen[(row[1], row[3], row[5])] = row[11]
    assert {k[2] for k in seen} > {"TOTAL"}  # the collectivity's own dispositifs too
    assert seen and all(
        (expected[k] == v) or (expected[k] is None and v == "s") for k, v in seen.items()
    )
    rates = workbook["Sorties"]
    percent = [
        c for c in rates["L"][1:] if isinstance(c.value, float) and c.number_format.endswith("%")
    ]
    assert percent, "rates are formatted as percentages"
    assert any("secret statistique" in str(c.value) for c in sheet["A"])
    about = {r[0]: r[1] for r in workbook["À propos"].iter_rows(values_only=True)}
    assert about["Publication"] == (published / "current").resolve().name
    assert {"reg53", "cd35"} <= set(about)
    definitions = [r[0] for r in workbook["Définitions"].iter_rows(min_row=2, values_only=True)]
    assert "TAUX_SORTIES_POSITIVES" in definitions


def test_the_csv_follows_french_conventions(published, tmp_path):
    path = export_grid(published, tmp_path / "grille.csv", "cd35", 2022, "csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Indicateur" and rows[0][-1] == "Dénominateur"
    values = [r[11] for r in rows[1:]]
    assert any("," in v for v in values) and not any("." in v for v in values)
    grid = _grid(published, "cd35", 2022)
    assert len(rows) - 1 == grid.height
    assert (
        values.count("s")
        == grid.filter(pl.col("valeur").is_null() & pl.col("secret_statistique")).height
    )


def test_user_errors_are_one_french_line(published, tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="collectivité inconnue"):
        export_grid(published, tmp_path / "x.xlsx", "cd99", None, "xlsx")
    with pytest.raises(ExportError, match="format inconnu"):
        export_grid(published, tmp_path / "x.ods", None, None, "ods")
    monkeypatch.setenv("SPIFEB_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["export", "grille"])
    assert (
        result.exit_code == 2
        and "aucune publication" in result.output
        and "Traceback" not in result.output
    )


def test_the_cohort_workbook_has_cohorts_and_survival(published, tmp_path):
    from publication.exports import export_cohorts

    path = export_cohorts(published, tmp_path / "cohortes.xlsx", None, None)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Cohortes", "Survie", "À propos"]
    cohorts, survival = workbook["Cohortes"], workbook["Survie"]
    assert [c.value for c in cohorts[1]][-1] == "Part des observés"
    assert "Survie (Kaplan-Meier)" in [c.value for c in survival[1]]
    with duckdb.connect(str(published / "current" / "spifeb.duckdb"), read_only=True) as connection:
        expected = connection.execute("select count(*) from marts.cohortes_agregees").fetchone()[0]
    assert cohorts.max_row - 1 == expected
    values = [row[11] for row in cohorts.iter_rows(min_row=2, values_only=True)]
    assert all(v == "s" or v is None or 0 <= v <= 1 for v in values)


def test_exports_refuse_what_would_give_an_empty_or_lost_file(published, tmp_path):
    cases = [
        (lambda: export_cohorts(published, tmp_path / "c.xlsx", "zz"), "collectivité inconnue"),
        (
            lambda: export_grid(published, tmp_path / "g.xlsx", "cd35", 1990),
            "aucune donnée publiée",
        ),
        (
            lambda: export_cohorts(published, tmp_path / "c.xlsx", None, 1990),
            "aucune donnée publiée",
        ),
        (lambda: export_grid(published, tmp_path / "absent" / "g.xlsx"), "dossier introuvable"),
        (lambda: export_grid(published, tmp_path), "est un dossier"),
    ]
    for export, message in cases:
        with pytest.raises(ExportError, match=message):
            export()
    assert not list(tmp_path.glob("*.xlsx"))
