"""The publication's report: one self-contained HTML file in French (no script, no external font,
stylesheet or image), readable offline. A summary, the key indicators per collectivity and per
dispositif, charts (cohorts, Kaplan–Meier, RSA orientation, ESF, data quality) as inline SVG,
then the quality checks, the extracts used and the tables published.

It reads only the published DuckDB file (aggregates already under statistical suppression) and
the manifest: never the working warehouse nor the restricted file. Charts are in `charts.py`; the
page layout is `templates/rapport.html.j2`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import jinja2
import polars as pl
from markupsafe import Markup

from data_contracts import load_catalog
from publication import charts
from publication.confidentiality import rules

TEMPLATES = Path(__file__).with_name("templates")
PARIS = ZoneInfo("Europe/Paris")  # the readers' time
REPORT = "rapport_qualite.html"
SUPPRESSED = "s"
# The grid's key indicators shown per collectivity and per dispositif, in column order.
KEY_INDICATORS = [
    "ENTRANTS", "PRESENTS_PERIODE", "SORTIES", "DUREE_MEDIANE_SORTIES", "TAUX_SORTIES_POSITIVES",
    "TAUX_SORTIES_EMPLOI_DURABLE", "SITUATION_6_MOIS_EMPLOI", "TAUX_RUPTURE",
]  # fmt: skip
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]  # fmt: skip
# Published tables the report reads, and the rows it needs from each.
SOURCES = {
    "dispositifs": ("reference.dispositifs", ""),
    "indicateurs": ("reference.indicateurs", ""),
    "grille": ("marts.grille_indicateurs", f"""
        where trimestre = 'TOTAL'
          and niveau_agregation in ('annee', 'annee x collectivite', 'annee x dispositif',
                                    'annee x collectivite x dispositif')
          and code_indicateur in ({", ".join(f"'{c}'" for c in KEY_INDICATORS)})
          and annee = (select max(annee) from marts.grille_indicateurs where trimestre = 'TOTAL')
    """),
    "cohortes": ("marts.cohortes_agregees", "where public = 'TOUS'"),
    # Suppression only cuts a curve's tail (fewer persons at risk): dropping it leaves no gap.
    "survie": ("marts.survie_km", "where public = 'TOUS' and survie is not null"),
    "rsa": ("marts.rsa_indicateurs", ""),
    "fse": ("marts.fse_synthese", ""),
    "chargements": ("qualite.chargements", ""),
}  # fmt: skip


class ReportError(ValueError):
    """A user error (no publication, unknown publication, output in the publication), in French."""


def _published_frames(database: Path) -> dict[str, pl.DataFrame | None]:
    """The rows the report needs from the published file (None for a table it does not hold)."""
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = connection.execute("select schema_name, table_name from duckdb_tables()")
        present = {f"{schema}.{table}" for schema, table in tables.fetchall()}
        frames = {name: None for name in SOURCES}
        for name, (table, where) in SOURCES.items():
            if table in present:
                frames[name] = connection.sql(f"select * from {table} {where}").pl()
    return frames


def _collectivites() -> dict[str, str]:
    return {code: source.collectivite for code, source in load_catalog().sources.items()}


def _short(label: str) -> str:
    """A label short enough for a chart legend: « Finistère », « Revenu de solidarité active »."""
    label = re.sub(r"^Département (?:du |de la |des |de l'|d')", "", label)
    return re.sub(r"\s*\(.*\)$", "", label)


def _labelled(frame: pl.DataFrame, dispositifs: dict[str, str]) -> pl.DataFrame:
    """Short French labels next to the codes of dispositif and collectivity (charts)."""
    dispositifs = {code: _short(label) for code, label in dispositifs.items()}
    collectivites = {code: _short(label) for code, label in _collectivites().items()}
    labels = {"dispositif": dispositifs, "collectivite": collectivites}
    return frame.with_columns(
        pl.col(column).replace_strict(mapping, default=pl.col(column)).alias(f"libelle_{column}")
        for column, mapping in labels.items()
        if column in frame.columns
    )


def french_number(value: float | None, unit: str | None = None, secret: bool = False) -> str:
    """A value as French readers expect it: `1 234`, `45,2 %`, `1 250 €`; `s` when suppressed."""
    if value is None:
        return SUPPRESSED if secret else "—"
    if unit == "ratio":
        return f"{value * 100:.1f}".replace(".", ",") + "\u202f%"
    text = f"{value:,.0f}" if unit != "jours" or value == round(value) else f"{value:,.1f}"
    text = text.replace(",", "\u202f").replace(".", ",")
    return text + ("\u202f€" if unit == "euros" else "")


def french_date(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


def french_datetime(iso: str) -> str:
    moment = dt.datetime.fromisoformat(iso)
    moment = moment.astimezone(PARIS) if moment.tzinfo else moment
    return (
        f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M} (heure de Paris)"
    )


def _key_indicator_table(
    grid: pl.DataFrame,
    catalogue: pl.DataFrame,
    by: str,
    labels: dict[str, str],
    levels: list[str] | None = None,
    total_label: str = "Ensemble",
) -> dict:
    """Rows (one per collectivity or dispositif, then the total) × key indicators, as text.

    `levels`: the grid's total level then its level by `by` (default: the year's total, then by
    `by`); at the total level `by` reads TOTAL, which gives the last row."""
    units = dict(catalogue.select("code", "unite").iter_rows())
    names = dict(catalogue.select("code", "libelle").iter_rows())
    levels = levels or ["annee", f"annee x {by}"]
    published = grid.filter(pl.col("niveau_agregation").is_in(levels))
    cells = {(r[by], r["code_indicateur"]): r for r in published.iter_rows(named=True)}
    members = sorted({key for key, _ in cells} - {"TOTAL"}, key=lambda k: labels.get(k, k))
    rows = []
    for member in [*members, "TOTAL"]:
        texts = [
            french_number(cell["valeur"], units.get(code), cell["secret_statistique"])
            if (cell := cells.get((member, code)))
            else "—"
            for code in KEY_INDICATORS
        ]
        rows.append(
            {
                "label": total_label if member == "TOTAL" else labels.get(member, member),
                "code": "" if member == "TOTAL" else member,
                "values": [{"text": t, "secret": t == SUPPRESSED} for t in texts],
            }
        )
    suffixes = {"jours": " (jours)", "ratio": " (%)"}
    headers = [names.get(c, c) + suffixes.get(units.get(c), "") for c in KEY_INDICATORS]
    return {"headers": headers, "rows": rows}


def _crossed_tables(
    grid: pl.DataFrame,
    catalogue: pl.DataFrame,
    collectivites: dict[str, str],
    dispositifs: dict[str, str],
) -> list[dict]:
    """One table per collectivity: its dispositifs, then its total (a dispositif such as RSA or a
    PDI is run by several collectivities: the officer of each reads their own)."""
    crossed = "annee x collectivite x dispositif"
    present = set(grid.filter(pl.col("niveau_agregation") == crossed)["collectivite"])
    return [
        {
            "label": collectivites.get(code, code),
            "code": code,
            "table": _key_indicator_table(
                grid.filter(pl.col("collectivite") == code),
                catalogue,
                "dispositif",
                dispositifs,
                levels=["annee x collectivite", crossed],
                total_label="Ensemble de la collectivité",
            ),
        }
        for code in sorted(present, key=lambda c: collectivites.get(c, c))
    ]


def _charts(frames: dict[str, pl.DataFrame | None], dispositifs: dict[str, str]) -> dict:
    """Each chart as inline SVG, by the anchor of its section (titles and captions are in the
    template)."""

    def frame(name: str) -> pl.DataFrame:
        found = frames[name]
        return pl.DataFrame() if found is None else _labelled(found, dispositifs)

    charts_by_anchor = {
        "cohortes": charts.cohort_situations(frame("cohortes")),
        "survie": charts.survival_curves(frame("survie")),
        "rsa": charts.rsa_orientation(frame("rsa")),
        "fse": charts.esf_financing(frame("fse")),
        "qualite": charts.load_quality(frame("chargements")),
    }
    return {anchor: Markup(charts.to_svg(c, anchor)) for anchor, c in charts_by_anchor.items()}


def _quality_rows(loads: pl.DataFrame | None) -> list[list]:
    if loads is None or loads.is_empty():
        return []
    totals = charts.load_totals(loads)
    return [[row[0], *(french_number(v) for v in row[1:])] for row in totals.iter_rows()]


def _summary(manifest: dict, grid: pl.DataFrame | None) -> dict:
    checks = manifest["controles"]
    failed = [c for c in checks if not c["success"]]
    dates = sorted((e["date_extraction"], e["source"]) for e in manifest["extraits"])
    latest = {source: date for date, source in dates}  # the latest date comes last
    return {
        "date": french_datetime(manifest["date_publication"]),
        "checks_passed": len(checks) - len(failed),
        "checks": len(checks),
        "warnings": [c["name"] for c in failed if not c["blocking"]],
        "blocking": [c["name"] for c in failed if c["blocking"]],
        "extracts": [{"source": s, "date": french_date(d)} for s, d in sorted(latest.items())],
        "year": None if grid is None or grid.is_empty() else grid["annee"].max(),
    }


def report_html(manifest: dict, database: Path) -> str:
    """The report of a publication: its manifest and its published DuckDB file."""
    frames = _published_frames(database)
    dispositifs = dict(frames["dispositifs"].select("dispositif", "libelle_dispositif").iter_rows())
    collectivites = _collectivites()
    threshold = rules()["confidentiality"]["threshold"]
    grid, catalogue = frames["grille"], frames["indicateurs"]
    tables = None
    if grid is not None and not grid.is_empty():
        tables = {
            "collectivite": _key_indicator_table(grid, catalogue, "collectivite", collectivites),
            "dispositif": _key_indicator_table(grid, catalogue, "dispositif", dispositifs),
            "croise": _crossed_tables(grid, catalogue, collectivites, dispositifs),
        }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("rapport.html.j2").render(
        manifest=manifest,
        summary=_summary(manifest, grid),
        threshold=threshold,
        tables=tables,
        charts=_charts(frames, dispositifs),
        quality=_quality_rows(frames["chargements"]),
        extracts=[
            [
                e["source"],
                french_date(e["date_extraction"]),
                e.get("entite", ""),
                e["fichier"],
                e["sha256"][:16] + "…",
            ]
            for e in manifest["extraits"]
        ],
        published_tables=[[t, french_number(n)] for t, n in sorted(manifest["lignes"].items())],
        collectivites=collectivites,
    )


def write_quality_report(path: Path, manifest: dict, database: Path) -> None:
    path.write_text(report_html(manifest, database), encoding="utf-8")


def publication_folder(published_root: Path, publication_id: str | None) -> Path:
    """The folder of a publication (the current one by default)."""
    from publication.publish import current_publication, publications  # publish imports us

    known = publications(published_root) if published_root.exists() else []
    if publication_id is None:
        publication_id = current_publication(published_root) if known else None
        if publication_id is None:
            raise ReportError("aucune publication : lancez d'abord `spifeb run`")
    elif publication_id not in known:
        raise ReportError(
            f"publication inconnue « {publication_id} » (publications : {', '.join(known) or 'aucune'})"
        )
    return published_root / publication_id


def regenerate(folder: Path, out: Path) -> Path:
    """Rebuild a publication's report from its DuckDB file and manifest into `out` (the
    publication itself is read-only and never changes)."""
    from publication.publish import DATABASE

    if out.resolve().is_relative_to(folder.resolve()):
        raise ReportError(
            "la publication est immuable : choisissez une --sortie hors de son dossier"
        )
    from publication.exports import writable_output

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    write_quality_report(writable_output(out, ReportError), manifest, folder / DATABASE)
    return out
