"""Benchmark the synthetic extract generator: wall time and peak memory (issue 2 targets).

Runs each scenario in a fresh process (`/usr/bin/time -v` when available, else resource usage)
and prints a Markdown table to paste into BENCHMARKS.md. Not a test: run it by hand or with
`make bench`.

    python benchmarks/bench_synth.py [--scenario small|large|all]
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = {
    "small": ["--persons", "10000", "--months", "72"],
    "large": ["--persons", "1000000", "--months", "72", "--extracts", "1"],
}


def run(name: str, args: list[str]) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"spifeb-bench-{name}-"))
    command = [
        sys.executable,
        "-m",
        "spifeb.cli",
        "synth",
        *args,
        "--seed",
        "1",
        "--out",
        str(out / "landing"),
    ]
    timed = ["/usr/bin/time", "-v", *command] if Path("/usr/bin/time").exists() else command
    start = time.perf_counter()
    result = subprocess.run(timed, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    size = sum(p.stat().st_size for p in (out / "landing").rglob("*") if p.is_file())
    files = sum(1 for p in (out / "landing").rglob("*") if p.is_file())
    shutil.rmtree(out)
    return {
        "scenario": name,
        "args": " ".join(args),
        "wall_s": wall,
        "peak_mb": int(peak.group(1)) / 1024 if peak else float("nan"),
        "files": files,
        "landing_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", default="all", choices=[*SCENARIOS, "all"])
    chosen = (
        SCENARIOS if parser.parse_args().scenario == "all" else {parser.parse_args().scenario: None}
    )
    print(
        f"machine: {platform.machine()}, {platform.python_version()}, cores: {__import__('os').cpu_count()}"
    )
    print("| scenario | arguments | wall time (s) | peak RSS (MB) | files | landing size (MB) |")
    print("|---|---|---|---|---|---|")
    for name in chosen:
        r = run(name, SCENARIOS[name])
        print(
            f"| {r['scenario']} | `{r['args']}` | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | {r['files']} | {r['landing_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
