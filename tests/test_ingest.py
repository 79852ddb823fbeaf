"""The server's ingest on a real broker and database: bad payloads go to dead letters, and the
good stream around them is stored in full."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract import topics
from contract.config import MqttSettings
from contract.messages import RepMessage, encode
from contract.mqtt import connect, make_client
from server.config import InfluxSettings, ServerConfig
from server.influx import V1Writer
from server.ingest import Ingest
from tests.helpers import rows, wait_for


@pytest.fixture
def ingest(mosquitto: LocalMosquitto, influxdb: LocalInfluxDB) -> Iterator[Ingest]:
    config = ServerConfig(
        mqtt=MqttSettings(url=mosquitto.url), influx=InfluxSettings(url=influxdb.url)
    )
    server = Ingest(config, V1Writer(config.influx), client_id="t-ingest")
    server.start()
    yield server
    server.stop()


def _client(broker: LocalMosquitto, name: str) -> mqtt.Client:
    client = make_client(MqttSettings(url=broker.url), name)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    connect(client, MqttSettings(url=broker.url), clean_start=True)
    assert connected.wait(10)
    return client


def _rep(i: int) -> bytes:
    return encode(
        RepMessage(
            msg_id=f"m{i}",
            gym="g1",
            station="bar1",
            session_id="s1",
            lift="rdl",
            set_index=0,
            rep_index=i,
            t_start=100.0 + 4 * i,
            t_concentric_start=101.0 + 4 * i,
            t_concentric_end=101.8 + 4 * i,
            t_end=102.0 + 4 * i,
            rom_m=0.4,
        )
    )


def test_bad_payloads_are_dead_lettered_and_good_ones_stored(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB
) -> None:
    dead: list[dict[str, object]] = []
    watcher = _client(mosquitto, "t-dead")
    watcher.on_message = lambda c, u, m: dead.append(json.loads(m.payload))
    watcher.subscribe(f"{topics.DEAD_LETTERS}/#", qos=1)
    station = _client(mosquitto, "t-station")
    rep_topic = topics.topic("g1", "bar1", "rep")
    bad = [
        b"not json",
        b'{"schema": "barbell.rep/2"}',
        b"[]",
        json.dumps({"schema": "barbell.rep/1"}).encode(),
    ]
    for i, payload in enumerate(bad):
        station.publish(rep_topic, _rep(i), qos=1).wait_for_publish(5)
        station.publish(rep_topic, payload, qos=1).wait_for_publish(5)

    wait_for(lambda: len(dead) == len(bad), what="dead letters")
    wait_for(lambda: ingest.stored == len(bad), what="good reps stored")
    assert [d["payload"] for d in dead] == [p.decode() for p in bad]
    assert all(d["topic"] == rep_topic and d["reason"] for d in dead)
    assert len(rows(influxdb, 'SELECT * FROM "rep"')) == len(bad)
    for client in (watcher, station):
        client.disconnect()
        client.loop_stop()
