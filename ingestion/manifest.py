"""The manifest of an extract folder (spec section 1) and the checks against it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from data_contracts.loader import SUPPORTED_SPEC_VERSIONS
from data_contracts.models import Contract
from ingestion.refusals import ExtractRefused, Refusal

MANIFEST = "manifest.json"


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    entity: str
    rows: int
    sha256: str
    sheet: str | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")
    spec_version: str
    source: str
    extract_date: dt.date
    produced_at: str | None = None
    key_id: str | None = None
    files: list[ManifestFile]

    def entry(self, entity: str) -> ManifestFile | None:
        return next((f for f in self.files if f.entity == entity), None)


def read_manifest(folder: Path) -> Manifest:
    """Parse and check the manifest's own coherence with its folder; refuse otherwise."""
    try:
        content = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest.model_validate(content)
    except (OSError, ValueError, ValidationError) as exc:
        detail = (
            type(exc).__name__
            if not isinstance(exc, ValidationError)
            else "champs manquants ou invalides"
        )
        raise ExtractRefused(
            [Refusal("manifeste_invalide", file=MANIFEST, detail=detail)]
        ) from None
    if manifest.spec_version not in SUPPORTED_SPEC_VERSIONS:
        raise ExtractRefused(
            [Refusal("version_inconnue", file=MANIFEST, detail=manifest.spec_version)]
        )
    if manifest.source != folder.parent.name or manifest.extract_date.isoformat() != folder.name:
        raise ExtractRefused(
            [
                Refusal(
                    "manifeste_invalide",
                    file=MANIFEST,
                    detail="source ou date différente du dossier",
                )
            ]
        )
    return manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_files(
    manifest: Manifest, contracts: list[Contract], folder: Path
) -> tuple[dict[str, str], list[Refusal]]:
    """Every expected file present, declared and intact: file name -> sha256, and the problems."""
    refusals: list[Refusal] = []
    checksums: dict[str, str] = {}
    for contract in contracts:
        name = contract.file.file_name(manifest.extract_date)
        entry = manifest.entry(contract.entity_name)
        if entry is None or entry.name != name or not (folder / name).is_file():
            refusals.append(Refusal("fichier_absent", file=name))
            continue
        if name not in checksums:
            checksums[name] = sha256_file(folder / name)
        if checksums[name] != entry.sha256.lower():
            refusals.append(Refusal("somme_controle", file=name))
    return checksums, list(dict.fromkeys(refusals))


def folder_fingerprint(folder: Path) -> str:
    """Cheap identity of a folder's content (names, sizes, modification times)."""
    parts = sorted(
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in folder.iterdir()
        if p.is_file()
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
