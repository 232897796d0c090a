"""Exports of the current publication for evaluation officers: the shared indicator grid as a
workbook (French labels, one sheet per indicator family, definitions, about), as French CSV
(`;`, decimal comma, UTF-8 with BOM) or as Parquet. Suppressed cells read `s`, never 0 or blank.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import yaml

from publication.confidentiality import rules
from publication.publish import CURRENT, DATABASE

EXPORTS_FILE = Path(__file__).with_name("exports.yaml")
FORMATS = ("xlsx", "csv", "parquet")


class ExportError(ValueError):
    """A user error (no publication, unknown collectivity or format), with a French message."""


@cache
def export_rules() -> dict:
    return yaml.safe_load(EXPORTS_FILE.read_text(encoding="utf-8"))


def _publication(published_root: Path) -> Path:
    current = published_root / CURRENT
    if not (current / DATABASE).exists():
        raise ExportError(
            f"aucune publication courante dans {published_root} (lancer « spifeb run » d'abord)"
        )
    return current.resolve()


def writable_output(path: Path, error: type[Exception] = ExportError) -> Path:
    """`path` if a file can be written there, else a user error in French (the folder must exist:
    a mistyped folder is not created silently)."""
    folder = path.parent
    if path.is_dir():
        raise error(f"{path} est un dossier : donnez un nom de fichier")
    if not folder.is_dir():
        raise error(f"dossier introuvable : {folder}")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise error(f"écriture impossible dans {folder} (droits ou disque en lecture seule)")
    return path


def _check_selection(known_collectivites: set, known_years: set, collectivite, annee) -> None:
    if collectivite is not None and collectivite not in known_collectivites:
        raise ExportError(
            f"collectivité inconnue « {collectivite} » (connues : {', '.join(sorted(known_collectivites))})"
        )
    if annee is not None and annee not in known_years:
        years = sorted(known_years)
        raise ExportError(
            f"aucune donnée publiée pour l'année {annee} (années publiées : {years[0]} à {years[-1]})"
            if years else f"aucune donnée publiée pour l'année {annee}"
        )  # fmt: skip


def grid_rows(
    publication: Path, collectivite: str | None, annee: int | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The grid rows asked for, with the catalogue's labels and units; and the catalogue."""
    with duckdb.connect(str(publication / DATABASE), read_only=True) as connection:
        grid = connection.sql("select * from marts.grille_indicateurs").pl()
        catalogue = connection.sql("select * from reference.indicateurs").pl()
    known = set(grid["collectivite"].unique()) - {"TOTAL"}
    _check_selection(known, set(grid["annee"].unique()), collectivite, annee)
    if collectivite is not None:
        grid = grid.filter(pl.col("collectivite") == collectivite)
    if annee is not None:
        grid = grid.filter(pl.col("annee") == annee)
    labels = catalogue.select(pl.col("code").alias("code_indicateur"), "libelle", "unite")
    return grid.join(labels, on="code_indicateur", how="left"), catalogue


def _sheet(rows: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    return rows.sort("code_indicateur", "annee", "trimestre", "niveau_agregation").select(
        list(columns)
    )


def _styles(workbook) -> dict:
    """The cell formats every exported workbook uses."""
    return {
        "header": workbook.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "top"}
        ),
        "percent": workbook.add_format({"num_format": "0.0%"}),
        "euros": workbook.add_format({"num_format": "# ##0 €"}),
        "number": workbook.add_format({"num_format": "# ##0"}),
    }


def _about_sheet(workbook, header, manifest: dict) -> None:
    """The « À propos » sheet: publication, code version, confidentiality rule, extracts used."""
    threshold = rules()["confidentiality"]["threshold"]
    about = workbook.add_worksheet("À propos")
    lines = [
        ("Publication", manifest["id_publication"]),
        ("Date de publication", manifest["date_publication"]),
        ("Version du code", manifest["version_code"]),
        ("Secret statistique", export_rules()["grille"]["legend"].format(threshold=threshold)),
        ("", ""),
        ("Extraits utilisés", ""),
        *sorted(
            {(e["source"], f"extrait du {e['date_extraction']}") for e in manifest["extraits"]}
        ),
    ]
    for r, (key, value) in enumerate(lines):
        about.write(r, 0, key, header if key and not value.startswith("extrait") else None)
        about.write(r, 1, value)
    about.set_column(0, 0, 28)
    about.set_column(1, 1, 90)


