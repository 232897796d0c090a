# One place for the project's commands. Each target installs what it needs first (uv + the lock).
PYTHON ?= python3
UV := .venv-tools/bin/uv
N ?= 2000
MONTHS ?= 72
SEED ?= 42

.PHONY: setup browser demo test check format bench dagster notebook clean

$(UV):
	$(PYTHON) -m venv .venv-tools
	.venv-tools/bin/python -m pip install --quiet "uv==0.13.9"

setup: $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	$(UV) run --frozen python -m orchestration.prepare  # dbt manifest for Dagster (parsed once, not at import)

demo: setup
	$(UV) run --frozen spifeb demo --persons $(N) --months $(MONTHS) --seed $(SEED)

# Debian's Chromium, for the test that renders the publication's report headless (installed once).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

test: setup browser
	$(UV) run --frozen pytest -q -n 2

check: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	DAGSTER_HOME=$$(mktemp -d) $(UV) run --frozen dagster definitions validate -m orchestration.definitions
	$(UV) run --frozen marimo check --strict --ignore-scripts notebooks/

notebook: setup  # the analysts' cohort study on the current publication (marimo editor)
	$(UV) run --frozen marimo edit notebooks/etude_cohorte.py

dagster: setup  # the operator's UI: asset graph, checks, schedule and sensors
	DAGSTER_HOME=$(CURDIR)/orchestration/dagster_home $(UV) run --frozen dagster dev -m orchestration.definitions

format: setup
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: setup  # speed and memory benchmarks; results go to BENCHMARKS.md
	$(UV) run --frozen python benchmarks/bench_synth.py

clean:
	rm -rf .venv .venv-tools
