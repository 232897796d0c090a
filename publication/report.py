"""The publication's quality report: one self-contained HTML file in French (no external script
or font). Issue 6 adds the charts; this version lists the checks, the extracts and the rows."""

from __future__ import annotations

import html
from pathlib import Path

import polars as pl

from ingestion.lake import Lake, read_load_log


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_quality_report(path: Path, manifest: dict, lake: Path) -> None:
    log = read_load_log(Lake(lake))
    quality = (
        log.group_by("source").agg(
            pl.col("rows_read").sum(), pl.col("rows_landed").sum(), pl.col("rows_quarantined").sum(),
            (pl.col("status") == "refused").sum().alias("refused"),
        ).sort("source")
        if not log.is_empty() else pl.DataFrame()
    )  # fmt: skip
    sections = [
        f"<h1>Publication {html.escape(manifest['id_publication'])}</h1>",
        f"<p>Publiée le {html.escape(manifest['date_publication'])} — version du code {html.escape(manifest['version_code'])}.</p>",
        "<h2>Contrôles qualité</h2>",
        _table(["Contrôle", "Résultat", "Bloquant", "Détail"],
               [[c["name"], "conforme" if c["success"] else "en échec", "oui" if c["blocking"] else "non", c["detail"]]
                for c in manifest["controles"]]),
        "<h2>Extraits utilisés</h2>",
        _table(["Source", "Date d'extraction", "Fichier", "SHA-256"],
               [[e["source"], e["date_extraction"], e["fichier"], e["sha256"][:16] + "…"] for e in manifest["extraits"]]),
        "<h2>Qualité des données par source</h2>",
        _table(["Source", "Lignes lues", "Intégrées", "En quarantaine", "Extraits refusés"],
               [list(r) for r in quality.iter_rows()]) if not quality.is_empty() else "<p>Aucun chargement.</p>",
        "<h2>Tables publiées</h2>",
        _table(["Table", "Lignes"], [[t, n] for t, n in manifest["lignes"].items()]),
    ]  # fmt: skip
    style = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #999;padding:4px 8px}"
    page = f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Rapport qualité SPIFEB</title><style>{style}</style></head><body>{''.join(sections)}</body></html>"
    path.write_text(page, encoding="utf-8")
