"""Benchmark the nightly job end to end (issue text: "ingest one new month for all sources, build,
gate, publish"), run directly stage by stage and through Dagster, to measure the orchestration's
own overhead.

Once per work directory: `spifeb synth --persons N --months 72 --extracts 2 --seed 1` (the two
latest monthly extracts of every source); the newest extract of each source is moved aside
(`held/<source>/<date>`), the older ones are ingested, built and published ("yesterday's state"),
and that state (lake, warehouse, published) is saved as `base/`. Every measured run starts from a
copy of `base/` with the held extracts back in the landing zone.

- Direct run: `spifeb ingest`, `spifeb build`, then `publication.gate_and_publish(...)`, each in a
  fresh process under `/usr/bin/time -v` (wall time, peak RSS). Their sum is the direct total.
- Dagster, one process: a fresh process (this file with `--dagster-driver`) loads
  `orchestration.definitions.defs` and runs the night's one run of `nightly_job` (the seven source
  partitions in one step, objections, dbt build with its tests as asset checks, freshness checks,
  publication) with `dagster.execute_job`, a temporary `DAGSTER_HOME` (SQLite storage, the pools
  of `orchestration/dagster_home/dagster.yaml`) and the job's in-process executor.
- Dagster under the daemon, as at night: `dagster-daemon run` on a temporary `DAGSTER_HOME` (the
  landing sensor stopped first, or it would land the extracts itself), the run submitted with
  the schedule's tags by `dagster job launch` to the queued run coordinator; the daemon dequeues
  it and the run launcher starts its process. Wall time = from the run's creation (queued) to its
  end, read from the run storage; peak memory = largest summed RSS of the daemon's process tree
  (daemon, code server, run process, dbt), sampled every 0.2 s. The CLI's own start-up (it
  loads the code location, as the daemon's schedule tick does once for every tick) is left out.

Overhead = Dagster total / direct total - 1 (target: under 20 % at 1,000,000 persons). Not a
test: run it by hand (`uv run python -m orchestration.prepare` first, for the dbt manifest).

    python benchmarks/bench_nightly.py --persons 100000 --work /tmp/spifeb-nightly-100k
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_OVERHEAD = 0.20
STATE = ("lake", "warehouse", "published")  # what a run changes in the data directory
PUBLISH = (
    "from spifeb import settings; import publication; "
    "r = publication.gate_and_publish(settings.warehouse_path(), settings.lake_dir(), "
    "settings.published_dir()); "
    "print('published' if r.published else 'blocked', r.publication_id, "
    "[c.name for c in r.failed_checks]); "
    "raise SystemExit(0 if r.published else 1)"
)


def _timed(
    command: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `command` in a fresh process: result, wall seconds, peak RSS in MB (nan if unknown).

    `/usr/bin/time -v` reports the largest RSS of the process and of its waited-for children (the
    maximum over them, not their sum): for `spifeb build` that is the dbt child process.
    """
    timed = ["/usr/bin/time", "-v", *command] if Path("/usr/bin/time").exists() else command
    start = time.perf_counter()
    result = subprocess.run(timed, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - start
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return result, wall, int(peak.group(1)) / 1024 if peak else float("nan")


def _fail(what: str, result: subprocess.CompletedProcess) -> None:
    sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
    raise SystemExit(f"{what} failed with exit code {result.returncode}")


def _environment(data: Path) -> dict[str, str]:
    return {**os.environ, "SPIFEB_DATA_DIR": str(data)}


def _remove(path: Path) -> None:
    """Remove a file tree, publications included (they are made read-only)."""

    def writable(function, name, _):
        os.chmod(os.path.dirname(name), stat.S_IRWXU)
        os.chmod(name, stat.S_IRWXU)
        function(name)

    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        for directory, _, _ in os.walk(path):
            os.chmod(directory, stat.S_IRWXU)
        shutil.rmtree(path, onerror=writable)


def _copy_state(source: Path, target: Path) -> None:
    for name in STATE:
        _remove(target / name)
        if (source / name).exists():
            shutil.copytree(source / name, target / name, symlinks=True)


def _put_back_held(work: Path) -> None:
    """The newest extracts of the night back in the landing zone (copies: `held/` stays)."""
    for folder in sorted((work / "held").glob("*/*")):
        target = work / "landing" / folder.parent.name / folder.name
        _remove(target)
        shutil.copytree(folder, target)


def _stage(name: str, command: list[str], env: dict[str, str]) -> dict:
    result, wall, peak = _timed(command, env)
    if result.returncode != 0:
        _fail(name, result)
    print(f"  {name}: {wall:.1f} s, peak {peak:.0f} MB")
    return {"stage": name, "wall_s": wall, "peak_mb": peak, "stdout": result.stdout}


def _spifeb(*args: str) -> list[str]:
    return [sys.executable, "-m", "spifeb.cli", *args]


def prepare(work: Path, persons: int) -> None:
    """Yesterday's state, once per work directory (a marker records the arguments)."""
    marker = work / "base.done"
    args = ["--persons", str(persons), "--months", "72", "--extracts", "2", "--seed", "1"]
    if marker.exists() and marker.read_text() == " ".join(args) and (work / "base").is_dir():
        print(f"base state: {work / 'base'} (cached)")
        return
    marker.unlink(missing_ok=True)
    for name in ("landing", "held", "base", "synthetic_truth", "dbt_target", *STATE):
        _remove(work / name)
    env = _environment(work)
    print(f"preparing yesterday's state in {work}:")
    _stage("synth", _spifeb("synth", *args, "--out", str(work / "landing")), env)
    for source in sorted(
        p for p in (work / "landing").iterdir() if p.is_dir() and not p.name.startswith("_")
    ):
        newest = max(p for p in source.iterdir() if p.is_dir())
        (work / "held" / source.name).mkdir(parents=True, exist_ok=True)
        shutil.move(newest, work / "held" / source.name / newest.name)
    _stage("base ingest", _spifeb("ingest"), env)
    _stage("base build", _spifeb("build"), env)
    _stage("base publish", [sys.executable, "-c", PUBLISH], env)
    (work / "base").mkdir()
    _copy_state(work, work / "base")
    marker.write_text(" ".join(args))


def direct_run(work: Path) -> list[dict]:
    _copy_state(work / "base", work)
    _put_back_held(work)
    env = _environment(work)
    print("direct run:")
    return [
        _stage("ingest (`spifeb ingest`)", _spifeb("ingest"), env),
        _stage("build (`spifeb build`: dbt build)", _spifeb("build"), env),
        _stage("gate + publish (`gate_and_publish`)", [sys.executable, "-c", PUBLISH], env),
    ]


def _fresh_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="spifeb-dagster-home-"))
    shutil.copy(ROOT / "orchestration" / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def dagster_run(work: Path) -> dict:
    _copy_state(work / "base", work)
    _put_back_held(work)
    home = _fresh_home()
    report = work / "dagster_run.json"
    report.unlink(missing_ok=True)
    env = {**_environment(work), "DAGSTER_HOME": str(home)}
    print("Dagster run (one process):")
    try:
        command = [sys.executable, str(Path(__file__).resolve()), "--dagster-driver", str(report)]
        result = _stage("Dagster (nightly_job, one process)", command, env)
    finally:
        _remove(home)
    return {**result, "jobs": json.loads(report.read_text())}


def _tree_rss_mb(process) -> float:
    import psutil

    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a process may end while we look
            total += p.memory_info().rss
    return total / 2**20


def daemon_run(work: Path) -> dict:
    """The nightly run as the daemon runs it (see the module's docstring)."""
    import psutil

    _copy_state(work / "base", work)
    _put_back_held(work)
    home = _fresh_home()
    env = {**_environment(work), "DAGSTER_HOME": str(home)}
    location = ["-m", "orchestration.definitions"]
    dagster = [sys.executable, "-m", "dagster"]
    print("Dagster run (daemon):")
    daemon = None
    try:
        stop = subprocess.run([*dagster, "sensor", "stop", *location, "landing_sensor"],
                              env=env, cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if stop.returncode != 0:
            _fail("dagster sensor stop", stop)
        daemon = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", *location], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        process = psutil.Process(daemon.pid)
        _wait_for_daemon(home)  # at 02:00 the daemon has been up for hours: its start is not timed
        from orchestration.defs.schedules import nightly_run_request

        tags = nightly_run_request(dt.date.today()).tags
        launch = subprocess.run(
            [*dagster, "job", "launch", *location, "-j", "nightly_job", "--tags", json.dumps(tags)],
            env=env, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        if launch.returncode != 0:
            _fail("dagster job launch", launch)
        return _follow_run(home, env, process)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=60)
        _remove(home)


def _wait_for_daemon(home: Path, timeout: float = 300.0) -> None:
    """Until the queued-run coordinator daemon has sent a heartbeat."""
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    deadline = time.monotonic() + timeout
    with DagsterInstance.get() as instance:
        while "QUEUED_RUN_COORDINATOR" not in instance.get_daemon_heartbeats():
            if time.monotonic() > deadline:
                raise SystemExit("dagster-daemon did not start")
            time.sleep(0.5)
    del os.environ["DAGSTER_HOME"]


def _follow_run(home: Path, env: dict[str, str], daemon) -> dict:
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    peak = 0.0
    with DagsterInstance.get() as instance:
        while True:
            peak = max(peak, _tree_rss_mb(daemon))
            records = instance.get_run_records()
            if records and records[0].dagster_run.is_finished:
                break
            time.sleep(0.2)
        record = records[0]
        run = record.dagster_run
        if run.status.value != "SUCCESS":
            raise SystemExit(f"nightly_job under the daemon ended {run.status.value}")
        steps = {
            st.step_key: round(st.end_time - st.start_time, 1)
            for st in instance.get_run_step_stats(run.run_id)
            if st.start_time and st.end_time
        }
        created = record.create_timestamp.timestamp()
        wall = record.end_time - created
        print(f"  nightly_job (daemon): {wall:.1f} s from queued to end "
              f"(queued {record.start_time - created:.1f} s before its process started), "
              f"peak {peak:.0f} MB")  # fmt: skip
    del os.environ["DAGSTER_HOME"]
    return {"stage": "Dagster (nightly_job, daemon)", "wall_s": wall, "peak_mb": peak,
            "queued_s": record.start_time - created, "steps": steps}  # fmt: skip


# --- The Dagster driver (runs in its own process) ----------------------------------------------


def nightly_job():
    from orchestration.definitions import defs

    return defs.resolve_job_def("nightly_job")


def drive_dagster(report: Path) -> None:
    start = time.perf_counter()
    from dagster import DagsterInstance, execute_job, reconstructable

    from orchestration.defs.schedules import nightly_run_request

    jobs = [{"job": "imports (dagster, definitions)", "wall_s": 0.0}]
    nightly = reconstructable(nightly_job)
    nightly.get_definition()  # load the code location (the dbt manifest) once, timed apart
    jobs[0]["wall_s"] = time.perf_counter() - start
    with DagsterInstance.get() as instance:  # DAGSTER_HOME: SQLite storage, the project's pools
        began = time.perf_counter()
        tags = nightly_run_request(dt.date.today()).tags
        with execute_job(nightly, instance=instance, tags=tags) as result:
            events = len(instance.all_logs(result.run_id))
            if not result.success:
                raise SystemExit(f"nightly_job failed (run {result.run_id})")
        steps = {
            st.step_key: round(st.end_time - st.start_time, 1)
            for st in instance.get_run_step_stats(result.run_id)
            if st.start_time and st.end_time
        }
        jobs.append({"job": "nightly_job", "wall_s": time.perf_counter() - began,
                     "events": events, "steps": steps})  # fmt: skip
        print(f"nightly_job: {jobs[-1]['wall_s']:.1f} s, {events} events", flush=True)
    report.write_text(json.dumps(jobs))


# --- Report ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=None, help="work directory (kept, reused)")
    parser.add_argument("--dagster-driver", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dagster_driver:
        drive_dagster(args.dagster_driver)
        return

    work = (
        args.work or Path(tempfile.gettempdir()) / f"spifeb-bench-nightly-{args.persons}"
    ).resolve()
    work.mkdir(parents=True, exist_ok=True)
    prepare(work, args.persons)
    stages = direct_run(work)
    dagster = dagster_run(work)
    daemon = daemon_run(work)

    direct_total = sum(s["wall_s"] for s in stages)
    overhead = dagster["wall_s"] / direct_total - 1
    daemon_overhead = daemon["wall_s"] / direct_total - 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()  # fmt: skip
    print(f"\n{platform.node()}, commit {commit}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, "
          f"{args.persons:,} persons, work directory {work}\n")  # fmt: skip
    print("| stage | wall (s) | peak RSS (MB) |")
    print("|---|---|---|")
    for s in stages:
        print(f"| {s['stage']} | {s['wall_s']:.1f} | {s['peak_mb']:.0f} |")
    peak = max(s["peak_mb"] for s in stages)
    print(f"| **direct total** | **{direct_total:.1f}** | {peak:.0f} (max) |")
    print(f"| **Dagster total** (one process, execute_job) | **{dagster['wall_s']:.1f}** "
          f"| {dagster['peak_mb']:.0f} |")  # fmt: skip
    print(f"| **Dagster total** (daemon: queued to end) | **{daemon['wall_s']:.1f}** "
          f"| {daemon['peak_mb']:.0f} (whole daemon tree) |")  # fmt: skip
    for label, value in (("one process", overhead), ("daemon", daemon_overhead)):
        verdict = "met" if value < TARGET_OVERHEAD else "not met"
        if args.persons != 1_000_000:
            verdict = "not applicable at this size"
        print(f"\nOrchestration overhead ({label}): **{value:+.1%}** "
              f"(target < {TARGET_OVERHEAD:.0%} at 1,000,000 persons: {verdict})")  # fmt: skip
    print(
        f"\nUnder the daemon the run waited {daemon['queued_s']:.1f} s in the queue; its steps: "
        + ", ".join(f"{k} {v} s" for k, v in daemon["steps"].items())
        + "\n"
    )
    print("| Dagster run | wall (s) | events logged | steps (start to end, s) |")
    print("|---|---|---|---|")
    for job in dagster["jobs"]:
        steps = ", ".join(f"{k} {v}" for k, v in job.get("steps", {}).items())
        print(f"| {job['job']} | {job['wall_s']:.1f} | {job.get('events', '')} | {steps} |")
    accounted = sum(j["wall_s"] for j in dagster["jobs"])
    print(f"| process start-up and shut-down (rest) | {dagster['wall_s'] - accounted:.1f} | | |")


if __name__ == "__main__":
    main()
