"""Ingestion of synthetic landing zones: every layout lands, every injected defect is found where
the ground truth says, every row is accounted for, and landing is idempotent, crash-safe and
respects objections."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from data_contracts import load_catalog
from ingestion import lake as lk
from ingestion.land import complete_folders, ingest, land_extract
from spifeb.synthetic.generate import SynthOptions, generate

SOURCES = sorted(load_catalog().sources)


def _generate(tmp: Path, **overrides) -> Path:
    values = dict(persons=600, start=dt.date(2023, 1, 1), months=4, seed=17, out=tmp / "landing",
                  truth=tmp / "truth")  # fmt: skip
    values.update(overrides)
    generate(SynthOptions(**values))
    return tmp


def _zone(lake: Path, zone: str) -> pl.DataFrame:
    files = sorted((lake / zone).rglob("*.parquet"))
    return (
        pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
        if files
        else pl.DataFrame()
    )


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, object]:
    tmp = _generate(tmp_path_factory.mktemp("clean"))
    report = ingest(tmp / "landing", tmp / "lake")
    return tmp, report


def test_every_layout_lands_clean_extracts_without_quarantine(clean):
    tmp, report = clean
    assert not report.refused
    assert {e.source for e in report.extracts} == set(SOURCES)
    for extract in report.extracts:
        assert extract.status == "landed"
        for f in extract.files:
            assert f.rows_quarantined == 0, (extract.source, f.file)
            assert f.rows_superseded == 0
            assert f.rows_read == f.rows_landed
    assert _zone(tmp / "lake", "quarantine").is_empty()


def test_raw_layer_has_canonical_columns_and_lineage(clean):
    tmp, report = clean
    catalog = load_catalog()
    extract = next(e for e in report.extracts if e.source == "cd35")
    path = (
        tmp
        / "lake"
        / "raw"
        / "cd35"
        / "brsa"
        / f"extract_date={extract.extract_date}"
        / "data.parquet"
    )
    raw = pl.read_parquet(path)
    assert (
        list(catalog.entities["brsa"].fields) == raw.columns[: len(catalog.entities["brsa"].fields)]
    )
    lineage = {"_source", "_entity", "_extract_date", "_file", "_file_sha256", "_line", "_load_id"}
    assert lineage <= set(raw.columns)
    assert raw["_line"].min() == 4  # layout C: title, blank row, header, then data
    manifest = json.loads(
        (tmp / "landing" / "cd35" / str(extract.extract_date) / "manifest.json").read_text()
    )
    assert set(raw["_file_sha256"]) == {manifest["files"][0]["sha256"]}
    assert raw.schema["date_maj"] == pl.Datetime("us")


def test_former_commune_codes_land_as_current_codes(clean):
    tmp, _ = clean
    former = pl.read_csv(
        "data_contracts/reference/communes_deleguees_bretagne.csv", infer_schema=False
    )
    former = former.filter(pl.col("code_insee") != pl.col("code_insee_commune_actuelle"))
    raw = _zone(tmp / "lake", "raw")
    assert not raw["commune_insee"].drop_nulls().is_in(former["code_insee"].to_list()).any()


def test_load_log_accounts_for_every_row(clean):
    tmp, _ = clean
    log = lk.read_load_log(lk.Lake(tmp / "lake"))
    assert (log["rows_read"] == log["rows_landed"] + log["rows_quarantined"] + log["rows_superseded"]
            + log["rows_opposed"]).all()  # fmt: skip
    for row in log.iter_rows(named=True):
        folder = tmp / "landing" / row["source"] / row["extract_date"].isoformat()
        manifest = json.loads((folder / "manifest.json").read_text())
        declared = next(f["rows"] for f in manifest["files"] if f["entity"] == row["entity"])
        assert row["rows_read"] == declared


def test_landing_twice_changes_nothing(clean):
    tmp, _ = clean
    before = _listing(tmp / "lake")
    again = ingest(tmp / "landing", tmp / "lake")
    assert again.extracts == []
    # Re-sent by mistake: same content, new file times.
    folder = complete_folders(tmp / "landing", "cd22")[-1]
    for path in folder.iterdir():
        path.touch()
    assert [e.status for e in ingest(tmp / "landing", tmp / "lake").extracts] == ["already_landed"]
    assert _listing(tmp / "lake") == before


# --- Defects against the ground truth -------------------------------------------------------


@pytest.fixture(scope="module")
def defective(tmp_path_factory):
    tmp = _generate(
        tmp_path_factory.mktemp("defects"),
        persons=1000,
        months=5,
        defect_rate=0.02,
        clear_extract=True,
    )
    report = ingest(tmp / "landing", tmp / "lake")
    return tmp, report, pl.read_parquet(tmp / "truth" / "defects.parquet")


def _line(source: str, entity: str, data_row: int) -> int:
    return data_row + load_catalog().contract(source, entity).physical.header_row


def test_refusals_match_the_injected_extract_defects(defective):
    tmp, report, truth = defective
    refused = {(e.source, e.extract_date): {r.rule for r in e.refusals} for e in report.refused}
    for row in truth.filter(pl.col("defect").is_in(["truncated", "not_pseudonymised"])).iter_rows(
        named=True
    ):
        rules = refused[(row["source"], row["extract_date"])]
        assert (
            row["expected_rule"] in rules or {"fichier_tronque", "valeurs_identifiantes"} & rules
        ), row
        assert (
            tmp / "lake" / "rejected" / row["source"] / row["extract_date"].isoformat()
        ).is_dir()
    missing = truth.filter(pl.col("defect") == "missing_manifest").row(0, named=True)
    assert (missing["source"], missing["extract_date"]) not in {
        (e.source, e.extract_date) for e in report.extracts
    }
    expected_refused = set(
        truth.filter(pl.col("defect").is_in(["truncated", "not_pseudonymised"]))
        .select("source", "extract_date").iter_rows()
    )  # fmt: skip
    assert set(refused) == expected_refused


def test_every_injected_row_defect_is_found_and_nothing_else(defective):
    tmp, report, truth = defective
    refused = {(e.source, e.extract_date) for e in report.refused}
    rows = truth.filter(pl.col("data_row").is_not_null()).filter(
        ~pl.struct("source", "extract_date").map_elements(lambda s: (s["source"], s["extract_date"]) in refused,
                                                          return_dtype=pl.Boolean)
    )  # fmt: skip
    quarantine = _zone(tmp / "lake", "quarantine")
    superseded = _zone(tmp / "lake", "superseded")
    found = {(r["_source"], r["_extract_date"], r["_entity"], r["_line"]): set(r["regles"])
             for r in quarantine.iter_rows(named=True)}  # fmt: skip
    expected_quarantine = set()
    for row in rows.iter_rows(named=True):
        key = (
            row["source"],
            row["extract_date"],
            row["entity"],
            _line(row["source"], row["entity"], row["data_row"]),
        )
        if row["defect"] == "duplicate_id":
            match = superseded.filter(
                (pl.col("_source") == row["source"]) & (pl.col("_extract_date") == row["extract_date"])
                & (pl.col("_line") == key[3])
            )  # fmt: skip
            assert match.height == 1, row
            continue
        assert row["expected_rule"] in found.get(key, set()), (row, found.get(key))
        expected_quarantine.add(key)
    assert set(found) == expected_quarantine
    assert len(expected_quarantine) > 10


def test_every_row_read_is_landed_quarantined_or_superseded(defective):
    tmp, _, _ = defective
    log = lk.read_load_log(lk.Lake(tmp / "lake")).filter(pl.col("status") == "landed")
    raw, quarantine, superseded = (
        _zone(tmp / "lake", z) for z in ("raw", "quarantine", "superseded")
    )
    for (load_id,), group in log.group_by("load_id"):
        for row in group.iter_rows(named=True):
            counted = sum(
                z.filter((pl.col("_load_id") == load_id) & (pl.col("_entity") == row["entity"])).height
                for z in (raw, quarantine, superseded) if not z.is_empty()
            )  # fmt: skip
            assert counted == row["rows_read"], row


def test_refusal_reports_never_quote_personal_values(defective):
    tmp, report, truth = defective
    clear = truth.filter(pl.col("defect") == "not_pseudonymised").row(0, named=True)
    landing_file = (
        tmp / "landing" / clear["source"] / clear["extract_date"].isoformat() / clear["file"]
    )
    contract = load_catalog().contract(clear["source"], clear["entity"])
    text = landing_file.read_bytes().decode(contract.physical.encoding)
    lines = text.split(contract.physical.line_terminator)
    header = lines[0].split(contract.physical.delimiter)
    values = [line.split(contract.physical.delimiter) for line in lines[1:4] if line]
    secrets = [v[header.index(c)] for v in values for c in ("NIR", "NOM", "PRENOM", "EMAIL")]
    assert all(secrets)
    for path in (tmp / "lake").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, path
    messages = " ".join(r.message for e in report.refused for r in e.refusals)
    assert not any(secret in messages for secret in secrets)


# --- History, crashes and objections -------------------------------------------------------------


def test_an_older_extract_is_kept_but_does_not_replace_the_newer(tmp_path):
    tmp = _generate(tmp_path, persons=300, months=3)
    folders = complete_folders(tmp / "landing", "cd29")
    held = tmp / "held"
    shutil.move(str(folders[0]), held)
    ingest(tmp / "landing", tmp / "lake", ["cd29"])
    newest = _listing(tmp / "lake" / "raw")
    shutil.move(str(held), folders[0])
    report = ingest(tmp / "landing", tmp / "lake", ["cd29"])
    assert [e.extract_date.isoformat() for e in report.extracts] == [folders[0].name]
    after = _listing(tmp / "lake" / "raw")
    assert all(after[k] == v for k, v in newest.items())
    assert any(f"extract_date={folders[0].name}" in k for k in after)


def test_a_different_extract_with_an_already_landed_date_is_refused(tmp_path):
    tmp = _generate(tmp_path, persons=300, months=2, extracts=1)
    ingest(tmp / "landing", tmp / "lake", ["bmo"])
    folder = complete_folders(tmp / "landing", "bmo")[-1]
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "operations_fse.csv").write_bytes((folder / "operations_fse.csv").read_bytes() + b"")
    ops = folder / "operations_fse.csv"
    lines = ops.read_text(encoding="utf-8").splitlines(keepends=True)
    ops.write_text("".join(lines[:-1]), encoding="utf-8")
    from spifeb.synthetic.render import sha256_file

    for entry in manifest["files"]:
        if entry["name"] == "operations_fse.csv":
            entry["sha256"], entry["rows"] = sha256_file(ops), entry["rows"] - 1
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = ingest(tmp / "landing", tmp / "lake", ["bmo"])
    assert [r.rule for e in report.refused for r in e.refusals] == ["extrait_deja_recu_different"]


def test_a_crash_while_landing_leaves_the_lake_as_before(tmp_path):
    tmp = _generate(tmp_path, persons=300, months=2, extracts=1)
    lake = lk.Lake(tmp / "lake")
    folder = complete_folders(tmp / "landing", "cd22")[-1]
    before = _listing(lake.root / "raw") if (lake.root / "raw").exists() else {}

    def crash():
        raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        land_extract(folder, lake, fault=crash)
    report = ingest(tmp / "landing", lake.root, ["cd22"])
    assert report.rolled_back  # the half-committed extract was rolled back...
    assert [e.status for e in report.extracts] == ["landed"]  # ...then landed fully
    after = [k for k in _listing(lake.root / "raw") if "extract_date=" in k]
    assert not before
    assert {k.split("/")[:2] == ["cd22", k.split("/")[1]] and k.split("/")[1] for k in after} == {
        "brsa",
        "actions",
        "aides",
        "operations_fse",
    }


def test_recover_restores_the_raw_layer_exactly(tmp_path):
    tmp = _generate(tmp_path, persons=300, months=2, extracts=1)
    lake = lk.Lake(tmp / "lake")
    ingest(tmp / "landing", lake.root, ["cd56"])
    before = _listing(lake.root / "raw")
    folder = complete_folders(tmp / "landing", "cd22")[-1]
    with pytest.raises(RuntimeError):
        land_extract(folder, lake, fault=lambda: (_ for _ in ()).throw(RuntimeError("fault")))
    lk.recover(lake)
    assert _listing(lake.root / "raw") == before


def test_objecting_persons_never_land_and_are_erased_everywhere(tmp_path):
    tmp = _generate(tmp_path, persons=800, months=3)
    lake = tmp / "lake"
    ingest(tmp / "landing", lake)
    raw = _zone(lake, "raw")
    # A person known by NIR in one place and by civil status in another.
    linked = raw.filter(pl.col("pseudo_nir").is_not_null() & pl.col("pseudo_ec").is_not_null())
    person = linked.row(0, named=True)
    nir, ec = person["pseudo_nir"], person["pseudo_ec"]
    (tmp / "landing" / "_oppositions").mkdir()
    (tmp / "landing" / "_oppositions" / "2023-04-15.csv").write_text(
        f"pseudo_nir,pseudo_ec,date_opposition\n{nir},,2023-04-15\n", encoding="utf-8"
    )
    report = ingest(tmp / "landing", lake)
    assert sum(e["rows_erased"] for e in report.erased) >= 1
    for zone in ("raw", "quarantine", "superseded"):
        frame = _zone(lake, zone)
        if not frame.is_empty() and "pseudo_nir" in frame.columns:
            assert not frame.filter(
                (pl.col("pseudo_nir") == nir) | (pl.col("pseudo_ec") == ec)
            ).height, zone
    log = (lake / "oppositions_log.parquet").read_bytes()
    assert nir.encode() not in log and ec.encode() not in log
    assert set(pl.read_parquet(lake / "oppositions_log.parquet").columns) == {
        "erased_at",
        "zone",
        "file",
        "rows_erased",
    }
    # A new extract mentioning the person does not bring them back.
    _generate(tmp_path, persons=800, months=4)
    report = ingest(tmp / "landing", lake)
    assert sum(f.rows_opposed for e in report.extracts for f in e.files) > 0
    raw = _zone(lake, "raw")
    assert not raw.filter((pl.col("pseudo_nir") == nir) | (pl.col("pseudo_ec") == ec)).height


def test_each_landing_writes_a_load_report_that_adds_up(clean):
    tmp, report = clean
    extract = report.extracts[0]
    path = (
        tmp
        / "lake"
        / "reports"
        / extract.source
        / extract.extract_date.isoformat()
        / f"{extract.load_id}.json"
    )
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["statut"] == "intégré"
    for f in document["fichiers"]:
        assert f["lignes_lues"] == (f["lignes_integrees"] + f["lignes_en_quarantaine"] + f["lignes_remplacees"]
                                    + f["lignes_opposition"])  # fmt: skip
        assert set(f["durees_secondes"]) == {"lecture", "validation", "ecriture"}


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (lambda m: m.update(spec_version="2.0"), "version_inconnue"),
        (lambda m: m.update(source="cd99"), "manifeste_invalide"),
        (lambda m: m["files"].pop(0), "fichier_absent"),
    ],
)
def test_manifest_problems_refuse_the_extract(tmp_path, edit, rule):
    tmp = _generate(tmp_path, persons=200, months=1, extracts=1)
    folder = complete_folders(tmp / "landing", "cd56")[-1]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    report = land_extract(folder, lk.Lake(tmp / "lake"))
    assert report.status == "refused"
    assert [r.rule for r in report.refusals] == [rule]
    assert not (tmp / "lake" / "raw").exists()
