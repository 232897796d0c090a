"""Benchmark ingestion (issue 3): land all seven sources of one monthly extract.

Generates a synthetic landing zone once (`spifeb synth --months 72 --extracts 1 --seed 1`, cached
in the work directory), then runs `spifeb ingest` into an empty lake in a fresh process under
`/usr/bin/time -v` (when available) and prints Markdown tables to paste into BENCHMARKS.md: wall
time, peak RSS, rows read and rows/s, then where the time goes per source and per phase, from the
load log (`read_seconds`, `validate_seconds`, `write_seconds` per file; "rest of extract" is the
extract's own time outside these phases: manifest, sha256, commit). Not a test: run it by hand.

    python benchmarks/bench_ingest.py [--persons 1000000] [--work DIR] [--profile 30]

Targets at 1,000,000 persons on the 2-core machine: under 3 minutes and under 6 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 180
TARGET_MB = 6 * 1024


def _timed(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `command` in a fresh process: result, wall seconds, peak RSS in MB (nan if unknown)."""
    timed = ["/usr/bin/time", "-v", *command] if Path("/usr/bin/time").exists() else command
    start = time.perf_counter()
    result = subprocess.run(timed, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return result, wall, int(peak.group(1)) / 1024 if peak else float("nan")


def _fail(what: str, result: subprocess.CompletedProcess) -> None:
    sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
    raise SystemExit(f"{what} failed with exit code {result.returncode}")


def landing_zone(work: Path, persons: int) -> Path:
    """The synthetic landing zone for `persons`, generated once (a marker records its arguments)."""
    landing, marker = work / "landing", work / "landing.done"
    args = ["--persons", str(persons), "--months", "72", "--extracts", "1", "--seed", "1"]
    if marker.exists() and marker.read_text() == " ".join(args) and landing.is_dir():
        print(f"landing zone: {landing} (cached)")
        return landing
    marker.unlink(missing_ok=True)
    command = [sys.executable, "-m", "spifeb.cli", "synth", *args, "--out", str(landing)]
    result, wall, peak = _timed(command)
    if result.returncode != 0:
        _fail("spifeb synth", result)
    marker.write_text(" ".join(args))
    print(f"landing zone: {landing} (generated in {wall:.1f} s, peak {peak:.0f} MB)")
    return landing


def ingest(landing: Path, lake: Path, profile: int = 0) -> dict:
    shutil.rmtree(lake, ignore_errors=True)
    module = ["-m", "spifeb.cli", "ingest", "--landing", str(landing), "--lake", str(lake)]
    stats = lake.parent / "ingest.prof"
    prefix = ["-m", "cProfile", "-o", str(stats)] if profile else []
    result, wall, peak = _timed([sys.executable, *prefix, *module])
    if result.returncode != 0:  # 1: an extract was refused, which clean data must never be
        _fail("spifeb ingest", result)
    if profile:
        import pstats

        for order in ("cumulative", "tottime"):
            print(f"\ncProfile of the whole run, top {profile} by {order}:")
            pstats.Stats(str(stats)).sort_stats(order).print_stats(profile)
    return {"wall_s": wall, "peak_mb": peak}


def _load_log(lake: Path):
    import polars as pl

    from ingestion.lake import Lake, read_load_log

    log = read_load_log(Lake(lake))
    refused = log.filter(pl.col("status") != "landed")
    if refused.height:
        raise SystemExit(f"refused extracts on clean data: {refused['source'].to_list()}")
    return log.with_columns(
        extract_s=(pl.col("finished_at") - pl.col("started_at")).dt.total_microseconds() / 1e6
    )


def _landing_mb(landing: Path) -> float:
    return sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 2**20


def report(persons: int, landing: Path, lake: Path, run: dict, per_file: bool) -> None:
    import polars as pl

    log = _load_log(lake)
    rows = int(log["rows_read"].sum())
    phases = ("read_seconds", "validate_seconds", "write_seconds")
    in_phases = float(log.select(pl.sum_horizontal(phases).sum()).item())
    # Each extract's elapsed time is repeated on every row of its files: count it once.
    extracts_s = float(log.unique("load_id")["extract_s"].sum())
    met = run["wall_s"] < TARGET_SECONDS and run["peak_mb"] < TARGET_MB

    print("\n| persons | sources | files | landing (MB) | rows read | wall time (s) | rows/s | peak RSS (MB) | target (< 180 s, < 6 GB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {persons:,} | {log['source'].n_unique()} | {log.height} | {_landing_mb(landing):.0f} "
        f"| {rows:,} | {run['wall_s']:.1f} | {rows / run['wall_s']:,.0f} | {run['peak_mb']:.0f} "
        f"| {'met' if met else 'NOT met'} |"
    )

    by_source = (
        log.group_by("source")
        .agg(
            files=pl.len(),
            rows=pl.col("rows_read").sum(),
            quarantined=pl.col("rows_quarantined").sum(),
            superseded=pl.col("rows_superseded").sum(),
            read=pl.col("read_seconds").sum(),
            validate=pl.col("validate_seconds").sum(),
            write=pl.col("write_seconds").sum(),
            extract=pl.col("extract_s").first(),
        )
        .with_columns(
            rest=pl.col("extract") - pl.col("read") - pl.col("validate") - pl.col("write")
        )
        .sort("extract", descending=True)
    )
    print("\nWhere the time goes, per source (seconds; rest = manifest, sha256, commit):\n")
    print("| source | files | rows read | quarantined | superseded | read | validate | write | rest of extract | extract | rows/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in by_source.iter_rows(named=True):
        print(
            f"| {r['source']} | {r['files']} | {r['rows']:,} | {r['quarantined']:,} "
            f"| {r['superseded']:,} | {r['read']:.1f} | {r['validate']:.1f} | {r['write']:.1f} "
            f"| {r['rest']:.1f} | {r['extract']:.1f} | {r['rows'] / r['extract']:,.0f} |"
        )
    totals = {p: float(log[p].sum()) for p in phases}
    print(
        f"| **all** | {log.height} | {rows:,} | {int(log['rows_quarantined'].sum()):,} "
        f"| {int(log['rows_superseded'].sum()):,} | {totals['read_seconds']:.1f} "
        f"| {totals['validate_seconds']:.1f} | {totals['write_seconds']:.1f} "
        f"| {extracts_s - in_phases:.1f} | {extracts_s:.1f} | {rows / extracts_s:,.0f} |"
    )

    print("\nPer phase, whole run:\n")
    print("| phase | seconds | share of wall time |")
    print("|---|---|---|")
    split = {
        "read + privacy scan + row count (`_read_checked`)": totals["read_seconds"],
        "validate (normalise, pandera, duplicates)": totals["validate_seconds"],
        "write (lineage, staging parquet)": totals["write_seconds"],
        "rest of extracts (manifest, sha256, commit)": extracts_s - in_phases,
        "outside extracts (start-up, imports, oppositions, erasure)": run["wall_s"] - extracts_s,
    }
    for phase, seconds in split.items():
        print(f"| {phase} | {seconds:.1f} | {seconds / run['wall_s']:.0%} |")

    if per_file:
        print("\nPer file (seconds):\n")
        print("| source | entity | rows read | read | validate | write | rows/s |")
        print("|---|---|---|---|---|---|---|")
        for r in log.sort(pl.sum_horizontal(phases), descending=True).iter_rows(named=True):
            seconds = r["read_seconds"] + r["validate_seconds"] + r["write_seconds"]
            print(
                f"| {r['source']} | {r['entity']} | {r['rows_read']:,} | {r['read_seconds']:.2f} "
                f"| {r['validate_seconds']:.2f} | {r['write_seconds']:.2f} "
                f"| {r['rows_read'] / seconds if seconds else float('nan'):,.0f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--persons", type=int, default=1_000_000, help="e.g. 100000 for a quick run"
    )
    parser.add_argument(
        "--work", type=Path, default=None,
        help="directory for the cached landing zone and the lake (default: a temp directory per size)",
    )  # fmt: skip
    parser.add_argument("--per-file", action="store_true", help="also print one row per file")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="run ingestion under cProfile (slower: not the timed run) and print the top N functions",
    )  # fmt: skip
    args = parser.parse_args()
    work = args.work or Path(tempfile.gettempdir()) / f"spifeb-bench-ingest-{args.persons}"
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, cores: {os.cpu_count()}"
    )
    landing = landing_zone(work, args.persons)
    lake = work / "lake"
    print(f"ingesting into {lake} ...", flush=True)
    run = ingest(landing, lake, profile=args.profile)
    report(args.persons, landing, lake, run, args.per_file)


if __name__ == "__main__":
    main()
