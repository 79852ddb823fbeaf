"""Real daemons for the tests: a private Mosquitto and InfluxDB per test, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from barbell.services import LocalInfluxDB, LocalMosquitto


@pytest.fixture
def mosquitto() -> Iterator[LocalMosquitto]:
    with LocalMosquitto() as broker:
        yield broker


@pytest.fixture
def influxdb() -> Iterator[LocalInfluxDB]:
    with LocalInfluxDB() as database:
        yield database


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    """gpiozero's simulated pins for this test, and the real factory back afterwards."""
    previous = Device.pin_factory
    Device.pin_factory = factory = MockFactory()
    yield factory
    factory.reset()
    Device.pin_factory = previous
