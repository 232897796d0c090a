"""Write, audit, publish.

The run has built the working warehouse. Publication then:
1. copies the published schemas into a new DuckDB file under `published/.tmp-<id>/`, applying
   primary statistical suppression to the aggregates (`confidentiality.yaml`);
2. audits that copy with the quality gate (`gate.py`: Great Expectations suites, sources present
   and recent, confidentiality, volume drift against the previous publication);
3. if every blocking check passed: writes exports, the quality report and the manifest, makes the
   files read-only, renames the folder to `published/<id>/` and switches `published/current` (a
   symbolic link) to it with one atomic rename; keeps the last N publications.
   Otherwise: the temporary folder is removed, `current` is untouched, and an alert is raised.

Readers only ever follow `current`, so they never see a half-written publication.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ingestion.lake import Lake, read_load_log
from publication import alerts, report
from publication.confidentiality import rules, suppress
from publication.gate import CheckResult, run_gate

CURRENT = "current"
PUBLISHED_SCHEMAS = ("marts", "reference")
DATABASE = "spifeb.duckdb"
RESTRICTED_DATABASE = "acces_restreint.duckdb"  # person-level marts, for authorised analysts


@dataclass
class PublicationResult:
    published: bool
    publication_id: str | None
    path: Path | None
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.blocking]


def new_publication_id(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:4]}"  # sorts in time order


def publications(published_root: Path) -> list[str]:
    """Complete publications, oldest first (temporary folders excluded)."""
    if not published_root.exists():
        return []
    return sorted(
        p.name
        for p in published_root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and not p.is_symlink()
    )


def current_publication(published_root: Path) -> str | None:
    link = published_root / CURRENT
    return os.readlink(link) if link.is_symlink() else None


def _copy_published_tables(
    warehouse: Path, target: Path, restricted_target: Path
) -> dict[str, int]:
    """Copy the published schemas into a fresh DuckDB file (person-level marts into a separate,
    restricted one, without suppression); returns row counts per table."""
    restricted = set(rules()["publication"]["restricted"])
    counts: dict[str, int] = {}
    with duckdb.connect(str(target)) as connection:
        connection.execute(f"attach '{restricted_target}' as restreint")
        connection.execute(f"attach '{warehouse}' as working (read_only)")
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'working' "
            f"and schema_name in {PUBLISHED_SCHEMAS} order by 1, 2"
        ).fetchall()
        tables += connection.execute(
            "select schema_name, view_name from duckdb_views() where database_name = 'working' "
            f"and schema_name in {PUBLISHED_SCHEMAS} and not internal order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            if name in restricted:
                connection.execute(f"create schema if not exists restreint.{schema}")
                connection.execute(
                    f'create table restreint.{schema}."{table}" as select * from working.{schema}."{table}"'
                )
                continue
            connection.execute(f"create schema if not exists {schema}")
            frame = suppress(name, connection.sql(f'select * from working.{schema}."{table}"').pl())
            connection.register("frame_view", frame)
            connection.execute(f'create table {schema}."{table}" as select * from frame_view')
            connection.unregister("frame_view")
            counts[name] = frame.height
        connection.execute("detach working")
        connection.execute("detach restreint")
    return counts


def _publish_load_history(lake: Path, target: Path) -> dict[str, int]:
    """`qualite.chargements`: every file of every load (rows read, landed, quarantined, …) and every
    refused extract, so the report and the data-quality notebook follow each source over time.
    Counts of rows, not of persons: no statistical suppression applies."""
    history = load_history(read_load_log(Lake(lake)))
    with duckdb.connect(str(target)) as connection:
        connection.execute("create schema if not exists qualite")
        connection.register("history_view", history)
        connection.execute("create table qualite.chargements as select * from history_view")
        connection.unregister("history_view")
    return {"qualite.chargements": history.height}


def load_history(log: pl.DataFrame) -> pl.DataFrame:
    """The load log with French column names, one row per landed file or refused extract."""
    return log.sort("started_at", "source", "entity").select(
        pl.col("source"),
        pl.col("extract_date").alias("date_extraction"),
        pl.col("status").replace({"landed": "intégré", "refused": "refusé"}).alias("statut"),
        pl.col("entity").alias("entite"),
        pl.col("file").alias("fichier"),
        pl.col("rows_read").alias("lignes_lues"),
        pl.col("rows_landed").alias("lignes_integrees"),
        pl.col("rows_quarantined").alias("lignes_quarantaine"),
        pl.col("rows_superseded").alias("lignes_remplacees"),
        pl.col("rows_opposed").alias("lignes_opposition"),
        pl.col("load_id").alias("id_chargement"),
        pl.col("started_at").alias("debut_chargement"),
        pl.col("finished_at").alias("fin_chargement"),
    )


def _extracts_used(lake: Path) -> list[dict]:
    log = read_load_log(Lake(lake)).filter(pl.col("status") == "landed")
    if log.is_empty():
        return []
    latest = log.group_by("source").agg(pl.col("extract_date").max())
    used = log.join(latest, on=["source", "extract_date"]).sort("source", "entity")
    return [
        {"source": r["source"], "date_extraction": r["extract_date"].isoformat(), "fichier": r["file"],
         "entite": r["entity"], "sha256": r["file_sha256"], "id_chargement": r["load_id"]}
        for r in used.iter_rows(named=True)
    ]  # fmt: skip


def _code_version() -> str:
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        )  # fmt: skip
        return described.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "inconnue"


def _previous_counts(published_root: Path) -> dict[str, int] | None:
    current = current_publication(published_root)
    if current is None:
        return None
    manifest = published_root / current / "manifest.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["lignes"] if manifest.exists() else None


def _write_exports(database: Path, folder: Path) -> list[str]:
    """Each published mart as Parquet (the workbook exports of issue 6 build on these)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with duckdb.connect(str(database), read_only=True) as connection:
        for (table,) in connection.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        ).fetchall():
            connection.execute(
                f"copy marts.\"{table}\" to '{folder / table}.parquet' (format parquet)"
            )
            written.append(f"exports/{table}.parquet")
    return written


