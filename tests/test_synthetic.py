"""Synthetic extracts: exact formats, parse back through the contracts, deterministic, realistic."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from data_contracts import load_catalog
from data_contracts.schemas import build_schema, validation_errors
from ingestion.normalise import to_canonical
from ingestion.readers import read_native
from spifeb.synthetic.generate import SynthOptions, generate

PERSONS, MONTHS, SEED = 1500, 30, 7
START = dt.date(2021, 7, 1)


def _options(tmp: Path, **overrides) -> SynthOptions:
    values = dict(
        persons=PERSONS,
        start=START,
        months=MONTHS,
        seed=SEED,
        out=tmp / "landing",
        truth=tmp / "truth",
        extracts=None,
    )
    values.update(overrides)
    return SynthOptions(**values)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("synth")
    generate(_options(tmp))
    return tmp


def _folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "landing").glob("*/*/manifest.json"))


def _parse_back(folder: Path):
    """Every file of an extract through reader, normaliser and pandera schema."""
    catalog = load_catalog()
    source, extract_date = folder.parent.name, dt.date.fromisoformat(folder.name)
    results = {}
    for contract in catalog.contracts_for_source(source):
        native = read_native(contract, folder / contract.file.file_name(extract_date))
        normalised = to_canonical(contract, native)
        schema_errors = validation_errors(
            build_schema(contract.entity_name, extract_date), normalised.frame.drop("_line")
        )
        results[contract.entity_name] = (native, normalised, schema_errors)
    return results


def test_every_source_and_month_has_an_extract(landing):
    folders = _folders(landing)
    by_source = {}
    for folder in folders:
        by_source.setdefault(folder.parent.name, []).append(folder.name)
    assert sorted(by_source) == sorted(load_catalog().sources)
    for source, dates in by_source.items():
        # roughly monthly: a few months may be skipped, the last one never is
        assert MONTHS * 0.85 <= len(dates) <= MONTHS, source
        assert dates[-1] == "2023-12-31"
        assert all(dt.date.fromisoformat(d).day >= 28 for d in dates)


def test_files_have_the_spec_names_and_bytes(landing):
    root = landing / "landing"
    a = root / "cd56" / "2023-12-31" / "BRSA_20231231.csv"
    raw = a.read_bytes()
    assert raw.startswith(b"NUM_DOSSIER;PSEUDO_NIR;PSEUDO_EC;SEXE;DATE_NAIS;") and b"\r\n" in raw
    raw.decode("cp1252")
    b = (root / "cd29" / "2023-12-31" / "brsa.tsv").read_bytes()
    assert b.startswith(b"\xef\xbb\xbfdossier_id\tpseudo_nir\t") and b"\tNULL" in b
    assert (root / "cd35" / "2023-12-31" / "extraction_insertion_2023-12.xlsx").exists()
    assert (root / "rmo" / "2023-12-31" / "export_plie_20231231.xlsx").exists()
    first = json.loads(
        (root / "reg53" / "2023-12-31" / "stagiaires_20231231.jsonl")
        .open(encoding="utf-8")
        .readline()
    )
    assert set(first["personne"]) >= {"pseudo_nir", "pseudo_ec", "sexe", "naissance", "commune"}
    assert isinstance(first["financements"], list)
    for source in load_catalog().sources:
        ops = (root / source / "2023-12-31" / "operations_fse.csv").read_text(encoding="utf-8")
        assert ops.startswith("code_operation;intitule;programme;date_debut;date_fin;")


def test_manifest_counts_and_checksums_match(landing):
    for folder in _folders(landing)[::9]:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["spec_version"] == "1.0"
        assert manifest["source"] == folder.parent.name
        assert manifest["extract_date"] == folder.name
        parsed = _parse_back(folder)
        for entry in manifest["files"]:
            digest = hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest()
            assert entry["sha256"] == digest
            assert entry["rows"] == parsed[entry["entity"]][0].height


def test_generated_files_parse_back_with_zero_rejected_rows(landing):
    folders = _folders(landing)
    latest = {f.parent.name: f for f in folders}
    checked = list(latest.values()) + folders[:: max(1, len(folders) // 10)]
    total = 0
    for folder in checked:
        for entity, (native, normalised, schema_errors) in _parse_back(folder).items():
            assert normalised.errors.is_empty(), (folder, entity, normalised.errors.head())
            assert schema_errors.is_empty(), (folder, entity, schema_errors.head())
            record_id = load_catalog().entities[entity].record_id
            assert normalised.frame[record_id].is_unique().all(), (folder, entity)
            total += native.height
    assert total > 3_000


def test_same_seed_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    generate(_options(first, persons=300, months=6, seed=3))
    generate(_options(second, persons=300, months=6, seed=3))
    files_a = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for relative in files_a:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative
    generate(_options(tmp_path / "c", persons=300, months=6, seed=4))
    latest = Path("landing/cd35/2021-12-31/extraction_insertion_2021-12.xlsx")
    assert (tmp_path / "c" / latest).read_bytes() != (first / latest).read_bytes()


def test_only_the_k_most_recent_extracts(tmp_path):
    generate(_options(tmp_path, persons=200, months=12, extracts=2))
    for source in load_catalog().sources:
        dates = sorted(p.name for p in (tmp_path / "landing" / source).iterdir())
        assert len(dates) == 2 and dates[-1] == "2022-06-30"


def test_ground_truth_is_apart_and_holds_no_civil_status(landing):
    truth = landing / "truth"
    assert not (landing / "landing" / "truth").exists()
    persons = pl.read_parquet(truth / "persons.parquet")
    assert persons.height == PERSONS
    assert not {"nir13", "nom", "prenoms", "birth_day"} & set(persons.columns)
    records = pl.read_parquet(truth / "records.parquet")
    assert {
        "person_key",
        "source",
        "entity",
        "record_id",
        "date_debut",
        "date_fin",
        "motif_sortie",
    } <= set(records.columns)
    assert set(records["entity"]) >= {
        "brsa",
        "actions",
        "stagiaires",
        "plie_participants",
        "decrocheurs",
    }
    assert pl.read_parquet(truth / "defects.parquet").is_empty()


def test_landing_files_carry_no_direct_identifier(landing):
    catalog = load_catalog()
    for folder in [f for f in _folders(landing) if f.name == "2023-12-31"]:
        for contract in catalog.contracts_for_source(folder.parent.name):
            native = read_native(contract, folder / contract.file.file_name(dt.date(2023, 12, 31)))
            assert not [c for c in native.columns if c.upper() in {"NIR", "NOM", "PRENOM", "EMAIL"}]
            for column in native.columns:
                if native[column].dtype == pl.String:
                    assert not native[column].str.contains(r"^[12]\d{12}(\d{2})?$").any(), column
                    assert not native[column].str.contains("@").any(), column
