# The two commands a newcomer needs: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-postgres api worker scheduler init lint bench bench-smoke soak chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# ReDoc's script comes from the package that ships it for drf-spectacular; only its files are used, so its
# Django dependency is left out (--no-deps). Same in the Dockerfile.
REDOC_PACKAGE := drf-spectacular-sidecar==2026.10.1

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml Makefile
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps '$(REDOC_PACKAGE)'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,dev]'
	bash .ci/install-chromium
	touch $@

## run: API, worker(s) and scheduler on embedded SQLite + Redis under var/ (Ctrl-C stops all)
run: $(VENV)/.installed
	$(BIN)/python -m core.supervisor

## test: the whole suite against the embedded Redis and SQLite
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

## test-postgres: the suite again on a throwaway PostgreSQL (what CI does after `make test`)
test-postgres: $(VENV)/.installed-test
	bash .ci/with-postgres $(BIN)/python -m pytest

init: $(VENV)/.installed
	$(BIN)/flask --app api init

api: $(VENV)/.installed
	$(BIN)/gunicorn --bind $${HOST:-127.0.0.1}:$${PORT:-8000} --worker-class gthread --threads $${API_THREADS:-256} --no-control-socket 'api:create_app()'

worker: $(VENV)/.installed
	dramatiq_worker_timeout=$${WORKER_TIMEOUT_MS:-100} $(BIN)/dramatiq workers.setup:configure --skip-logging \
		--processes $${WORKER_PROCESSES:-1} --threads $${WORKER_THREADS:-8}

scheduler: $(VENV)/.installed
	$(BIN)/python -m scheduler

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy api workers scheduler models core domain
	$(BIN)/lint-imports

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,dev,bench]'
	bash .ci/install-wrk
	touch $@

## bench: API latency, throughput, WebSocket fan-out, webhooks, scale-out, metrics; writes bench/results.md and .json
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run

## bench-smoke: every benchmark, small (a few minutes); writes bench/smoke-results.md and .json
bench-smoke: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run --smoke

## soak: make run's platform under 10 minutes of mixed load (SOAK_SECONDS); writes bench/soak-results.md and .json
soak: $(VENV)/.installed-test
	$(BIN)/python -m bench.soak

## chaos: the fault-injection and cluster tests at full size (CHAOS=full: more events, more kills, longer outages)
chaos: $(VENV)/.installed-test
	CHAOS=full $(BIN)/python -m pytest -p no:cacheprovider tests/e2e/test_faults_*.py tests/e2e/test_cluster.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
