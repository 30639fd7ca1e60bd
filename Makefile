# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Each installs what it needs into .venv in this checkout first.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

WHEELS := build/engine-wheels

.PHONY: install run test test-swarm lint format bench proto engine-wheels engine-image browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/galaxy run

# The engine image's dependencies as wheels, fetched with everything else at
# install time, so that building the image later needs no network.
$(WHEELS)/.stamp: docker/engine-requirements.txt $(STAMP)
	$(BIN)/python -m pip wheel --quiet -w $(WHEELS) -r docker/engine-requirements.txt
	cp docker/engine-requirements.txt $(WHEELS)/
	touch $@

engine-wheels: $(WHEELS)/.stamp

# The engine image, galaxy-engine:<galaxy's version>, the one a fresh engine
# registry registers: the galaxy wheel and the engine wheels installed offline
# on BASE, which must be on the Docker host (nothing is pulled); see
# docker/build-engine-image.sh. The tests build it this way.
BASE ?= galaxy-python-base:local

engine-image: engine-wheels
	BASE='$(BASE)' PYTHON='$(BIN)/python' WHEELS='$(WHEELS)' docker/build-engine-image.sh

# Debian's chromium and its driver, for the console's browser test (skipped without them).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	  echo "could not install chromium: the console's browser test will be skipped"

test: install engine-wheels browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(MAKE) -s test-swarm

# The swarm driver's tests run inside the swarm sandbox's network namespace (its engines
# listen on that namespace's loopback): `docker/swarm-sandbox start` first (.ci/run does).
SWARM_TESTS := tests/e2e/runtime/test_swarm_driver.py
test-swarm: install engine-wheels
	@if [ -S /tmp/galaxy-dockerd-swarm/docker.sock ] && [ -e /run/netns/galaxy-swarm ]; then \
	  docker/swarm-sandbox run $(BIN)/python -m pytest $(SWARM_TESTS); \
	else \
	  echo "no swarm sandbox (docker/swarm-sandbox start): the swarm driver's tests are skipped"; \
	fi

lint: install
	$(BIN)/ruff check galaxy tests bench
	$(BIN)/ruff format --check galaxy tests bench
	$(BIN)/mypy
	$(BIN)/mypy -p tests -p bench

format: install
	$(BIN)/ruff check --fix galaxy tests bench
	$(BIN)/ruff format galaxy tests bench

bench: install
	@command -v wrk >/dev/null || (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)) || echo "could not install wrk: HTTP benchmarks will be skipped"
	$(BIN)/python -m bench

# Regenerates the checked-in protobuf/grpclib code under galaxy/proto.
proto: install
	$(BIN)/python -m galaxy.proto_codegen

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
