# The two commands of the README: `make run` runs the center, `make test` the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo serve test lint typecheck unit bench setup clean

$(STAMP): pyproject.toml constraints.txt web/package.json web/package-lock.json
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# browser libraries (JsSIP, Leaflet) from web/package-lock.json, bundled into web/static/dist
	cd web && npm ci --no-audit --no-fund && npm run build
	touch $(STAMP)

setup: $(STAMP)

# Runs the whole center on embedded defaults (SQLite, in-process queue) with demo operators
# and a stream of synthetic reports. Log in at http://127.0.0.1:8080 as printed.
run: $(STAMP)
	$(BIN)/contact db upgrade
	$(BIN)/contact demo

serve: $(STAMP)
	$(BIN)/contact db upgrade
	$(BIN)/contact serve

lint: $(STAMP)
	$(BIN)/ruff check contact tests bench
	$(BIN)/ruff format --check contact tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Everything: installs what it needs (Python packages, Redis, PostgreSQL, Chromium), then
# lint, types and every test on real services.
test: $(STAMP)
	scripts/ensure-services.sh
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

bench: $(STAMP)
	scripts/ensure-services.sh
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
