"""Real daemons for the tests: a private Mosquitto and InfluxDB per test, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from server.config import InfluxSettings, ServerConfig
from server.influx import V1Writer
from server.ingest import Ingest


@pytest.fixture
def mosquitto() -> Iterator[LocalMosquitto]:
    with LocalMosquitto() as broker:
        yield broker


@pytest.fixture
def influxdb() -> Iterator[LocalInfluxDB]:
    with LocalInfluxDB() as database:
        yield database


@pytest.fixture
def ingest(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB) -> Iterator[Ingest]:
    """The server's ingest, subscribed (no alerts or advice): what reaches InfluxDB and how."""
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url), influx=InfluxSettings(url=influxdb.url)
    )
    server = Ingest(config, V1Writer(config.influx), client_id="t-ingest")
    server.start()
    assert server.subscribed.wait(10)
    yield server
    server.stop()


@pytest.fixture
def mock_pins() -> Iterator[MockFactory]:
    """gpiozero's simulated pins for this test, and the real factory back afterwards."""
    previous = Device.pin_factory
    Device.pin_factory = factory = MockFactory()
    yield factory
    factory.reset()
    Device.pin_factory = previous
