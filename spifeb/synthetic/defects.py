"""Defect injection: the anomalies of spec section 4, at a chosen rate, recorded as ground truth.

Row defects are applied to the canonical snapshot before rendering (so they reach the files in the
collectivity's own format); file defects (an extra trailing delimiter in a header, a file cut
short, a missing manifest, an extract that was not pseudonymised, an older extract sent again) are
applied to the rendered files. Every injected defect is returned as a row of the ground truth: what, where, and which
rule of `data_contracts/canonical/rules.yaml` (or which refusal) must catch it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl

from data_contracts.models import Contract, Entity

UNKNOWN_CODE = "ZZ_INCONNU"

# defect kind -> the rule ingestion must report for the row (or the refusal of the extract)
ROW_DEFECTS = {
    "duplicate_id": "doublon_identifiant",
    "end_before_start": "fin_avant_debut",
    "future_date": "date_future",
    "unknown_code": "code_inconnu",
    "no_pseudonym": "sans_pseudonyme",
    "malformed_pseudonym": "pseudonyme_invalide",
}
FILE_DEFECTS = {
    "trailing_delimiter": None,  # a quirk to absorb: every row must still land
    "truncated": "fichier_tronque",
    "missing_manifest": "extrait_incomplet",
    "not_pseudonymised": "identifiants_directs",
    "sent_twice": "extrait_deja_recu",  # landing it again must change nothing
}
DEFECT_SCHEMA = {
    "source": pl.String,
    "extract_date": pl.Date,
    "entity": pl.String,
    "file": pl.String,
    "record_id": pl.String,
    "data_row": pl.Int64,
    "field": pl.String,
    "defect": pl.String,
    "expected_rule": pl.String,
}


def applicable_row_defects(entity: Entity) -> list[str]:
    kinds = ["unknown_code"] if _code_fields(entity) else []
    if entity.date_order:
        kinds += ["end_before_start", "future_date"]
    if entity.person_level:
        kinds += ["no_pseudonym", "malformed_pseudonym"]
    if entity.updated_at:
        kinds.append("duplicate_id")
    return kinds


def _code_fields(entity: Entity) -> list[str]:
    return [name for name, f in entity.fields.items() if f.type == "code" and not f.required]


def inject_row_defects(
    frame: pl.DataFrame,
    entity: Entity,
    extract_date: dt.date,
    rate: float,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, list[dict]]:
    """Corrupt about `rate` of the rows; return the new frame and one truth row per defect."""
    kinds = applicable_row_defects(entity)
    if not kinds or frame.height == 0 or rate <= 0:
        return frame, []
    chosen = np.flatnonzero(rng.random(frame.height) < rate)
    rows = frame.to_dicts()
    injected: list[dict] = []
    duplicates: list[tuple[int, dict]] = []
    for index in chosen.tolist():
        row = rows[index]
        kind = kinds[int(rng.integers(0, len(kinds)))]
        field = _apply(kind, row, entity, extract_date, rng)
        if field is None:
            continue
        if kind == "duplicate_id":
            older = dict(row)
            older[entity.updated_at] = row[entity.updated_at] - dt.timedelta(
                days=int(rng.integers(1, 60))
            )
            duplicates.append((index, older))
        injected.append(
            {"index": index, "record_id": row[entity.record_id], "field": field, "defect": kind}
        )
    # An older version of a record placed just before it in the file: the later update wins.
    for offset, (index, older) in enumerate(sorted(duplicates, key=lambda d: d[0])):
        rows.insert(index + offset, older)
    position = _positions_after_inserts(frame.height, [i for i, _ in duplicates])
    result = pl.DataFrame(rows, schema=frame.schema)
    for item in injected:
        item["data_row"] = (
            position[item.pop("index")] + (0 if item["defect"] != "duplicate_id" else -1) + 1
        )
    return result, injected


def _positions_after_inserts(height: int, inserted_before: list[int]) -> np.ndarray:
    shift = np.zeros(height + 1, dtype=np.int64)
    for index in inserted_before:
        shift[index:] += 1
    return np.arange(height) + shift[:height]


def _apply(kind: str, row: dict, entity: Entity, extract_date: dt.date, rng) -> str | None:
    """Corrupt one row in place; return the field concerned (None when not applicable)."""
    if kind == "unknown_code":
        field = _code_fields(entity)[int(rng.integers(0, len(_code_fields(entity))))]
        row[field] = UNKNOWN_CODE
        return field
    if kind == "end_before_start":
        start, end = entity.date_order[0]
        row[end] = row[start] - dt.timedelta(days=int(rng.integers(1, 90)))
        return end
    if kind == "future_date":
        start, _ = entity.date_order[0]
        if any(row[e] is not None for _, e in entity.date_order):
            return None
        row[start] = extract_date + dt.timedelta(days=int(rng.integers(1, 120)))
        return start
    if kind == "no_pseudonym":
        row["pseudo_nir"] = row["pseudo_ec"] = None
        return "pseudo_nir,pseudo_ec"
    if kind == "malformed_pseudonym":
        if row["pseudo_nir"] is None or row["pseudo_ec"] is None:
            return None
        row["pseudo_nir"] = row["pseudo_nir"][:30].upper()
        return "pseudo_nir"
    if kind == "duplicate_id":
        return entity.record_id
    raise ValueError(kind)


def truth_rows(
    injected: list[dict], source: str, extract_date: dt.date, entity_name: str, file_name: str
) -> list[dict]:
    return [
        {
            "source": source,
            "extract_date": extract_date,
            "entity": entity_name,
            "file": file_name,
            "expected_rule": ROW_DEFECTS[item["defect"]],
            **item,
        }
        for item in injected
    ]


def file_defect(
    source: str, extract_date: dt.date, defect: str, contract: Contract | None = None
) -> dict:
    """A truth row for a defect of a whole file (`contract` given) or of a whole extract."""
    return {
        "source": source,
        "extract_date": extract_date,
        "entity": contract.entity_name if contract else None,
        "file": contract.file.file_name(extract_date) if contract else None,
        "record_id": None,
        "data_row": None,
        "field": None,
        "defect": defect,
        "expected_rule": FILE_DEFECTS[defect],
    }


# --- File defects ------------------------------------------------------------------------------


def add_trailing_delimiter(contract: Contract, path: Path) -> None:
    """The header line gets one more delimiter at its end (seen in real deliveries)."""
    physical = contract.physical
    data = path.read_bytes()
    terminator = physical.line_terminator.encode()
    end = data.index(terminator)
    path.write_bytes(data[:end] + physical.delimiter.encode(physical.encoding) + data[end:])


def truncate(contract: Contract, path: Path, lines: int) -> None:
    """Cut the last `lines` data lines, as a copy interrupted mid-way would (manifest unchanged)."""
    terminator = contract.physical.line_terminator.encode()
    data = path.read_bytes().rstrip(terminator)
    parts = data.split(terminator)
    keep = max(len(parts) - lines, 2)
    path.write_bytes(terminator.join(parts[:keep]) + terminator)


def add_direct_identifiers(contract: Contract, path: Path, identities: pl.DataFrame) -> None:
    """Make a CSV look like a forgotten pseudonymisation: NIR, names and e-mail columns.

    `identities` holds, per data row in file order, the in-memory civil status (nir13, nom,
    prenoms) of the person; these made-up values are written only into this landing file.
    """
    physical = contract.physical
    text = path.read_bytes().decode(physical.encoding or "utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = text.removeprefix(bom).split(physical.line_terminator)
    delimiter = physical.delimiter
    header, body = lines[0], [line for line in lines[1:] if line]
    nir = identities["nir13"].fill_null("").to_list()
    nom = identities["nom"].fill_null("").to_list()
    prenom = identities["prenoms"].fill_null("").to_list()
    email = [
        f"{p.lower().replace(' ', '')}.{n.lower().replace(' ', '')}@exemple.fr" if n else ""
        for p, n in zip(prenom, nom, strict=True)
    ]
    out = [delimiter.join([header, "NIR", "NOM", "PRENOM", "EMAIL"])]
    out += [
        delimiter.join([line, a, b, c, d])
        for line, a, b, c, d in zip(body, nir, nom, prenom, email, strict=True)
    ]
    path.write_bytes(
        (bom + physical.line_terminator.join(out) + physical.line_terminator).encode(
            physical.encoding or "utf-8"
        )
    )


def rewrite_manifest(folder: Path, sha256_of) -> None:
    """Recompute rows and checksums after a defect the collectivity itself produced."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        entry["sha256"] = sha256_of(folder / entry["name"])
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
