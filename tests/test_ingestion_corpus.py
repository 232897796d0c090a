"""A corpus of bad inputs (spec section 4), one test each, landed with `ingestion.land`.

One small clean synthetic landing zone is generated once for the module. Each test copies the
source folder it needs into its own landing zone, damages one file the way the defect describes,
and recomputes the manifest (its checksums, and its row counts when the collectivity itself
produced the defect) so that only the intended defect remains. Then it checks the outcome: the
extract refused with the right refusal codes and reports, or the right rows quarantined or
superseded, every row accounted for.

Tests that inject personal values (NIR-shaped numbers, e-mail addresses, names: all made up,
NIRs with the born-abroad country code 999) also check that no value leaks into pytest's captured
output or logs, the extract report, or any file of the lake.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from data_contracts import load_catalog
from ingestion.lake import Lake, read_load_log
from ingestion.land import JSON_LINE, ExtractReport, ingest, land_extract
from spifeb.synthetic.generate import SynthOptions, generate
from spifeb.synthetic.render import sha256_file, write_manifest

MANIFEST = "manifest.json"
BOM = codecs.BOM_UTF8


# --- The clean landing zone ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    options = SynthOptions(
        persons=400,
        start=dt.date(2023, 1, 1),
        months=3,
        seed=5,
        out=root / "landing",
        truth=root / "truth",
        extracts=1,
    )
    generate(options)
    return options.out


class Case:
    """One test's own landing zone and lake, holding a copy of one clean extract folder."""

    def __init__(self, clean_landing: Path, tmp_path: Path, source: str, catalog):
        (original,) = sorted((clean_landing / source).iterdir())
        self.source = source
        self.original = original
        self.catalog = catalog
        self.extract_date = dt.date.fromisoformat(original.name)
        self.landing = tmp_path / "landing"
        self.folder = self.landing / source / original.name
        shutil.copytree(original, self.folder)
        self.lake = Lake(tmp_path / "lake")

    def contract(self, entity: str):
        return self.catalog.contract(self.source, entity)

    def path(self, entity: str) -> Path:
        return self.folder / self.contract(entity).file.file_name(self.extract_date)

    def native(self, entity: str, field: str) -> str:
        return self.contract(entity).column_for(field).native

    def land(self) -> ExtractReport:
        return land_extract(self.folder, self.lake, catalog=self.catalog)

    def partition(self, zone: str, entity: str) -> Path:
        return self.lake.partition(zone, self.source, entity, self.extract_date.isoformat())


@pytest.fixture
def case(clean_landing, tmp_path, catalog) -> Callable[[str], Case]:
    return lambda source: Case(clean_landing, tmp_path, source, catalog)


# --- Damaging files ------------------------------------------------------------------------------


def read_lines(path: Path, physical) -> list[str]:
    """A delimited-text file's lines, decoded, without BOM nor line terminators."""
    eol = physical.line_terminator
    text = path.read_bytes().removeprefix(BOM).decode(physical.encoding)
    assert eol in text and (eol == "\r\n" or "\r" not in text)
    lines = text.split(eol)
    return lines[:-1] if lines[-1] == "" else lines


def rewrite_lines(
    path: Path, physical, edit: Callable[[list[str]], list[str]], *, encoding: str | None = None
) -> None:
    """Rewrite a delimited-text file line by line, in its own encoding, BOM and line terminator
    (or re-encoded to `encoding`). `edit` gets and returns the lines without their terminator."""
    raw = path.read_bytes()
    eol = physical.line_terminator
    lines = edit(read_lines(path, physical))
    trailing = raw.endswith(eol.encode())
    data = (eol.join(lines) + (eol if trailing else "")).encode(encoding or physical.encoding)
    path.write_bytes((BOM if raw.startswith(BOM) else b"") + data)


def split(line: str, delimiter: str) -> list[str]:
    assert '"' not in line, "the lines edited here carry no quoted value"
    return line.split(delimiter)


def edit_cells(case: Case, entity: str, changes: dict[int, dict[str, str]]) -> None:
    """Set cells of a CSV file: {physical line (header = 1): {native column: new text}}."""
    physical = case.contract(entity).physical

    def edit(lines: list[str]) -> list[str]:
        header = split(lines[0], physical.delimiter)
        for number, values in changes.items():
            cells = split(lines[number - 1], physical.delimiter)
            for column, value in values.items():
                cells[header.index(column)] = value
            lines[number - 1] = physical.delimiter.join(cells)
        return lines

    rewrite_lines(case.path(entity), physical, edit)