def _write_xlsx(rows: pl.DataFrame, catalogue: pl.DataFrame, manifest: dict, path: Path) -> None:
    import xlsxwriter

    config = export_rules()["grille"]
    columns, mark = config["columns"], config["suppressed_mark"]
    threshold = rules()["confidentiality"]["threshold"]
    workbook = xlsxwriter.Workbook(str(path))
    styles = _styles(workbook)
    header = styles["header"]
    formats = {"ratio": styles["percent"], "euros": styles["euros"], None: styles["number"]}
    for family, codes in config["families"].items():
        part = _sheet(
            rows.filter(pl.col("code_indicateur").is_in(codes)),
            {**columns, "unite": "", "secret_statistique": ""},
        )
        sheet = workbook.add_worksheet(family[:31])
        sheet.write_row(0, 0, list(columns.values()), header)
        sheet.freeze_panes(1, 0)
        value_columns = [
            i for i, c in enumerate(columns) if c in ("valeur", "numerateur", "denominateur")
        ]
        for r, row in enumerate(part.iter_rows(named=True), start=1):
            for c, name in enumerate(columns):
                value = row[name]
                if c in value_columns:
                    if value is None and row["secret_statistique"]:
                        sheet.write_string(r, c, mark)
                    elif value is not None:
                        unit = row["unite"] if name == "valeur" else None
                        sheet.write_number(r, c, value, formats.get(unit, formats[None]))
                elif value is not None:
                    sheet.write(r, c, value)
        sheet.set_column(0, 0, 40)
        sheet.set_column(1, len(columns) - 1, 14)
        sheet.write(len(part) + 2, 0, config["legend"].format(threshold=threshold))
    definitions = workbook.add_worksheet("Définitions")
    headers = {"code": "Code", "libelle": "Indicateur", "definition": "Définition", "numerateur": "Numérateur",
               "denominateur": "Dénominateur", "unite": "Unité", "champs_sources": "Champs sources"}  # fmt: skip
    definitions.write_row(0, 0, list(headers.values()), header)
    definitions.freeze_panes(1, 0)
    for r, row in enumerate(catalogue.select(list(headers)).iter_rows(), start=1):
        definitions.write_row(r, 0, ["" if v is None else v for v in row])
    definitions.set_column(0, 1, 30)
    definitions.set_column(2, 2, 80)
    _about_sheet(workbook, header, manifest)
    workbook.close()


def _write_csv(rows: pl.DataFrame, path: Path) -> None:
    """French conventions: `;`, decimal comma, UTF-8 with BOM, `s` for a suppressed cell."""
    config = export_rules()["grille"]
    columns, mark = config["columns"], config["suppressed_mark"]
    values = ("valeur", "numerateur", "denominateur")
    text = _sheet(rows, {**columns, "secret_statistique": ""}).with_columns(
        pl.when(pl.col(c).is_null() & pl.col("secret_statistique")).then(pl.lit(mark))
        .otherwise(pl.col(c).round(6).cast(pl.String).str.replace(r"\.0$", "").str.replace(".", ",", literal=True))
        .alias(c)
        for c in values
    ).drop("secret_statistique").rename(columns)  # fmt: skip
    path.write_bytes(b"\xef\xbb\xbf" + text.write_csv(separator=";").encode("utf-8"))


def export_grid(published_root: Path, out: Path | None = None, collectivite: str | None = None,
                annee: int | None = None, fmt: str = "xlsx") -> Path:  # fmt: skip
    """Write the grid of the current publication; returns the file written."""
    if fmt not in FORMATS:
        raise ExportError(f"format inconnu « {fmt} » (formats : {', '.join(FORMATS)})")
    publication = _publication(published_root)
    manifest = json.loads((publication / "manifest.json").read_text(encoding="utf-8"))
    rows, catalogue = grid_rows(publication, collectivite, annee)
    name = "_".join(["grille_indicateurs", collectivite or "toutes", str(annee or "toutes_annees")])
    path = writable_output(out or Path.cwd() / f"{name}.{fmt}")
    if fmt == "xlsx":
        _write_xlsx(rows, catalogue, manifest, path)
    elif fmt == "csv":
        _write_csv(rows, path)
    else:
        rows.write_parquet(path)
    return path


def export_cohorts(published_root: Path, out: Path | None = None, collectivite: str | None = None,
                   annee: int | None = None) -> Path:  # fmt: skip
    """The cohort tables and survival curves of the current publication as a French workbook."""
    import xlsxwriter

    publication = _publication(published_root)
    manifest = json.loads((publication / "manifest.json").read_text(encoding="utf-8"))
    config, mark = export_rules()["cohortes"], export_rules()["grille"]["suppressed_mark"]
    path = writable_output(
        out or Path.cwd() / f"cohortes_{collectivite or 'toutes'}_{annee or 'toutes_annees'}.xlsx"
    )
    with duckdb.connect(str(publication / DATABASE), read_only=True) as connection:
        known = connection.sql(
            "select distinct collectivite, annee_entree from marts.cohortes_agregees"
        ).pl()
        _check_selection(set(known["collectivite"]), set(known["annee_entree"]), collectivite,
                         annee)  # fmt: skip
        workbook = xlsxwriter.Workbook(str(path))
        styles = _styles(workbook)
        header, percent, number = styles["header"], styles["percent"], styles["number"]
        for name, sheet_spec in config["sheets"].items():
            rows = connection.sql(f"select * from {sheet_spec['table']}").pl()
            if collectivite is not None:
                rows = rows.filter(pl.col("collectivite") == collectivite)
            if annee is not None:
                rows = rows.filter(pl.col("annee_entree") == annee)
            columns = sheet_spec["columns"]
            sheet = workbook.add_worksheet(name)
            sheet.write_row(0, 0, list(columns.values()), header)
            sheet.freeze_panes(1, 0)
            statistics = set(sheet_spec["percent"]) | set(sheet_spec["counts"])
            for r, row in enumerate(rows.iter_rows(named=True), start=1):
                for c, column in enumerate(columns):
                    value = row[column]
                    if column in statistics and value is None and row.get("secret_statistique"):
                        sheet.write_string(r, c, mark)
                    elif column in sheet_spec["percent"] and value is not None:
                        sheet.write_number(r, c, value, percent)
                    elif column in sheet_spec["counts"] and value is not None:
                        sheet.write_number(r, c, value, number)
                    elif value is not None:
                        sheet.write(r, c, value)
            sheet.set_column(0, len(columns) - 1, 14)
    _about_sheet(workbook, header, manifest)
    workbook.close()
    return path
