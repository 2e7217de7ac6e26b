# Every target creates the virtual environment it needs; nothing else is assumed on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(subst +,$(comma),$*)]'
	touch $@

comma := ,

demo: $(VENV)/.installed-demo
	$(BIN)/python demo/run_demo.py

lint: $(VENV)/.installed-test+dev
	$(BIN)/ruff check src tests benchmarks demo
	$(BIN)/ruff format --check src tests benchmarks demo
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that must fail, not pass silently.
# The tests run in PYTEST_WORKERS processes (pytest-xdist; 0 runs them in this one): most of a
# test's time is spent waiting on servers and subprocesses, so more workers than cores pays. Each
# worker is handed one test (or xdist_group) at a time, so the slow tests (collected first) spread
# over all of them; the tests that start dozens of processes share a group and so never overlap.
test: lint
	$(BIN)/python -m pytest -n $${PYTEST_WORKERS:-4} --dist=loadgroup $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; \
	exit $$status

bench: $(VENV)/.installed-test+dev
	$(BIN)/python benchmarks/run_bench.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
