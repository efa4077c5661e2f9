# kumopy: everything installs into .venv; `make run` and `make test` are
# the only set-up a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test run bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

# The main job: rewrite a sample of real-world remote responses with the
# example policy, its absolute JSON path mapped to the shipped rules.
run: install
	$(BIN)/kumopy rewrite policies/dsn-rewrite/init.lua \
		--map /opt/kumomta/etc/policy/dsn_rewrite.json=policies/dsn-rewrite/dsn_rewrite.json \
		--input policies/dsn-rewrite/responses.txt --summary

bench: install
	$(BIN)/python bench/bench_runtime.py
	$(BIN)/python bench/bench_regex_set_map.py
	$(BIN)/python bench/bench_replay.py
	$(BIN)/python bench/bench_adversarial.py

lint: install
	$(BIN)/ruff check kumopy tests bench
	$(BIN)/mypy kumopy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
