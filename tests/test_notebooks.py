"""The analysts' notebooks run headless against a publication, show what they promise, never show
a pseudonym, and stop with a French message when the publication is not there.

Each notebook is exported to HTML with `marimo export html` (marimo's headless run: every cell
runs, and a cell that raises makes the export exit non-zero)."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TIMEOUT = 300


def _run(command: list[str], publication: Path, scratch: Path) -> subprocess.CompletedProcess:
    # marimo keeps a snapshot of the outputs in `__marimo__/` next to the notebook, or under
    # Python's cache prefix: there, in the test's scratch folder, not in the source tree.
    caches = scratch / "caches"
    return subprocess.run(
        command,
        env={
            **os.environ,
            "SPIFEB_PUBLICATION": str(publication),
            "PYTHONPYCACHEPREFIX": str(caches),
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=NOTEBOOKS.parent,
    )


def export(notebook: str, publication: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the notebook headless, its outputs (no code) written to `out` as HTML."""
    command = [sys.executable, "-m", "marimo", "export", "html", "--no-include-code", "-f"]
    notebook_file = str(NOTEBOOKS / f"{notebook}.py")
    return _run([*command, notebook_file, "-o", str(out), "--", *args], publication, out.parent)


def outputs_text(exported: Path) -> str:
    """The notebook's outputs in an HTML export, unescaped (tags kept): marimo keeps them in a
    JSON session inside the page, as HTML whose attributes hold escaped JSON (tables)."""
    page = exported.read_text(encoding="utf-8")
    start = page.index('"session": ') + len('"session": ')
    session, _ = json.JSONDecoder().raw_decode(page, start)
    text = "\n".join(
        str(value)
        for cell in session["cells"]
        for output in cell["outputs"]
        for value in output.get("data", {}).values()
    )
    for _ in range(3):
        text = html.unescape(text)
        text = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text


