# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install skvae with the CPU build of torch==2.13.0.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test lint bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Digits, every label known, then 50 / 100 / 250 labels (semi-supervised): about 70 s on
# 2 CPU cores. One torch thread, as for the docs: these small nets gain nothing from more
# (on a 2-core machine shared with other jobs the --labels run took 10 minutes, not 1).
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/skvae compare --plot skvae-compare.png
	OMP_NUM_THREADS=1 $(VENV)/bin/skvae compare --labels 50 100 250 --plot skvae-labels.png

test: $(STAMP)
	$(PY) -m pytest -q

# The docs extra goes into the same venv; naming torch==2.13.0 again keeps pip from
# replacing the CPU build. One torch thread: examples run in the build process, and
# small nets gain nothing from more threads (on a busy machine they lose a lot).
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet torch==2.13.0 -e ".[dev,docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	OMP_NUM_THREADS=1 MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "Docs built: docs/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check skvae tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	rm -rf docs/_build docs/generated docs/auto_examples docs/gen_modules
