# The entry points of the project. A fresh machine needs only python3 (>= 3.11) and GNU make:
# every target that runs Python first creates or updates the virtualenv from uv.lock.
#   make run    start nats-server, every service and the gateway (Ctrl-C stops them)
#   make test   run every test against a real nats-server and a real PostgreSQL
#   make test-shifted SHIFT=+400d   the time-sensitive tests with the system clock moved (libfaketime)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
# Only the folders that hold Python code are type-checked (some may still be empty).
MYPY_DIRS := services contracts gateway federation infra bench tests
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k federation -x"
PYTEST_ARGS ?=
# pytest-xdist workers. The tests mostly wait on subprocesses, sockets and disk syncs, so more workers
# than the machine's 2 cores pay: 4 halve the suite's time there, 6 are no faster (the cores are then
# busy). A file's tests all go to one worker (--dist loadfile), so its module
# fixtures (the fault run's baseline, the population) are set up once. PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 4
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)
# make test-shifted: how far the clock moves, in libfaketime's FAKETIME syntax (+400d, +1100d, +3y...).
SHIFT ?= +400d
# The time-sensitive part of the suite: everything dated (rules in force, deadlines, transition plans,
# key windows, token expiry) and `make run`'s command (the launcher, with stand-in services);
# `python -m infra.ci.stack_smoke` then starts the real `make run` stack (tests/infra/test_demo.py
# does too, but runs the whole demo: minutes, too long to run twice more). The console's browser
# tests stay out: Chromium under the preload takes minutes (their facts are dated by the clock,
# tests/support/dates.py).
SHIFTED_TESTS ?= tests/eligibility tests/penalties tests/resettlement tests/training tests/federation \
	tests/gateway --deselect tests/gateway/test_console_browser.py --deselect tests/gateway/test_console_city.py \
	tests/monitoring tests/infra/test_launcher.py::test_make_run_command_stops_cleanly_on_sigterm

.DEFAULT_GOAL := help
.PHONY: help venv run test test-shifted soak lint bench demo population asyncapi clean distclean

help: ## list the targets
	@echo "Targets:"
	@grep -E '^[a-z.-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z.-]+):.*## /  make \1\t/' | expand -t 20

# The virtualenv is a file target: it is rebuilt only when pyproject.toml or uv.lock changes.
# uv is pinned and installed with pip first; `uv sync --frozen` then installs exactly uv.lock
# (the lock's dev group includes uv itself, so the sync keeps it).
$(VENV)/.synced: pyproject.toml uv.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv sync --frozen
	touch $@

venv: $(VENV)/.synced ## create or update the virtualenv from uv.lock

run: $(VENV)/.synced ## start the local stack: nats-server on 14222, services, gateway on 8000
	$(PY) -m infra.stack

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(VENV)/.synced ## run every test (real nats-server, real PostgreSQL), 4 workers (PYTEST_WORKERS=n)
	@$(PY) -m pytest $(XDIST) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no test ran (pytest exit code 5)" >&2; exit 1; fi; \
	exit $$status

# libfaketime (the dev group's wheel) is preloaded by infra/ci/shifted.py into pytest and the stack
# smoke only, never into make, pip or uv; it checks first that the clock really moved. Every process the
# tests start inherits LD_PRELOAD and FAKETIME, so the services run shifted too; monotonic clocks are left
# alone (timeouts, asyncio). nats-server (a static Go binary) and an already running PostgreSQL keep the
# real time. README: "Running the suite under a shifted clock".
test-shifted: $(VENV)/.synced ## the time-sensitive tests, then a `make run` start, with the clock moved (SHIFT=+400d)
	@$(PY) -m infra.ci.shifted $(SHIFT) $(PY) -m pytest -p no:cacheprovider $(XDIST) $(SHIFTED_TESTS) $(PYTEST_ARGS); \
	status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test-shifted: no test ran (pytest exit code 5)" >&2; exit 1; fi; \
	$(PY) -m infra.ci.shifted $(SHIFT) $(PY) -m infra.ci.stack_smoke || status=1; \
	exit $$status

soak: $(VENV)/.synced ## fuzz every HTTP API at length (FUZZ_EXAMPLES=200; FUZZ_SEED=n), then the full fault run (15 faults), floods at full size
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) FUZZ_SEED=$(or $(FUZZ_SEED),20261127) \
		$(PY) -m pytest -p no:cacheprovider --timeout=0 tests/fuzz $(PYTEST_ARGS)
	FAULTS_FULL=1 $(PY) -m pytest -p no:cacheprovider --timeout=0 tests/faults $(PYTEST_ARGS)
	FLOOD_SCALE=1 $(PY) -m pytest -p no:cacheprovider --timeout=0 tests/floods $(PYTEST_ARGS)

lint: $(VENV)/.synced ## ruff check, ruff format --check, mypy --strict
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	dirs=""; for d in $(MYPY_DIRS); do \
		if [ -n "$$(find $$d -name '*.py' -print -quit 2>/dev/null)" ]; then dirs="$$dirs $$d"; fi; \
	done; \
	if [ -n "$$dirs" ]; then $(VENV)/bin/mypy $$dirs || status=1; else echo "mypy: no Python code yet"; fi; \
	exit $$status

bench: $(VENV)/.synced ## run the benchmarks, write docs/benchmarks.md
	$(PY) -m bench

demo: $(VENV)/.synced ## start the stack, load a synthetic Foshan (SCALE=0.05), let the platform work, print the report against the paper, stop
	$(PY) -m infra.demo --scale $(or $(SCALE),0.05)

population: $(VENV)/.synced ## write the synthetic Foshan (seeded) to var/population; SCALE=0.1 for less
	$(PY) -m infra.population --seed 2026 --out var/population --scale $(or $(SCALE),1.0)

asyncapi: $(VENV)/.synced ## regenerate contracts/asyncapi.yaml from the contracts
	$(PY) -m contracts.asyncapi

clean: ## remove var/ (event stores, NATS store, logs); keeps the virtualenv
	rm -rf var

distclean: clean ## also remove the virtualenv and tool caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
