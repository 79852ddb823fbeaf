"""Real daemons for the tests: a private Mosquitto and InfluxDB per test, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto


@pytest.fixture
def mosquitto() -> Iterator[LocalMosquitto]:
    with LocalMosquitto() as broker:
        yield broker


@pytest.fixture
def influxdb() -> Iterator[LocalInfluxDB]:
    with LocalInfluxDB() as database:
        yield database