def ok(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == 0


def writable_copy(publication: Path, target: Path, files: tuple[str, ...]) -> Path:
    """A writable copy of some files of the (read-only) fixture publication."""
    target.mkdir()
    for name in files:
        shutil.copy(publication / name, target / name)
        (target / name).chmod(stat.S_IRUSR | stat.S_IWUSR)
    return target


@pytest.fixture(scope="module")
def publication(publication_root) -> Path:
    return publication_root / "current"


# --- The cohort study ---------------------------------------------------------------------------


def test_the_cohort_study_runs_and_the_warehouse_agrees_with_lifelines(publication, tmp_path):
    out = tmp_path / "etude_cohorte.html"
    result = export("etude_cohorte", publication, out)
    assert ok(result), result.stderr[-3000:]
    text = outputs_text(out)
    for heading in [
        "La cohorte",
        "Situation après l'entrée",
        "Durée dans le RSA (Kaplan–Meier)",
        "Transitions entre dispositifs",
    ]:
        assert heading in text
    found = re.search(r"Écart absolu maximal : ([0-9,e+-]+)</strong> sur (\d+) estimations", text)
    assert found, "the Kaplan-Meier comparison is missing from the output"
    assert float(found[1].replace(",", ".")) <= 1e-6
    assert int(found[2]) > 0, "nothing compared: the check would pass vacuously"
    assert "Kaplan–Meier SORTIE_RSA : " in result.stdout + result.stderr  # the printed summary

    with duckdb.connect(str(publication / "acces_restreint.duckdb"), read_only=True) as restricted:
        pseudonyms = {
            p for (p,) in restricted.sql("select distinct person_id from marts.parcours").fetchall()
        }
    raw = out.read_text(encoding="utf-8")
    assert not [p for p in pseudonyms if p in raw], "a pseudonym is displayed"


def test_the_cohort_study_takes_its_parameters_from_the_command_line(publication, tmp_path):
    out = tmp_path / "etude_cohorte_2019.html"
    result = export("etude_cohorte", publication, out, "--annee", "2019", "--public", "BRSA")
    assert ok(result), result.stderr[-3000:]
    text = outputs_text(out)
    assert "en 2019" in text and "public : Bénéficiaires du RSA" in text


def test_the_cohort_study_stops_when_the_warehouse_and_lifelines_disagree(publication, tmp_path):
    copy = writable_copy(
        publication, tmp_path / "publication", ("spifeb.duckdb", "acces_restreint.duckdb")
    )
    with duckdb.connect(str(copy / "spifeb.duckdb")) as connection:
        connection.execute(
            """
            update marts.survie_km set survie = survie - 0.001
            where cle_cohorte_evenement_duree = (
                select min(cle_cohorte_evenement_duree) from marts.survie_km
                where evenement = 'SORTIE_RSA' and survie is not null and survie > 0.01
            )
            """
        )
    result = export("etude_cohorte", copy, tmp_path / "out.html")
    assert not ok(result)
    assert (
        "l'entrepôt (marts.survie_km) et lifelines divergent sur 1 durées"
        in result.stdout + result.stderr
    )


def test_without_the_restricted_file_the_cohort_study_says_it_is_for_authorised_analysts(
    publication, tmp_path
):
    copy = writable_copy(publication, tmp_path / "publication", ("spifeb.duckdb",))
    result = _run([sys.executable, str(NOTEBOOKS / "etude_cohorte.py")], copy, tmp_path)
    assert not ok(result)
    assert "Fichier à accès restreint introuvable" in result.stderr


# --- The cohort study's definitions, on hand-made rows -------------------------------------------


@pytest.fixture(scope="module")
def cohort_notebook():
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import etude_cohorte

        yield etude_cohorte
    finally:
        sys.path.remove(str(NOTEBOOKS))


def test_rsa_exit_times_follow_the_warehouse_definition(cohort_notebook):
    day = dt.date.fromisoformat
    entries = pl.DataFrame(
        {
            "collectivite": ["cd22"] * 6,
            "episode_entree_id": ["ends", "moves", "dies", "open", "ends_later", "after_cutoff"],
            "date_entree": [day("2023-01-01")] * 5 + [day("2024-01-05")],
        }
    )
    ends = pl.DataFrame(
        {
            "episode_id": ["ends", "moves", "dies", "open", "ends_later", "after_cutoff"],
            "date_fin": [
                day("2023-01-31"),
                day("2023-03-02"),
                day("2023-01-11"),
                None,
                day("2024-02-01"),
                None,
            ],
            "motif_sortie": [None, "DEMENAGEMENT", "DECES", None, "RESSOURCES", None],
        }
    )
    cutoffs = pl.DataFrame({"collectivite": ["cd22"], "date_coupure": [day("2023-12-31")]})
    subjects = cohort_notebook.rsa_exit_subjects(entries, ends, cutoffs)
    assert dict(
        zip(
            subjects["episode_entree_id"],
            zip(subjects["duree_jours"], subjects["evenement"], strict=True),
            strict=True,
        )
    ) == {
        "ends": (30, True),  # an end without a motif is an exit
        "moves": (60, False),
        "dies": (10, False),
        "open": (364, False),  # censored at the Département's cut-off
        "ends_later": (364, False),  # ends after the cut-off: not seen yet
    }


def test_an_rsa_entry_missing_from_the_pathways_is_an_error_not_a_censoring(cohort_notebook):
    entries = pl.DataFrame(
        {"collectivite": ["cd22"], "episode_entree_id": ["x"], "date_entree": [dt.date(2023, 1, 1)]}
    )
    ends = pl.DataFrame(
        {"episode_id": ["y"], "date_fin": [None], "motif_sortie": [None]},
        schema={"episode_id": pl.String, "date_fin": pl.Date, "motif_sortie": pl.String},
    )
    cutoffs = pl.DataFrame({"collectivite": ["cd22"], "date_coupure": [dt.date(2023, 12, 31)]})
    with pytest.raises(ValueError, match="sans leur droit RSA"):
        cohort_notebook.rsa_exit_subjects(entries, ends, cutoffs)


def test_disagreements_are_published_differences_or_times_on_one_side(cohort_notebook):
    nb, keys = cohort_notebook, ["cohorte"]
    subjects = pl.DataFrame(
        {"cohorte": "a", "duree_jours": [10, 20, 20, 30], "evenement": [True, True, False, True]}
    )
    lifelines = nb.kaplan_meier_by(subjects, keys)
    # S(10) = 3/4, S(20) = 3/4 * 2/3 = 1/2 (and one censoring at 20), S(30) = 0.
    assert lifelines["survie"].to_list() == pytest.approx([0.75, 0.5, 0.0])
    assert lifelines["a_risque"].to_list() == [4, 3, 1]

    def times_in_disagreement(warehouse: pl.DataFrame) -> list[int]:
        comparison = nb.compare_with_warehouse(lifelines, warehouse, keys)
        return nb.disagreements(comparison)["duree_jours"].to_list()

    def survival_at_20(value: float | None) -> pl.Expr:
        at_20 = pl.col("duree_jours") == 20
        return pl.when(at_20).then(value).otherwise(pl.col("survie")).alias("survie")

    same = lifelines.select(*keys, "duree_jours", "a_risque", "evenements", "censures", "survie")
    assert times_in_disagreement(same) == []
    assert times_in_disagreement(same.with_columns(survival_at_20(0.5 + 1e-5))) == [20]
    assert times_in_disagreement(same.with_columns(survival_at_20(0.5 + 1e-7))) == []
    assert times_in_disagreement(same.with_columns(survival_at_20(None))) == []  # masked
    assert times_in_disagreement(same.filter(pl.col("duree_jours") != 30)) == [30]


# --- ESF and data quality -------------------------------------------------------------------------


def test_the_esf_notebook_shows_operations_indicators_and_what_is_not_covered(
    publication, tmp_path
):
    out = tmp_path / "fse.html"
    result = export("fse", publication, out)
    assert ok(result), result.stderr[-3000:]
    text = outputs_text(out)
    with duckdb.connect(str(publication / "spifeb.duckdb"), read_only=True) as connection:
        operation = connection.sql(
            "select min(code_operation) from marts.fse_operations"
        ).fetchall()[0][0]
        not_covered = [
            c
            for (c,) in connection.sql(
                "select code from reference.fse_indicateurs_non_couverts"
            ).fetchall()
        ]
    assert "Indicateurs communs FSE+" in text and "EECO01" in text
    assert operation in text
    assert not_covered and all(code in text for code in not_covered)
    assert "Part du FSE dans le coût" in text


def test_the_quality_notebook_runs_on_the_publication(publication, tmp_path):
    out = tmp_path / "qualite.html"
    result = export("qualite_donnees", publication, out)
    assert ok(result), result.stderr[-3000:]
    text = outputs_text(out)
    assert "Vue d'ensemble par source" in text and "Rapprochement des personnes" in text
    assert "Extraits refusés : 0" in text and "Aucun extrait refusé" in text


def test_the_quality_notebook_shows_refused_extracts_and_quarantine_rates(publication, tmp_path):
    copy = writable_copy(publication, tmp_path / "publication", ("spifeb.duckdb", "manifest.json"))
    with duckdb.connect(str(copy / "spifeb.duckdb")) as connection:
        connection.execute(
            """
            insert into qualite.chargements (source, date_extraction, statut, entite, fichier,
                lignes_lues, lignes_integrees, lignes_quarantaine, lignes_remplacees,
                lignes_opposition, id_chargement, debut_chargement, fin_chargement)
            values
                ('zz99', date '2024-01-31', 'intégré', 'brsa', 'brsa.csv', 40, 30, 8, 1, 1,
                 'zz99-2024-01-31-ok', now(), now()),
                ('zz99', date '2024-02-29', 'refusé', null, null, null, null, null, null, null,
                 'zz99-2024-02-29-refus', now(), now())
            """
        )
    out = tmp_path / "qualite.html"
    result = export("qualite_donnees", copy, out)
    assert ok(result), result.stderr[-3000:]
    text = outputs_text(out)
    assert "Extraits refusés : 1" in text and "zz99-2024-02-29-refus" in text
    assert "20,0\u202f%" in text  # 8 of 40 rows read went to quarantine


# --- A publication that is not there ---------------------------------------------------------------


@pytest.mark.parametrize("notebook", ["etude_cohorte", "fse", "qualite_donnees"])
def test_a_missing_publication_stops_the_notebook_with_a_french_message(notebook, tmp_path):
    missing = tmp_path / "absente"
    result = _run([sys.executable, str(NOTEBOOKS / f"{notebook}.py")], missing, tmp_path)
    assert not ok(result)
    assert f"Publication introuvable : {missing / 'spifeb.duckdb'}" in result.stderr
    assert "SPIFEB_PUBLICATION" in result.stderr


def test_the_notebooks_are_valid_marimo_files():
    notebooks = [
        str(NOTEBOOKS / f"{name}.py") for name in ("etude_cohorte", "fse", "qualite_donnees")
    ]
    result = subprocess.run(
        [sys.executable, "-m", "marimo", "check", "--strict", *notebooks],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert ok(result), result.stdout + result.stderr
