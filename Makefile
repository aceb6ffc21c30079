# Two commands for everyone: `make lab` (open the course) and `make test` (check it all).
# Each creates .venv on first use: python -m venv, then pip install -r requirements.txt -e .

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JupyterLab's port. When it is taken, JupyterLab tries the next free ones and prints the
# address it chose; to pick one yourself: `make lab PORT=9999`.
PORT ?= 8888
# pytest-xdist workers: two on a two-core laptop; override with `make test WORKERS=4`
WORKERS ?= 2

.PHONY: lab test test-unit test-notebooks lint exercises benchmark site clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(firstword $(PYTHON)) >/dev/null 2>&1 || { echo "Python 3.11 not found: install it (see README, Start here) or run make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "the course needs Python 3.11 (its pinned packages are tested only there, see README); found %d.%d: run make PYTHON=/path/to/python3.11 ..." % v)'
	@echo "First run: installing the course's packages into $(VENV) (a few minutes, about 1 GB; later runs skip this)."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

# --allow-root only where you are root (e.g. inside a container)
lab: $(STAMP)
	@echo "Starting JupyterLab; if no browser opens, copy the http://127.0.0.1:...?token=... address it prints. Stop it with Ctrl+C."
	$(BIN)/jupyter lab --port=$(PORT) --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root,) \
		notebooks/00_why_synthetic_data.ipynb

# Unit tests and every notebook (nbval, fast mode) in one pytest run.
test: $(STAMP)
	COURSE_FAST=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 COURSE_TORCH_THREADS=1 \
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadscope \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
		tests notebooks

test-unit: $(STAMP)
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) tests

test-notebooks: $(STAMP)
	COURSE_FAST=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadscope \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks

lint: $(STAMP)
	$(BIN)/ruff check course_utils tests

exercises: $(STAMP)
	$(BIN)/python -m course_utils build

benchmark: $(STAMP)
	$(BIN)/python -m course_utils benchmark evaluation
	$(BIN)/python -m course_utils benchmark cart
	$(BIN)/python -m course_utils benchmark deep

# The course as static HTML in site/ (lessons executed in fast mode, two at a time):
# open site/index.html in a browser. `make site SITE_FLAGS=--full` for full settings.
site: $(STAMP)
	$(BIN)/python -m course_utils.site --out site --jobs $(WORKERS) $(SITE_FLAGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis site test-artifacts
