# Two commands do all set-up on a fresh machine:  make run   and   make test
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
RUN_DIR ?= runs/seed-$(shell date +%Y%m%d-%H%M%S)

.PHONY: run test install data quick dry-run bench clean-venv wheel notebooks

$(STAMP): pyproject.toml .ci/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c .ci/constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

data: install
	VENV=$(VENV) scripts/ensure_data.sh

## The main job: the TP's 50-epoch training (seed preset) on Fashion-MNIST, then its outputs.
run: data
	$(BIN)/gan-atelier train --preset seed --run-dir $(RUN_DIR)
	@echo "Outputs: $(RUN_DIR)/ (samples/, progress.gif, curves.png, metrics.csv, run.json)"

quick: data
	$(BIN)/gan-atelier train --preset quick

dry-run: install
	$(BIN)/gan-atelier train --dry-run --run-dir runs/dry-run --overwrite

## The tests (real-data tests run when the data is installed; CI installs it).
test: install
	VENV=$(VENV) scripts/ensure_data.sh --soft
	$(BIN)/python -m pytest -q

## A wheel for classes (the notebooks' PACKAGE_SOURCE): dist/gan_atelier-<version>-py3-none-any.whl
wheel: install
	$(BIN)/pip wheel --no-deps --no-build-isolation -q -w dist .
	@ls dist/gan_atelier-*.whl

## The four notebooks from notebooks/cells*.py (instructor and student, French and English)
notebooks: install
	$(BIN)/python notebooks/build_notebooks.py

clean-venv:
	rm -rf $(VENV)
