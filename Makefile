# Everything a new user or CI needs; uv is installed into .tools/ when it is not on PATH.
SHELL := /bin/bash
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# two workers (pytest-xdist), one a core, each with its own Mosquitto: about 6 minutes, not 11;
# PYTEST_ARGS="-n 0" runs the suite in one process
PYTEST_ARGS ?= -n 2

.PHONY: help demo test lint typecheck pytest bench broker-users image-check clean

help:
	@echo "make demo          the simulated household, live in the terminal (make demo SPEED=20)"
	@echo "                   a smart-tariff evening: make demo SCENARIO=dispatch"
	@echo "                   a sunny-then-cloudy day: make demo SCENARIO=solar"
	@echo "make test          lint, type check and the whole test suite (real Mosquitto)"
	@echo "make bench         latency, detection time, memory, reconnect, SmartEVSE feed, myenergi, Kraken API, dispatch, solar tracking, NRGKICK, SolarEdge and Kasa figures"
	@echo "make broker-users  create the Mosquitto users and passwords for docker compose"
	@echo "make image-check   build the image and run compose against the simulated devices"

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.synced: uv.lock pyproject.toml $(wildcard shared/pyproject.toml services/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages
	@touch $@

SCENARIO ?= home
demo: .venv/.synced
	$(UV) run wattbus demo --scenario $(SCENARIO) $(if $(SPEED),--speed $(SPEED))

lint: .venv/.synced
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: .venv/.synced
	$(UV) run mypy

pytest: .venv/.synced
	$(UV) run pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: .venv/.synced
	$(UV) run python bench/latency.py
	$(UV) run python bench/detection.py
	$(UV) run python bench/memory.py
	$(UV) run python bench/reconnect.py
	$(UV) run python bench/smartevse.py --readings 200 --rounds 3
	$(UV) run python bench/myenergi.py --commands 100
	$(UV) run python bench/kraken.py
	$(UV) run python bench/dispatch.py
	$(UV) run python bench/solar.py
	$(UV) run python bench/devices.py --commands 200 --polls 10
	$(UV) run python bench/notify_flapping.py

broker-users:
	scripts/broker-users

# Needs a container engine (Docker, or Podman's Docker API) with the compose plugin; not in `test`.
# IMAGE=<image>: check that image (a release, an arm64 build) instead of building one.
image-check: .venv/.synced
	IMAGE_CHECK_IMAGE=$(IMAGE) $(UV) run pytest -m container tests/deploy/test_containers.py

clean:
	rm -rf .venv .tools .pytest_cache .mypy_cache .ruff_cache
