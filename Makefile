# `make demo` and `make test` do all the set-up on a fresh Debian machine: the venv, the package,
# and Mosquitto and InfluxDB from Debian's packages (their daemons are started by the demo and the
# tests themselves, each on a free port in a temp dir, never as system services).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVICES := mosquitto influxd
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint services venv clean

demo: venv services
	$(BIN)/barbell demo

test: venv services
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# Not root? The recipe uses sudo; without sudo, ask an administrator for:
#   apt-get install mosquitto influxdb
services:
	@missing=""; \
	for cmd in $(SERVICES); do command -v $$cmd >/dev/null || [ -x /usr/sbin/$$cmd ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Mosquitto and InfluxDB from Debian's packages"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends mosquitto influxdb; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
