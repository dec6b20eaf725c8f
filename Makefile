# Set-up and everyday commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install skvae with the CPU build of torch==2.13.0.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test lint bench docs clean gpu-check gpu-bundle

# What the demo needs: torch (CPU build), skvae and matplotlib for its figures.
$(DEMO_STAMP): pyproject.toml
	@echo "Installing torch==2.13.0 (CPU build), skvae and matplotlib into $(VENV):"
	@echo "about 1 to 2 minutes on a fresh machine (pip shows its progress)."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on torch==2.13.0
	$(PY) -m pip install --progress-bar on -e ".[plot]"
	touch $(DEMO_STAMP)

# Tests and linting need the dev extra too (pytest, ruff, dask, h5py, ...).
$(STAMP): $(DEMO_STAMP) pyproject.toml
	@echo "Installing the dev extra (pytest, ruff, dask, h5py, ...) into $(VENV) ..."
	$(PY) -m pip install --quiet torch==2.13.0 -e ".[dev]"
	touch $(STAMP)

# Digits, the story first: 50 / 100 / 250 labels known (the other rows unlabelled), SVC on
# the labelled rows against LabelSpreading, self-training, VAE -> SVC and VAEClassifier;
# then every label known. Each fit plans its torch threads (n_threads='auto': one for the
# smallest nets, else the cores no other process keeps busy), so no OMP_NUM_THREADS.
# Measured on this 2-core machine (2026-12-08, commit 5f61ee5), the venv made, nothing
# else running (load average 1.1 at the start): the --labels run 58 s (its three
# VAEClassifier fits 14 to 16 s each, on the 2 threads they planned), the second run
# 10 s; 68 s together. (Commit 579b03c, before issue 28's larger defaults: 57 s.)
demo: $(DEMO_STAMP)
	$(VENV)/bin/skvae compare --labels 50 100 250 --plot skvae-labels.png
	$(VENV)/bin/skvae compare --plot skvae-compare.png

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

# The GPU check (docs/gpu.md): `make gpu-check` on a CUDA machine runs every GPU path once
# and writes one table; `make gpu-check DEVICE=cpu` runs every step tiny on the CPU (CI).
# It uses .venv's python where there is one, else python3 (a GPU image with torch and
# scikit-learn but no network), installing skorch from .gpu-bundle/ (`make gpu-bundle`,
# made where pip works; carry the folder along) when it is missing.
DEVICE ?= cuda
GPU_PY = $(if $(wildcard $(PY)),$(PY),python3)
gpu-check:
	@$(GPU_PY) -c "import skorch" 2>/dev/null || { \
	  test -d .gpu-bundle || { echo "gpu-check needs skorch: run 'make gpu-bundle' where pip works and bring .gpu-bundle/ along"; exit 2; }; \
	  $(GPU_PY) -m pip install -q --no-index --no-deps --target .gpu-bundle/site .gpu-bundle/*.whl; }
	PYTHONPATH=.:benchmarks:.gpu-bundle/site OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} \
	  $(GPU_PY) benchmarks/gpu_check.py --device $(DEVICE)

# What gpu-check needs on a machine without network: the skorch wheel and Fashion-MNIST.
gpu-bundle: $(STAMP)
	mkdir -p .gpu-bundle/fashion-mnist
	$(PY) -m pip download -q --no-deps --only-binary=:all: -d .gpu-bundle \
	  "skorch==$$($(PY) -c 'import skorch; print(skorch.__version__)')"
	cp /usr/share/datasets/fashion-mnist/*.gz .gpu-bundle/fashion-mnist/ 2>/dev/null || \
	  echo "no Fashion-MNIST here (apt-get install dataset-fashion-mnist): its step will skip"
	@echo "Bundle ready: .gpu-bundle/ (carry it with the working tree)"

lint: $(STAMP)
	$(VENV)/bin/ruff check skvae tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	rm -rf docs/_build docs/generated docs/auto_examples docs/gen_modules
