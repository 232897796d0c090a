"""Freshness: one check per source, a warning when its latest landed extract is over 45 days old.

Read from the load log (extract dates, not run times): a source that sends nothing, or whose
extracts are refused, goes stale even though ingestion runs every night.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, asset_check

from ingestion.lake import Lake, read_load_log
from orchestration.defs.ingestion import LANDED_EXTRACTS, SOURCE_CODES
from spifeb import settings

MAX_AGE_DAYS = 45
PARIS = ZoneInfo("Europe/Paris")


def today_in_paris() -> dt.date:
    return dt.datetime.now(PARIS).date()


def freshness_result(log: pl.DataFrame, source: str, today: dt.date) -> AssetCheckResult:
    """Passes when the source's latest landed extract is at most MAX_AGE_DAYS old (else WARN)."""
    mine = log.filter(pl.col("source") == source)
    landed = mine.filter(pl.col("status") == "landed")["extract_date"].max()
    refused = mine.filter(pl.col("status") == "refused")["extract_date"].max()
    metadata = {
        "latest_extract": landed.isoformat() if landed else "",
        "latest_refused_extract": refused.isoformat() if refused else "",
        "max_age_days": MAX_AGE_DAYS,
    }
    if landed is None:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description=f"{source} : aucun extrait intégré",
            metadata=metadata,
        )
    age = (today - landed).days
    return AssetCheckResult(
        passed=age <= MAX_AGE_DAYS,
        severity=AssetCheckSeverity.WARN,
        description=f"{source} : dernier extrait du {landed:%d/%m/%Y}, il y a {age} jours",
        metadata={**metadata, "age_days": age},
    )


def freshness_check(source: str) -> AssetChecksDefinition:
    @asset_check(
        asset=LANDED_EXTRACTS,
        name=f"freshness_{source}",
        description=f"Dernier extrait intégré de {source} de moins de {MAX_AGE_DAYS} jours.",
    )
    def _check() -> AssetCheckResult:
        log = read_load_log(Lake(settings.lake_dir()))
        return freshness_result(log, source, today_in_paris())

    return _check


FRESHNESS_CHECKS = [freshness_check(source) for source in SOURCE_CODES]
