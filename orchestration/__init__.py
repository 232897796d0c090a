"""The Dagster code location of SPIFEB: `orchestration.definitions` assembles `orchestration.defs`.

    DAGSTER_HOME=$PWD/orchestration/dagster_home uv run dagster dev -m orchestration.definitions

The dbt manifest must exist first: `uv run python -m orchestration.prepare` (`make setup` does it).
"""
