"""Reports of a landing, for people: the refusal report a collectivity can act on (JSON and French
text under `lake/rejected/`), and the load report of a landed extract (`lake/reports/`).
Reports name files, columns, rules and counts; they never quote a value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestion import lake as lk

if TYPE_CHECKING:
    from ingestion.land import ExtractReport

STATUS_FR = {"landed": "intégré", "refused": "refusé", "already_landed": "déjà intégré"}


def refusal_document(report: ExtractReport) -> dict:
    return {
        "source": report.source,
        "date_extraction": report.extract_date.isoformat(),
        "id_chargement": report.load_id,
        "statut": STATUS_FR[report.status],
        "motifs": [r.as_dict() for r in report.refusals],
    }


def refusal_text(report: ExtractReport) -> str:
    lines = [
        f"Extrait {report.source} du {report.extract_date:%d/%m/%Y} : refusé (chargement {report.load_id}).",
        "Aucune ligne de cet extrait n'a été intégrée à l'entrepôt ; les autres sources ne sont pas concernées.",
        "",
        "Motifs :",
    ]
    lines += [f"- [{r.rule}] {r.message}" for r in report.refusals]
    lines += [
        "",
        "Merci de corriger l'extrait et de le déposer à nouveau (nouveau dossier complet avec son manifeste).",
    ]
    return "\n".join(lines) + "\n"


def write_refusal_report(lake: lk.Lake, report: ExtractReport) -> None:
    folder = lake.rejected_dir(report.source, report.extract_date.isoformat())
    lk.write_json(refusal_document(report), folder / f"{report.load_id}.json")
    lk.write_text(refusal_text(report), folder / f"{report.load_id}.txt")


def load_document(report: ExtractReport) -> dict:
    """What landed, file by file: rows read = landed + quarantined + superseded + objected."""
    return {
        "source": report.source,
        "date_extraction": report.extract_date.isoformat(),
        "id_chargement": report.load_id,
        "statut": STATUS_FR[report.status],
        "fichiers": [
            {
                "fichier": f.file, "entite": f.entity, "sha256": f.file_sha256,
                "lignes_lues": f.rows_read, "lignes_integrees": f.rows_landed,
                "lignes_en_quarantaine": f.rows_quarantined, "lignes_remplacees": f.rows_superseded,
                "lignes_opposition": f.rows_opposed,
                "durees_secondes": {"lecture": round(f.read_seconds, 3),
                                    "validation": round(f.validate_seconds, 3),
                                    "ecriture": round(f.write_seconds, 3)},
            }
            for f in report.files
        ],
    }  # fmt: skip


def write_load_report(lake: lk.Lake, report: ExtractReport) -> None:
    path = (
        lake.root
        / "reports"
        / report.source
        / report.extract_date.isoformat()
        / f"{report.load_id}.json"
    )
    lk.write_json(load_document(report), path)