def csv_rows(case: Case, entity: str) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file's header and data rows (as dicts), read the plain way."""
    physical = case.contract(entity).physical
    lines = read_lines(case.path(entity), physical)
    header = split(lines[0], physical.delimiter)
    return header, [
        dict(zip(header, split(line, physical.delimiter), strict=True)) for line in lines[1:]
    ]


def refresh_manifest(case: Case, *, rows: bool = True) -> None:
    """Recompute every file's sha256 and, with `rows`, the data rows of delimited-text files
    (non-blank lines after the header): what the collectivity would have written."""
    manifest = json.loads((case.folder / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        path = case.folder / entry["name"]
        entry["sha256"] = sha256_file(path)
        physical = case.contract(entry["entity"]).physical
        if rows and physical.format == "csv":
            text = path.read_bytes().removeprefix(BOM).decode(physical.encoding, "replace")
            data = text.splitlines()[physical.header_row :]
            entry["rows"] = sum(1 for line in data if line.strip())
    write_manifest(case.folder, manifest)


def edit_manifest(case: Case, entity: str, **changes) -> None:
    manifest = json.loads((case.folder / MANIFEST).read_text(encoding="utf-8"))
    (entry,) = [e for e in manifest["files"] if e["entity"] == entity]
    entry.update(changes)
    write_manifest(case.folder, manifest)


def manifest_rows(case: Case, entity: str) -> int:
    manifest = json.loads((case.folder / MANIFEST).read_text(encoding="utf-8"))
    return next(e["rows"] for e in manifest["files"] if e["entity"] == entity)


# --- Checking outcomes ---------------------------------------------------------------------------


def rules(report: ExtractReport) -> set[str]:
    return {r.rule for r in report.refusals}


def assert_refused(case: Case, report: ExtractReport, expected: Iterable[str]) -> dict:
    """Refused whole: nothing landed anywhere, a load log row and a refusal report (JSON and
    text) naming every refusal. Returns the JSON report."""
    assert report.status == "refused"
    assert set(expected) <= rules(report), report.refusals
    assert report.files == []
    for zone in ("raw", "quarantine", "superseded"):
        assert not (case.lake.root / zone / case.source).exists(), zone
    log = read_load_log(case.lake)
    assert log["status"].to_list() == ["refused"]
    assert log["load_id"].to_list() == [report.load_id]
    folder = case.lake.rejected_dir(case.source, case.extract_date.isoformat())
    assert sorted(p.name for p in folder.iterdir()) == [
        f"{report.load_id}.json",
        f"{report.load_id}.txt",
    ]
    document = json.loads((folder / f"{report.load_id}.json").read_text(encoding="utf-8"))
    text = (folder / f"{report.load_id}.txt").read_text(encoding="utf-8")
    assert document["statut"] == "refusé"
    assert [m["regle"] for m in document["motifs"]] == [r.rule for r in report.refusals]
    for refusal in report.refusals:
        assert f"[{refusal.rule}] {refusal.message}" in text
        if refusal.file:
            assert refusal.file in refusal.message
    return document


def refusal(report: ExtractReport, rule: str):
    (found,) = [r for r in report.refusals if r.rule == rule]
    return found


def lake_listing(lake: Lake) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(lake.root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(lake.root.rglob("*"))
        if p.is_file()
    }


def lake_texts(lake: Lake) -> Iterable[tuple[Path, bytes]]:
    """Every lake file as bytes; a parquet file (compressed) also as the text of its values."""
    for path in sorted(lake.root.rglob("*")):
        if not path.is_file():
            continue
        yield path, path.read_bytes()
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            yield path, json.dumps(frame.to_dicts(), default=str, ensure_ascii=False).encode()


def assert_no_leak(values: Iterable[str], lake: Lake, report: ExtractReport, capsys, caplog):
    """None of the injected personal values appears in outputs, logs, reports or the lake."""
    captured = capsys.readouterr()
    outputs = {
        "stdout": captured.out,
        "stderr": captured.err,
        "logs": caplog.text,
        "report": repr(report),
        "messages": " ".join(r.message for r in report.refusals),
        "refusals": json.dumps([r.as_dict() for r in report.refusals], ensure_ascii=False),
    }
    files = list(lake_texts(lake))
    assert files, "the lake holds at least a load log and a refusal report"
    values = list(values)
    assert values
    for value in values:
        for where, text in outputs.items():
            assert value not in text, f"an injected value leaks into {where}"
        for path, content in files:
            assert value.encode("utf-8") not in content, f"an injected value leaks into {path}"


@pytest.fixture
def watched(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


# --- Whole-file defects: the extract is refused --------------------------------------------------


def test_truncated_file_is_refused(case):
    c = case("cd22")
    path = c.path("brsa")
    expected = manifest_rows(c, "brsa")
    rewrite_lines(path, c.contract("brsa").physical, lambda lines: lines[:-3])  # cut short
    report = c.land()
    document = assert_refused(c, report, {"fichier_tronque", "somme_controle"})
    cut = refusal(report, "fichier_tronque")
    assert (cut.file, cut.found, cut.expected) == (path.name, expected - 3, expected)
    assert refusal(report, "somme_controle").file == path.name
    assert {m["fichier"] for m in document["motifs"]} == {path.name}
    assert rules(report) == {"fichier_tronque", "somme_controle"}


def test_file_cut_mid_line_is_refused(case):
    # The last record is cut in the middle (the row count still matches): the checksum catches it.
    c = case("cd22")
    path = c.path("brsa")
    path.write_bytes(path.read_bytes()[:-40])
    report = c.land()
    assert_refused(c, report, {"somme_controle"})
    assert [(r.rule, r.file) for r in report.refusals] == [("somme_controle", path.name)]


def test_wrong_encoding_is_refused(case):
    c = case("cd22")
    path = c.path("actions")
    physical = c.contract("actions").physical
    assert not path.read_bytes().isascii(), "the clean file has accented libellés"
    rewrite_lines(path, physical, lambda lines: lines, encoding="utf-8")
    refresh_manifest(c)
    report = c.land()
    assert_refused(c, report, {"encodage_invalide"})
    assert rules(report) == {"encodage_invalide"}
    assert refusal(report, "encodage_invalide").file == path.name


@pytest.mark.parametrize(("source", "field"), [("cd22", "date_ouverture_droit"), ("cd29", "sexe")])
def test_missing_column_is_refused(case, source, field):
    c = case(source)
    column = c.native("brsa", field)
    delimiter = c.contract("brsa").physical.delimiter

    def drop_column(lines):
        position = split(lines[0], delimiter).index(column)
        return [
            delimiter.join(v for i, v in enumerate(split(line, delimiter)) if i != position)
            for line in lines
        ]

    rewrite_lines(c.path("brsa"), c.contract("brsa").physical, drop_column)
    refresh_manifest(c)
    report = c.land()
    document = assert_refused(c, report, {"colonne_manquante"})
    assert rules(report) == {"colonne_manquante"}
    missing = refusal(report, "colonne_manquante")
    assert missing.file == c.path("brsa").name
    assert column in missing.message
    (motif,) = document["motifs"]
    assert column in motif["message"]


@pytest.mark.parametrize("source", ["cd22", "cd29"])
def test_extra_trailing_delimiter_on_header_lands(case, source):
    c = case(source)
    physical = c.contract("brsa").physical
    rewrite_lines(
        c.path("brsa"), physical, lambda lines: [lines[0] + physical.delimiter, *lines[1:]]
    )
    refresh_manifest(c)
    report = c.land()
    assert report.status == "landed", report.refusals
    for file in report.files:
        assert file.rows_quarantined == 0 and file.rows_superseded == 0, file
        assert file.rows_landed == file.rows_read, file
    brsa = next(f for f in report.files if f.entity == "brsa")
    assert brsa.rows_read == manifest_rows(c, "brsa") > 0
    landed = pl.read_parquet(c.partition("raw", "brsa") / "data.parquet")
    assert landed.height == brsa.rows_read
    assert not (c.lake.root / "quarantine").exists()


@pytest.mark.parametrize(
    ("wrong", "rule"),
    [({"sha256": "0" * 64}, "somme_controle"), ({"rows": "+1"}, "fichier_tronque")],
    ids=["sha256", "rows"],
)
def test_manifest_mismatch_is_refused(case, wrong, rule):
    c = case("cd22")
    rows = manifest_rows(c, "brsa")
    if wrong.get("rows") == "+1":
        wrong = {"rows": rows + 1}
    edit_manifest(c, "brsa", **wrong)
    report = c.land()
    assert_refused(c, report, {rule})
    assert rules(report) == {rule}
    found = refusal(report, rule)
    assert found.file == c.path("brsa").name
    if rule == "fichier_tronque":
        assert (found.found, found.expected) == (rows, rows + 1)


def test_missing_manifest_is_skipped_until_it_appears(case):
    c = case("cd22")
    manifest = (c.folder / MANIFEST).read_bytes()
    (c.folder / MANIFEST).unlink()  # still being copied
    first = ingest(c.landing, c.lake.root, sources=["cd22"])
    assert first.extracts == []
    assert read_load_log(c.lake).height == 0
    assert not (c.lake.root / "rejected").exists()
    assert not list((c.lake.root / "raw").rglob("extract_date=*"))  # schema anchors only
    (c.folder / MANIFEST).write_bytes(manifest)
    second = ingest(c.landing, c.lake.root, sources=["cd22"])
    (report,) = second.extracts
    assert report.status == "landed", report.refusals
    assert all(f.rows_landed == f.rows_read for f in report.files)
    assert set(read_load_log(c.lake)["status"]) == {"landed"}


@pytest.mark.parametrize(
    ("source", "entity", "rule"),
    [
        ("cd22", "brsa", "fichier_vide"),  # cp1252 CSV
        ("cd29", "actions", "fichier_vide"),  # UTF-8 TSV
        ("cd35", "brsa", "fichier_illisible"),  # a 0-byte "workbook" is no workbook
    ],
)
def test_empty_file_is_refused(case, source, entity, rule):
    c = case(source)
    path = c.path(entity)
    path.write_bytes(b"")
    refresh_manifest(c)
    report = c.land()
    assert_refused(c, report, {rule})
    assert rules(report) == {rule}
    assert {r.file for r in report.refusals} == {path.name}


def test_same_extract_twice_lands_once(case):
    c = case("cd22")
    first = ingest(c.landing, c.lake.root, sources=["cd22"])
    assert [e.status for e in first.extracts] == ["landed"]
    before = lake_listing(c.lake)
    assert any(name.startswith("raw/") for name in before)
    again = ingest(c.landing, c.lake.root, sources=["cd22"])
    assert again.extracts == []
    assert lake_listing(c.lake) == before
    # Sent again by mistake: the same content in a fresh copy (new modification times).
    shutil.rmtree(c.folder)
    shutil.copytree(c.original, c.folder, copy_function=shutil.copy)  # copy2 would keep mtimes
    third = ingest(c.landing, c.lake.root, sources=["cd22"])
    assert [e.status for e in third.extracts] == ["already_landed"]
    assert all(e.files == [] and e.refusals == [] for e in third.extracts)
    assert lake_listing(c.lake) == before


# --- Generic cell edits (delimited text or workbook) ---------------------------------------------


def _sheet(c: Case, entity: str, workbook):
    return workbook[c.contract(entity).file.sheet]


def line_of(c: Case, entity: str, index: int) -> int:
    """The `_line` of the data row at `index` (no value spans several lines in these files)."""
    return c.contract(entity).physical.header_row + 1 + index


def data_rows(c: Case, entity: str) -> list[dict[str, object]]:
    """Data rows as {native column: value}; a null is None."""
    physical = c.contract(entity).physical
    if physical.format == "csv":
        _, rows = csv_rows(c, entity)
        nulls = set(physical.null_markers)
        return [{k: None if v in nulls else v for k, v in row.items()} for row in rows]
    sheet = _sheet(c, entity, openpyxl.load_workbook(c.path(entity)))
    header = [cell.value for cell in sheet[physical.header_row]]
    rows = [
        dict(zip(header, values, strict=True))
        for values in sheet.iter_rows(min_row=physical.header_row + 1, values_only=True)
    ]
    return rows[:-1] if physical.total_row else rows


def set_cells(c: Case, entity: str, changes: dict[int, dict[str, object]]) -> None:
    """Set cells: {data row index: {native column: value (None = null)}}."""
    physical = c.contract(entity).physical
    if physical.format == "csv":
        edit_cells(
            c,
            entity,
            {
                line_of(c, entity, index): {
                    k: physical.null_written_as if v is None else str(v) for k, v in values.items()
                }
                for index, values in changes.items()
            },
        )
        return
    workbook = openpyxl.load_workbook(c.path(entity))
    sheet = _sheet(c, entity, workbook)
    header = [cell.value for cell in sheet[physical.header_row]]
    for index, values in changes.items():
        for column, value in values.items():
            # (`sheet.cell(row, column, None)` would leave the cell as it was)
            sheet.cell(line_of(c, entity, index), header.index(column) + 1).value = value
    workbook.save(c.path(entity))


def add_column(c: Case, entity: str, name: str, values: list[str]) -> None:
    """A column appended to the right of every data row (one value per row, in order)."""
    physical = c.contract(entity).physical
    if physical.format == "csv":
        skip = physical.header_row - 1

        def edit(lines: list[str]) -> list[str]:
            assert len(lines) - skip - 1 == len(values)
            added = [name, *values]
            return lines[:skip] + [
                f"{line}{physical.delimiter}{value}"
                for line, value in zip(lines[skip:], added, strict=True)
            ]

        rewrite_lines(c.path(entity), physical, edit)
        return
    workbook = openpyxl.load_workbook(c.path(entity))
    sheet = _sheet(c, entity, workbook)
    column = sheet.max_column + 1
    sheet.cell(physical.header_row, column, name)
    for index, value in enumerate(values):
        sheet.cell(line_of(c, entity, index), column, value)
    workbook.save(c.path(entity))


def date_value(c: Case, entity: str, day: dt.date) -> object:
    physical = c.contract(entity).physical
    if physical.format == "xlsx":
        return dt.datetime(day.year, day.month, day.day)
    return day.strftime(physical.date_format)


def date_of(c: Case, entity: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.datetime.strptime(str(value), c.contract(entity).physical.date_format).date()


def target_row(rows: list[dict[str, object]], c: Case, entity: str) -> int:
    """A data row carrying both pseudonyms (so that each defect is the only one of its row)."""
    nir, ec = c.native(entity, "pseudo_nir"), c.native(entity, "pseudo_ec")
    return next(i for i, row in enumerate(rows[2:], start=2) if row[nir] and row[ec])


# --- Row defects: the row is quarantined, every other row lands ----------------------------------


def _unknown_code(c, row):
    return {"sexe": "Inconnu"}


def _end_before_start(c, row):
    start = date_of(c, "brsa", row[c.native("brsa", "date_ouverture_droit")])
    return {"date_fin_droit": date_value(c, "brsa", start - dt.timedelta(days=1))}


def _future_date(c, row):
    return {"date_fin_droit": date_value(c, "brsa", c.extract_date + dt.timedelta(days=20))}


def _no_pseudonym(c, row):
    return {"pseudo_nir": None, "pseudo_ec": None}


def _malformed_pseudonym(c, row):
    pseudonym = str(row[c.native("brsa", "pseudo_nir")])
    assert pseudonym.upper() != pseudonym
    return {"pseudo_nir": pseudonym.upper()}


ROW_DEFECTS = {
    "code_inconnu": (_unknown_code, "sexe"),
    "fin_avant_debut": (_end_before_start, "date_fin_droit"),
    "date_future": (_future_date, "date_fin_droit"),
    "sans_pseudonyme": (_no_pseudonym, None),
    "pseudonyme_invalide": (_malformed_pseudonym, "pseudo_nir"),
}


@pytest.mark.parametrize("source", ["cd22", "cd29", "cd35"])
@pytest.mark.parametrize("rule", list(ROW_DEFECTS))
def test_row_defect_is_quarantined(case, catalog, source, rule):
    c = case(source)
    defect, field = ROW_DEFECTS[rule]
    rows = data_rows(c, "brsa")
    index = target_row(rows, c, "brsa")
    changes = {c.native("brsa", f): v for f, v in defect(c, rows[index]).items()}
    set_cells(c, "brsa", {index: changes})
    refresh_manifest(c)
    report = c.land()

    assert report.status == "landed", report.refusals
    for file in report.files:
        assert file.balanced, file
        assert file.rows_read == file.rows_landed + file.rows_quarantined + file.rows_superseded
        assert file.rows_superseded == 0
        expected = 1 if file.entity == "brsa" else 0
        assert file.rows_quarantined == expected, file
        assert file.rows_read == manifest_rows(c, file.entity)
    brsa = next(f for f in report.files if f.entity == "brsa")
    assert brsa.rows_landed == brsa.rows_read - 1 == len(rows) - 1

    quarantine = pl.read_parquet(c.partition("quarantine", "brsa") / "data.parquet")
    assert quarantine.height == 1
    (row,) = quarantine.to_dicts()
    assert row["_line"] == line_of(c, "brsa", index)
    assert row["regles"] == [rule]
    if field:
        assert field in row["champs"]
    template = catalog.rules[rule]
    assert template.split("{")[0] in row["message"] and "{" not in row["message"]
    original = json.loads(row["valeurs_origine"])
    record_id = c.native("brsa", "dossier_id")
    assert str(original[record_id]) == str(rows[index][record_id])
    for column, value in changes.items():
        written = None if value is None else value
        if isinstance(value, dt.datetime):
            written = value.date().isoformat()  # a workbook's date cell, as ISO text
        assert original[column] == written, column
    assert (row["_source"], row["_entity"], row["_load_id"]) == (source, "brsa", report.load_id)

    landed = pl.read_parquet(c.partition("raw", "brsa") / "data.parquet")
    assert landed.height == brsa.rows_landed
    assert row["_line"] not in landed["_line"].to_list()
    log = read_load_log(c.lake).filter(pl.col("entity") == "brsa")
    assert log.select("rows_read", "rows_landed", "rows_quarantined").row(0) == (
        brsa.rows_read,
        brsa.rows_landed,
        1,
    )


# --- Duplicate record id: the latest update wins, the other is superseded ------------------------


@pytest.mark.parametrize("source", ["cd22", "cd29"])
@pytest.mark.parametrize("copy_is", ["older", "newer"])
def test_duplicate_id_keeps_latest_update(case, source, copy_is):
    c = case(source)
    physical = c.contract("brsa").physical
    header, rows = csv_rows(c, "brsa")
    index = target_row(data_rows(c, "brsa"), c, "brsa")
    updated = c.native("brsa", "date_maj")
    stamp = dt.datetime.strptime(rows[index][updated], physical.datetime_format)
    shift = dt.timedelta(days=-3 if copy_is == "older" else 3)
    copy = {**rows[index], updated: (stamp + shift).strftime(physical.datetime_format)}
    rewrite_lines(
        c.path("brsa"),
        physical,
        lambda lines: [*lines, physical.delimiter.join(copy[h] for h in header)],
    )
    refresh_manifest(c)
    report = c.land()

    assert report.status == "landed", report.refusals
    brsa = next(f for f in report.files if f.entity == "brsa")
    assert brsa.rows_read == len(rows) + 1 == manifest_rows(c, "brsa")
    assert (brsa.rows_landed, brsa.rows_superseded, brsa.rows_quarantined) == (len(rows), 1, 0)
    assert brsa.balanced
    first, last = line_of(c, "brsa", index), line_of(c, "brsa", len(rows))
    loser, winner = (last, first) if copy_is == "older" else (first, last)
    superseded = pl.read_parquet(c.partition("superseded", "brsa") / "data.parquet")
    assert superseded.select("_line", "_remplace_par_ligne").rows() == [(loser, winner)]
    landed = pl.read_parquet(c.partition("raw", "brsa") / "data.parquet")
    record = landed.filter(pl.col("dossier_id") == rows[index][c.native("brsa", "dossier_id")])
    assert record["_line"].to_list() == [winner]
    assert landed.height == landed["dossier_id"].n_unique()


# --- Extracts that were not pseudonymised: refused, and no value leaks anywhere ------------------


def made_up_nirs(n: int) -> list[str]:
    # Born abroad (department 99, country 999, which does not exist): never a real person.
    return ["1" + "85" + "05" + "99" + "999" + f"{i:03d}" for i in range(n)]


CLEAR_COLUMNS = {
    "NIR": (made_up_nirs, "NIR", {"identifiants_directs", "valeurs_identifiantes"}),
    "EMAIL": (
        lambda n: [f"prenom.nom{i}@exemple.fr" for i in range(n)],
        "e-mail",
        {"identifiants_directs", "valeurs_identifiantes"},
    ),
    "NOM": (lambda n: [f"Kerfictif{chr(65 + i % 26)}" for i in range(n)], "nom", set()),
}


@pytest.mark.parametrize(
    ("source", "column"),
    [("cd22", "NIR"), ("cd22", "EMAIL"), ("cd22", "NOM"), ("cd29", "NIR"), ("cd35", "NIR")],
)
def test_clear_identifier_column_is_refused(case, watched, capsys, source, column):
    c = case(source)
    make, kind, also = CLEAR_COLUMNS[column]
    values = make(len(data_rows(c, "brsa")))
    add_column(c, "brsa", column, values)
    refresh_manifest(c)
    report = c.land()

    assert_refused(c, report, {"identifiants_directs", *also})
    assert {r.file for r in report.refusals} == {c.path("brsa").name}
    direct = refusal(report, "identifiants_directs")
    assert (direct.column, direct.detail) == (column, kind)
    assert column in direct.message
    for found in report.refusals:
        assert found.column == column
    assert_no_leak(values, c.lake, report, capsys, watched)


HIDDEN = {
    "nir": ("Suivi 1 85 05 99 999 123 45", "d'un NIR", ["1 85 05 99 999 123 45", "1850599999123"]),
    "email": ("Contact prenom.nom@exemple.fr", "d'une adresse e-mail", ["prenom.nom@exemple.fr"]),
    "phone": ("Rappeler au 06 00 00 00 01", "d'un numéro de téléphone", ["06 00 00 00 01"]),
}


@pytest.mark.parametrize(
    ("source", "hidden"),
    [("cd22", "nir"), ("cd22", "email"), ("cd22", "phone"), ("cd29", "nir"), ("cd35", "nir")],
)
def test_identifier_hidden_in_free_text_is_refused(case, watched, capsys, source, hidden):
    c = case(source)
    text, kind, leaks = HIDDEN[hidden]
    column = c.native("actions", "libelle_action")
    set_cells(c, "actions", {3: {column: text}})
    refresh_manifest(c)
    report = c.land()

    assert_refused(c, report, {"valeurs_identifiantes"})
    assert rules(report) == {"valeurs_identifiantes"}
    (found,) = report.refusals
    assert (found.file, found.column, found.detail) == (c.path("actions").name, column, kind)
    assert column in found.message
    assert_no_leak([text, *leaks], c.lake, report, capsys, watched)


def _put_top_level(record: dict, text: str) -> None:
    record["organisme_siret"] = text


def _put_in_unknown_key(record: dict, text: str) -> None:
    record["commentaire_libre"] = text


def _put_in_financements(record: dict, text: str) -> None:
    record["financements"][0]["code_operation_fse"] = text


@pytest.mark.parametrize(
    ("put", "column"),
    [
        pytest.param(_put_top_level, "organisme_siret", id="top-level"),
        pytest.param(_put_in_financements, "financements", id="nested-list"),
        pytest.param(_put_in_unknown_key, JSON_LINE, id="key-outside-the-contract"),
    ],
)
def test_identifier_hidden_in_json_lines_is_refused(case, watched, capsys, put, column):
    c = case("reg53")
    path = c.path("stagiaires")
    text = "Suivi 1 85 05 99 999 123 45"
    lines = path.read_text(encoding="utf-8").split("\n")
    record = json.loads(lines[2])
    put(record, text)
    lines[2] = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    path.write_text("\n".join(lines), encoding="utf-8")
    refresh_manifest(c, rows=False)
    report = c.land()

    assert_no_leak([text, "1850599999123"], c.lake, report, capsys, watched)
    assert_refused(c, report, {"valeurs_identifiantes"})
    (found,) = report.refusals
    assert (found.file, found.column) == (path.name, column)


def test_leak_check_sees_values_inside_compressed_parquet(tmp_path, capsys, caplog):
    """The leak check itself finds a value in a lake parquet file (compressed or not)."""
    lake = Lake(tmp_path / "lake")
    secret = "prenom.nom@exemple.fr"
    path = lake.root / "raw" / "x" / "data.parquet"
    path.parent.mkdir(parents=True)
    pl.DataFrame({"a": [secret] * 50}).write_parquet(path, compression="zstd")
    report = ExtractReport("x", dt.date(2023, 3, 31), "x-load", status="refused")
    with pytest.raises(AssertionError, match="leaks into"):
        assert_no_leak([secret], lake, report, capsys, caplog)
