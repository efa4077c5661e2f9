# kumopy: everything installs into .venv; `make run` and `make test` are
# the only set-up a fresh machine needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test run bench lint clean redis-check conformance

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: install redis-check
	$(BIN)/python -m pytest -q

# The Redis tests start their own redis-server on 127.0.0.1; without the
# binary they are skipped, so say how to get it.
redis-check:
	@command -v redis-server >/dev/null 2>&1 || echo "note: redis-server is not installed," \
		"so the Redis tests will be skipped; install it with: sudo apt-get install redis-server"

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
	$(BIN)/python bench/bench_startup.py
	$(BIN)/python bench/bench_lint.py
	$(BIN)/python bench/bench_serve.py
	$(BIN)/python bench/bench_filetype.py

# KumoMTA's own Lua tests through kumopy (needs a KumoMTA checkout in
# KUMOMTA_SRC; JOBS=N to run N at once).  test_filetype.lua also needs the
# file_type crate's database: when it is not built yet, this fetches the
# crate from crates.io once (`kumopy file-type build --download`, checked
# against KumoMTA's Cargo.lock; docs/library.md, "File types"); where that
# fails, test_filetype.lua is an expected failure, and this says so.
JOBS ?= 2
conformance: install
	@$(BIN)/kumopy file-type status >/dev/null 2>&1 || { \
		echo "kumo.file_type's database is not built: fetching the file_type crate from crates.io" \
			"(checked against KumoMTA's Cargo.lock)"; \
		$(BIN)/kumopy file-type build --download -q || echo "note: without it, test_filetype.lua" \
			"is an expected failure; build it from a copy of the crate with" \
			"$(BIN)/kumopy file-type build --crate FILE.crate or --crate-src DIR"; }
	$(BIN)/python -m kumopy.testing._conformance --jobs $(JOBS)
	$(BIN)/python bench/bench_adversarial.py

lint: install
	$(BIN)/ruff check kumopy tests bench
	$(BIN)/mypy kumopy

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