def _make_read_only(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _switch_current(published_root: Path, publication_id: str) -> None:
    """Point `current` at a publication with one atomic rename of a fresh symbolic link."""
    temporary = published_root / f".{CURRENT}-{uuid.uuid4().hex[:6]}"
    temporary.symlink_to(publication_id)
    os.replace(temporary, published_root / CURRENT)


def _prune(published_root: Path, keep: int) -> None:
    current = current_publication(published_root)
    for old in publications(published_root)[:-keep]:
        if old != current:
            folder = published_root / old
            for path in folder.rglob("*"):
                path.chmod(stat.S_IWUSR | stat.S_IRUSR | (stat.S_IXUSR if path.is_dir() else 0))
            shutil.rmtree(folder)


def gate_and_publish(
    warehouse: Path, lake: Path, published_root: Path, *, keep: int = 5, fault=None
) -> PublicationResult:
    """Audit `warehouse`; if every blocking check passes, publish it under `published_root`.

    `fault` is a test hook called just before the switch of `current` (a crash mid-publication).
    """
    published_root.mkdir(parents=True, exist_ok=True)
    for leftover in published_root.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    publication_id = new_publication_id()
    staging = published_root / f".tmp-{publication_id}"
    staging.mkdir()
    database = staging / DATABASE
    counts = _copy_published_tables(warehouse, database, staging / RESTRICTED_DATABASE)
    checks = run_gate(database, lake, counts, _previous_counts(published_root))
    counts |= _publish_load_history(lake, database)  # grows with every load: not a volume check
    result = PublicationResult(False, publication_id, None, checks)
    if result.failed_checks:
        shutil.rmtree(staging, ignore_errors=True)
        alerts.raise_alert(published_root, publication_id, result.failed_checks)
        return result
    manifest = {
        "id_publication": publication_id,
        "date_publication": dt.datetime.now(dt.UTC).isoformat(),
        "version_code": _code_version(),
        "extraits": _extracts_used(lake),
        "controles": [asdict(c) for c in checks],
        "lignes": counts,
        "fichiers": [
            DATABASE,
            *_write_exports(database, staging / "exports"),
            "rapport_qualite.html",
        ],
    }
    report.write_quality_report(staging / "rapport_qualite.html", manifest, database)
    (staging / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _make_read_only(staging)
    final = published_root / publication_id
    os.replace(staging, final)
    if fault is not None:
        fault()
    _switch_current(published_root, publication_id)
    _prune(published_root, keep)
    result.published, result.path = True, final
    return result


def rollback(published_root: Path) -> str:
    """Point `current` back to the publication before it; returns its id."""
    current = current_publication(published_root)
    previous = [p for p in publications(published_root) if current is None or p < current]
    if not previous:
        raise LookupError("aucune publication antérieure à la publication courante")
    _switch_current(published_root, previous[-1])
    return previous[-1]
