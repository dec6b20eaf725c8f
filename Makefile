# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install skvae with the CPU build of torch==2.13.0.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/skvae compare --plot skvae-compare.png

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check skvae tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
