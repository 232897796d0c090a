"""The quality gate: what must hold before a publication (rules in `rules.yaml`).

Great Expectations suites (pandas datasource) run on the tables about to be published: shares
and rates within [0, 1], counts not negative, totals equal to the sum of their parts, no cell
under the confidentiality threshold. Two more checks read the lake and the previous publication:
every source present with a recent extract, and volume changes within a bound (a warning unless
configured to block).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from data_contracts import load_catalog
from ingestion.lake import Lake, read_load_log
from publication.confidentiality import rules

logging.getLogger("great_expectations").setLevel(logging.ERROR)


@dataclass
class CheckResult:
    name: str
    success: bool
    blocking: bool
    detail: str = ""


def _expectations(spec: dict, threshold: int) -> list[tuple[str | None, object]]:
    """(row filter or None, expectation) for each rule of a table.

    A rule entry is a column name, or {column, where} to check only the rows `where` selects
    (a SQL condition, e.g. the rate indicators of a long table).
    """
    import great_expectations as gx

    kinds = {
        "ratios": lambda c: gx.expectations.ExpectColumnValuesToBeBetween(
            column=c, min_value=0, max_value=1
        ),
        "non_negative": lambda c: gx.expectations.ExpectColumnValuesToBeBetween(
            column=c, min_value=0
        ),
        "confidential_counts": lambda c: gx.expectations.ExpectColumnValuesToNotBeInSet(
            column=c, value_set=list(range(1, threshold))
        ),
    }
    found = []
    for kind, build in kinds.items():
        for entry in spec.get(kind, []):
            column, where = (
                (entry, None) if isinstance(entry, str) else (entry["column"], entry.get("where"))
            )
            found.append((where, build(column)))
    return found


def _sum_frames(frame: pl.DataFrame, spec: dict) -> list[tuple[str, pl.DataFrame]]:
    """For each `sums` rule: one row per group with the published total and the sum of its parts.

    Groups where a cell was suppressed (null) are left out: their sum cannot be checked, by design.
    """
    frames = []
    for rule in spec.get("sums", []):
        value, by = rule["value"], rule["by"]
        total = (
            frame.filter(pl.sql_expr(rule["total_where"]))
            .group_by(by)
            .agg(pl.col(value).sum().alias("total"), pl.col(value).null_count().alias("nuls_total"))
        )
        parts = (
            frame.filter(pl.sql_expr(rule["parts_where"]))
            .group_by(by)
            .agg(
                pl.col(value).sum().alias("somme_parties"),
                pl.col(value).null_count().alias("nuls_parties"),
            )
        )
        joined = total.join(parts, on=by, how="inner").filter(
            (pl.col("nuls_total") == 0) & (pl.col("nuls_parties") == 0)
        )
        label = f"{rule.get('label', value)} : total = somme des parties"
        frames.append((label, joined.select("total", "somme_parties")))
    return frames


def _validate(context, name: str, frame, expectations: list) -> CheckResult:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"suite_{len(context.data_sources.get('publication').assets)}")
    for expectation in expectations:
        suite.add_expectation(expectation)
    batch = (
        context.data_sources.get("publication")
        .add_dataframe_asset(name=f"asset_{len(context.data_sources.get('publication').assets)}")
        .add_batch_definition_whole_dataframe("tout")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(suite)
    failed = [
        f"{r.expectation_config.type}({r.expectation_config.kwargs.get('column', '')}): "
        f"{r.result.get('unexpected_count', '?')} valeur(s) en écart"
        for r in result.results
        if not r.success
    ]
    return CheckResult(name, result.success, True, "; ".join(failed))


def expectation_checks(database: Path) -> list[CheckResult]:
    import great_expectations as gx

    config = rules()
    threshold = config["confidentiality"]["threshold"]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.data_sources.add_pandas("publication")
    checks = []
    with duckdb.connect(str(database), read_only=True) as connection:
        for table, spec in config["gate"]["tables"].items():
            try:
                frame = connection.sql(f"select * from {table}").pl()
            except duckdb.CatalogException:
                checks.append(
                    CheckResult(
                        f"{table}: présente", False, True, "table absente de la publication"
                    )
                )
                continue
            by_filter: dict[str | None, list] = {}
            for where, expectation in _expectations(spec, threshold):
                by_filter.setdefault(where, []).append(expectation)
            for where, expectations in by_filter.items():
                rows = frame.filter(pl.sql_expr(where)) if where else frame
                name = table if where is None else f"{table} [{where}]"
                checks.append(_validate(context, name, rows.to_pandas(), expectations))
            for label, sums in _sum_frames(frame, spec):
                equal = gx.expectations.ExpectColumnPairValuesToBeEqual(
                    column_A="total", column_B="somme_parties"
                )
                checks.append(_validate(context, f"{table} — {label}", sums.to_pandas(), [equal]))
    return checks


def sources_check(lake: Path) -> CheckResult:
    """Every source has landed an extract, and none lags far behind the most recent one."""
    lag = rules()["gate"]["max_source_lag_days"]
    log = read_load_log(Lake(lake)).filter(pl.col("status") == "landed")
    latest = dict(log.group_by("source").agg(pl.col("extract_date").max()).iter_rows())
    missing = sorted(set(load_catalog().sources) - set(latest))
    reference = max(latest.values()) if latest else None
    late = sorted(s for s, d in latest.items() if reference - d > dt.timedelta(days=lag))
    problems = [f"aucun extrait intégré : {', '.join(missing)}"] if missing else []
    problems += [f"dernier extrait de plus de {lag} jours : {', '.join(late)}"] if late else []
    return CheckResult("sources présentes et récentes", not problems, True, "; ".join(problems))


def volume_check(counts: dict[str, int], previous: dict[str, int] | None) -> CheckResult:
    config = rules()["gate"]
    bound, blocking = config["volume_change_bound"], config["volume_blocking"]
    if not previous:
        return CheckResult("évolution des volumes", True, blocking, "première publication")
    drifts = [
        f"{table}: {previous[table]} → {n}"
        for table, n in counts.items()
        if previous.get(table) and abs(n - previous[table]) / previous[table] > bound
    ]
    return CheckResult("évolution des volumes", not drifts, blocking, "; ".join(drifts))


def run_gate(
    database: Path, lake: Path, counts: dict[str, int], previous: dict[str, int] | None
) -> list[CheckResult]:
    return [*expectation_checks(database), sources_check(lake), volume_check(counts, previous)]
