# Two commands set everything up on a fresh machine with python3, pip and make:
#   make report   -> the main job: the interim report of data/synthetic in output/report/
#   make test     -> the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= output/report

.PHONY: report test lint clean benchmark

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,notebooks]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Byte-compile the package first (a few ms when up to date): where PYTHONDONTWRITEBYTECODE is set,
# Python would otherwise compile every module of src/ again on each run.
report: $(STAMP)
	$(BIN)/python -m compileall -q src
	$(BIN)/msc-analysis report --data data/synthetic --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_report.py --sizes 10 1000

clean:
	rm -rf $(VENV) output
