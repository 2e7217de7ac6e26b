# Every target creates the virtual environment it needs; nothing else is assumed on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint bench docs dist lambda-zip clean

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
	$(BIN)/ruff check src tests benchmarks demo docs/gen_reference.py packaging
	$(BIN)/ruff format --check src tests benchmarks demo docs/gen_reference.py packaging
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

# The manual as a site in site/ (open site/index.html); strict: a broken link or anchor fails.
# The reference pages are generated from the code by the hook docs/gen_reference.py.
docs: $(VENV)/.installed-docs
	$(BIN)/mkdocs build --strict

# The sdist and the wheel in $(DIST_DIR), checked by twine (metadata, README rendering).
DIST_DIR ?= dist
dist: $(VENV)/.installed-release
	rm -f $(DIST_DIR)/mdh_creds-* $(DIST_DIR)/mdh-creds-*.tar.gz
	$(BIN)/python -m build --outdir $(DIST_DIR) .
	$(BIN)/twine check --strict $(DIST_DIR)/mdh_creds-*

# Deployment zips for AWS Lambda's Python, one per architecture, from manylinux wheels and the
# wheel `make dist` built: $(DIST_DIR)/mdh-creds-lambda-ARCH.zip.
LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCHS  ?= x86_64 arm64
lambda-zip: dist
	$(BIN)/python packaging/lambda_zip.py --python-version $(LAMBDA_PYTHON) \
		--wheel $(DIST_DIR)/mdh_creds-*.whl --out-dir $(DIST_DIR) $(LAMBDA_ARCHS)

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
