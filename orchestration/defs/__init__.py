"""One module per concern; `orchestration.definitions` assembles them."""
# No `from __future__ import annotations` in this package: Dagster reads the real annotations.
