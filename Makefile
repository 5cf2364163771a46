# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make demo   build .venv if needed, synthesise a small province, run the whole pipeline
#   make test   build .venv if needed, lint, run the test suite (unit and integration)
#   make test-unit  lint and the unit tests only (under a minute: no warehouse run, no PostGIS)
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-unit lint format dev clean lock wheel-check screenshots

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3"
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hamlets demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest

# tests/unit only: everything under tests/integration carries the `integration` marker.
test-unit: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/pytest -m "not integration"

# The README's screenshots, taken by the tests that drive the real thing: the map editor
# in headless Chromium and page 1 of a đề án printed by LibreOffice (docs/*.png).
screenshots: $(STAMP)
	HAMLETS_SCREENSHOTS=docs $(VENV)/bin/pytest tests/integration/test_map_editor_browser.py tests/integration/test_dean_pdf.py

# Build the wheel, install it with the pinned set in a fresh venv, run it outside the checkout.
wheel-check:
	PYTHON=$(PYTHON) .ci/wheel-check

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

dev: $(STAMP)
	mkdir -p data/dagster_home
	test -f data/dagster_home/dagster.yaml || cp hamlets_config/dagster.local.yaml data/dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/data/dagster_home $(VENV)/bin/dagster dev -w workspace.yaml

# Re-resolve the pinned set after changing pyproject.toml (needs the registry).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet "pip==26.3"
	.lock-venv/bin/python -m pip install --quiet ".[dev]"
	.lock-venv/bin/python -m pip freeze --exclude hamlet-restructuring > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) data
