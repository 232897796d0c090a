"""Defect injection: every anomaly of spec section 4 reaches the files where the ground truth says.

These tests read the files back with the contracts' readers and schemas, so they also prove the
ground truth is precise enough for the ingestion tests to compare against.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from data_contracts import load_catalog
from data_contracts.schemas import build_schema, validation_errors
from ingestion.normalise import to_canonical
from ingestion.readers import read_native
from spifeb.synthetic.generate import SynthOptions, generate


@pytest.fixture(scope="module")
def injected(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("defects")
    options = SynthOptions(
        persons=1200,
        start=dt.date(2022, 1, 1),
        months=8,
        seed=11,
        out=tmp / "landing",
        truth=tmp / "truth",
        defect_rate=0.02,
        clear_extract=True,
    )
    generate(options)
    return tmp


def _defects(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "truth" / "defects.parquet")


def _line_of(contract, data_row: int) -> int:
    """The file line (or Excel row) of the n-th data row, from the contract's physical layout."""
    return data_row + contract.physical.header_row


def _found_rules(contract, path: Path, extract_date: dt.date) -> dict[int, set[str]]:
    native = read_native(contract, path)
    normalised = to_canonical(contract, native)
    found: dict[int, set[str]] = {}
    for line, rule in normalised.errors.select("_line", "rule").iter_rows():
        found.setdefault(line, set()).add(rule)
    schema_errors = validation_errors(
        build_schema(contract.entity_name, extract_date), normalised.frame.drop("_line")
    )
    lines = normalised.frame["_line"].to_list()
    for index, rule in schema_errors.select("index", "rule").iter_rows():
        found.setdefault(lines[index], set()).add(rule)
    return found


def test_every_kind_of_defect_is_injected(injected):
    kinds = set(_defects(injected)["defect"])
    assert kinds >= {
        "duplicate_id",
        "end_before_start",
        "future_date",
        "unknown_code",
        "no_pseudonym",
        "malformed_pseudonym",
        "trailing_delimiter",
        "truncated",
        "missing_manifest",
        "not_pseudonymised",
        "sent_twice",
    }


def test_row_defects_are_where_the_ground_truth_says(injected):
    catalog = load_catalog()
    defects = _defects(injected).filter(pl.col("data_row").is_not_null())
    refused = _defects(injected).filter(pl.col("defect").is_in(["truncated", "not_pseudonymised"]))
    refused_files = set(
        zip(refused["source"], refused["extract_date"], refused["file"], strict=True)
    )
    checked = 0
    for (source, extract_date, entity, file_name), group in defects.group_by(
        "source", "extract_date", "entity", "file", maintain_order=True
    ):
        if (source, extract_date, file_name) in refused_files:
            continue  # a truncated file may have lost the defective line
        contract = catalog.contract(source, entity)
        path = injected / "landing" / source / extract_date.isoformat() / file_name
        found = _found_rules(contract, path, extract_date)
        native = read_native(contract, path)
        record_ids = native[contract.column_for(contract.entity.record_id).native].to_list()
        for row in group.iter_rows(named=True):
            line = _line_of(contract, row["data_row"])
            if row["defect"] == "duplicate_id":
                assert record_ids.count(row["record_id"]) == 2, row
                position = native["_line"].to_list().index(line)
                assert record_ids[position] == row["record_id"], row
            else:
                assert row["expected_rule"] in found.get(line, set()), (row, found.get(line))
            checked += 1
    assert checked > 20


def test_clean_rows_of_a_defective_file_raise_nothing(injected):
    catalog = load_catalog()
    defects = _defects(injected)
    row_defects = defects.filter(pl.col("data_row").is_not_null())
    expected_lines = {
        (
            r["source"],
            r["extract_date"],
            r["file"],
            _line_of(catalog.contract(r["source"], r["entity"]), r["data_row"]),
        )
        for r in row_defects.iter_rows(named=True)
    }
    sample = row_defects.unique(["source", "extract_date", "file"]).head(8)
    for row in sample.iter_rows(named=True):
        contract = catalog.contract(row["source"], row["entity"])
        path = injected / "landing" / row["source"] / row["extract_date"].isoformat() / row["file"]
        found = _found_rules(contract, path, row["extract_date"])
        unexpected = [
            line
            for line in found
            if (row["source"], row["extract_date"], row["file"], line) not in expected_lines
        ]
        assert not unexpected, (row["file"], unexpected[:5])


def test_file_defects(injected):
    catalog = load_catalog()
    for row in _defects(injected).filter(pl.col("data_row").is_null()).iter_rows(named=True):
        folder = injected / "landing" / row["source"] / row["extract_date"].isoformat()
        if row["defect"] == "missing_manifest":
            assert folder.is_dir() and not (folder / "manifest.json").exists()
            continue
        if row["defect"] == "sent_twice":
            copy = (
                injected
                / "truth"
                / "redeliveries"
                / row["source"]
                / row["extract_date"].isoformat()
            )
            assert sorted(p.name for p in copy.iterdir()) == sorted(
                p.name for p in folder.iterdir()
            )
            assert all((copy / p.name).read_bytes() == p.read_bytes() for p in folder.iterdir())
            continue
        contract = catalog.contract(row["source"], row["entity"])
        raw = (folder / row["file"]).read_bytes().decode(contract.physical.encoding or "utf-8")
        header = raw.lstrip("\ufeff").split(contract.physical.line_terminator)[0]
        if row["defect"] == "trailing_delimiter":
            assert header.endswith(contract.physical.delimiter)
            continue
        if not (folder / "manifest.json").exists():
            continue  # this extract is also the one still being copied
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        entry = next(e for e in manifest["files"] if e["name"] == row["file"])
        if row["defect"] == "trailing_delimiter":
            assert header.endswith(contract.physical.delimiter)
        elif row["defect"] == "truncated":
            assert entry["rows"] > read_native(contract, folder / row["file"]).height
        elif row["defect"] == "not_pseudonymised":
            columns = header.split(contract.physical.delimiter)
            assert {"NIR", "NOM", "PRENOM", "EMAIL"} <= set(columns)
            native = read_native(contract, folder / row["file"])
            assert native.height == entry["rows"]


def test_defects_off_by_default(tmp_path):
    generate(
        SynthOptions(
            persons=200,
            start=dt.date(2022, 1, 1),
            months=3,
            seed=1,
            out=tmp_path / "landing",
            truth=tmp_path / "truth",
        )
    )
    assert _defects(tmp_path).is_empty()
    assert len(list((tmp_path / "landing").glob("*/*/manifest.json"))) == len(
        list((tmp_path / "landing").glob("*/*"))
    )
