"""The server loses nothing: an InfluxDB outage, a SIGKILLed server, two servers sharing the
stream, and 200 stations at once, each on a real Mosquitto and a real InfluxDB."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract import topics
from contract.config import MqttSettings
from contract.messages import RepMessage, StatusMessage, encode
from contract.mqtt import connect, make_client
from edge.outbox import Outbox
from edge.publisher import UNHEARD_RETRY_S, Publisher
from server.ingest import Ingest
from tests.fleet import name
from tests.helpers import RECENT_S, Webhook, rows, wait_for


def rep(station: str, i: int) -> RepMessage:
    return RepMessage(
        msg_id=f"g1/{station}/s1/s0/r{i}",
        gym="g1",
        station=station,
        session_id="s1",
        lift="hip_thrust",
        athlete="ana",
        load_kg=100.0,
        set_index=0,
        rep_index=i,
        t_start=RECENT_S + 3 * i,
        t_concentric_start=RECENT_S + 1.0 + 3 * i,
        t_concentric_end=RECENT_S + 1.5 + 3 * i,
        t_end=RECENT_S + 2.5 + 3 * i,
        rom_m=0.3,
        mean_velocity_mps=0.5,
    )


class Sender:
    """A plain publisher standing in for a station, for streams the test paces itself."""

    def __init__(self, broker: LocalMosquitto, name: str) -> None:
        settings = MqttSettings(url=broker.url)
        self.client = make_client(settings, name)
        connect(self.client, settings, clean_start=True)
        wait_for(self.client.is_connected, what="the station's connection")

    def send(self, message: RepMessage) -> None:
        topic = topics.topic(message.gym, message.station, "rep")
        self.client.publish(topic, encode(message), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored_ids(influxdb: LocalInfluxDB) -> list[str]:
    return [row["msg_id"] for row in rows(influxdb, 'SELECT "msg_id" FROM "rep"')]


@pytest.fixture
def station(mosquitto: LocalMosquitto) -> Iterator[Sender]:
    publisher = Sender(mosquitto, "t-station")
    yield publisher
    publisher.close()


def test_an_influxdb_outage_mid_stream_loses_nothing_and_stores_each_rep_once(
    ingest: Ingest, influxdb: LocalInfluxDB, station: Sender
) -> None:
    for i in range(40):
        station.send(rep("bar1", i))
    wait_for(lambda: ingest.stored == 40, what="the first reps")
    influxdb.stop()
    for i in range(40, 120):  # sent while InfluxDB is down
        station.send(rep("bar1", i))
    influxdb.start()
    wait_for(lambda: ingest.stored == 120, what="every rep after the outage")
    ids = stored_ids(influxdb)
    assert sorted(ids) == sorted(rep("bar1", i).msg_id for i in range(120))


def test_a_missing_database_holds_the_stream_until_someone_creates_it(
    ingest: Ingest,
    influxdb: LocalInfluxDB,
    station: Sender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database dropped or not yet made is the server's fault, not the reps': none is
    dead-lettered, and all are stored once it exists."""
    influxdb.query(f'DROP DATABASE "{influxdb.database}"')
    for i in range(5):
        station.send(rep("bar1", i))
    wait_for(lambda: "holding messages" in caplog.text, what="the writes held")
    assert "database not found" in caplog.text
    influxdb.query(f'CREATE DATABASE "{influxdb.database}"')
    wait_for(lambda: ingest.stored == 5, what="every rep once the database exists")
    assert ingest.dead == 0
    assert sorted(stored_ids(influxdb)) == sorted(rep("bar1", i).msg_id for i in range(5))


def test_an_offline_status_that_cannot_be_placed_is_stored_as_it_arrived(
    ingest: Ingest,
    influxdb: LocalInfluxDB,
    station: Sender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the database gone, the station's statuses cannot be read to place a will in time
    (InfluxDB answers the query with an error, not an outage): it is stamped on arrival, and
    held like any write until the database exists."""
    influxdb.query(f'DROP DATABASE "{influxdb.database}"')
    will = StatusMessage(state="offline", version="0.1.0", since=RECENT_S, gym="g1", station="bar1")
    station.client.publish(
        topics.topic("g1", "bar1", "status"), encode(will), qos=1
    ).wait_for_publish(10)
    station.send(rep("bar1", 0))
    wait_for(lambda: "holding messages" in caplog.text, what="the writes held")
    assert "stamped on arrival" in caplog.text
    influxdb.query(f'CREATE DATABASE "{influxdb.database}"')
    wait_for(lambda: ingest.stored == 2, what="the will and the rep, once the database exists")
    [stored] = rows(influxdb, 'SELECT "state", "reported_since" FROM "station_health"')
    assert (stored["state"], stored["reported_since"]) == ("offline", RECENT_S)


class ServerProcess:
    """`barbell server` as a gym runs it, logging to a file the test reads."""

    def __init__(
        self, broker: LocalMosquitto, database: LocalInfluxDB, name: str, **settings: str
    ) -> None:
        """`settings`: more BARBELL_… variables."""
        environment = dict(
            os.environ,
            BARBELL_MQTT_URL=broker.url,
            BARBELL_MQTT_CLIENT_ID=name,
            BARBELL_INFLUX_URL=database.url,
            BARBELL_INFLUX_DATABASE=database.database,
            **settings,
        )
        self.log = broker.dir / f"{name}.log"
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "barbell.cli", "server"], env=environment, stderr=log
            )
        wait_for(lambda: "subscribed" in self.log.read_text(), what=f"{name} subscribed")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM it, and return its own count of the messages it stored since it started."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        counts = re.findall(r"stored (\d+) messages", self.log.read_text())
        assert counts, self.log.read_text()
        return int(counts[-1])


def test_a_server_killed_mid_batch_loses_nothing(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, station: Sender
) -> None:
    server = ServerProcess(mosquitto, influxdb, "t-server-kill")
    try:
        for i in range(30):
            station.send(rep("bar2", i))
        wait_for(lambda: len(stored_ids(influxdb)) == 30, what="the first reps")
        # With InfluxDB gone, the server holds the next batch unacknowledged; then it is killed.
        influxdb.stop()
        for i in range(30, 80):
            station.send(rep("bar2", i))
        server.kill()
        for i in range(80, 100):  # and these arrive while no server runs at all
            station.send(rep("bar2", i))
        influxdb.start()
        server = ServerProcess(mosquitto, influxdb, "t-server-kill")
        wait_for(lambda: len(stored_ids(influxdb)) == 100, what="every rep", timeout_s=30)
    finally:
        server.stop()
    assert sorted(stored_ids(influxdb)) == sorted(rep("bar2", i).msg_id for i in range(100))


def test_reps_sent_after_a_broker_restart_before_a_server_is_back_are_stored(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    """Mosquitto 2.0 does not restore a shared subscription when it restarts: until the server
    subscribes again, a rep matches no one and the broker drops it, saying so in its PUBACK.
    The station keeps such a rep and sends it again until someone hears it."""
    server = ServerProcess(mosquitto, influxdb, "t-server-gap")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    station = Publisher(MqttSettings(url=mosquitto.url), "g1", "bar3", outbox)
    station.start()
    try:
        for i in range(5):
            station.submit(rep("bar3", i))
        wait_for(lambda: len(stored_ids(influxdb)) == 5, what="the first reps")
        server.stop()
        mosquitto.stop()
        mosquitto.start()
        for i in range(5, 15):  # no server has subscribed since the restart
            station.submit(rep("bar3", i))
        time.sleep(3 * UNHEARD_RETRY_S)
        assert outbox.depth == 10  # taken by the broker, heard by no one: kept
        server.log.write_text("")  # so the new start's "subscribed" is what is waited for
        server = ServerProcess(mosquitto, influxdb, "t-server-gap")
        wait_for(lambda: len(stored_ids(influxdb)) == 15, what="every rep", timeout_s=30)
        wait_for(lambda: outbox.depth == 0, what="the outbox emptied")
    finally:
        station.stop()
        outbox.close()
        server.stop()
    assert sorted(stored_ids(influxdb)) == sorted(rep("bar3", i).msg_id for i in range(15))


def test_a_server_killed_with_alert_pushes_queued_sends_them_when_it_is_back(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, station: Sender
) -> None:
    """Every rep raises an alert (a 40 % velocity loss, no cooldown); a slow notifier keeps
    most pushes queued in memory when the server is killed. Back, it sends what it owed."""
    hook = Webhook(delay_s=0.2)
    alerting = {
        "BARBELL_ALERTS_URLS": hook.url,
        "BARBELL_ALERTS_COOLDOWN_S": "0",
        "BARBELL_ALERTS_PUSH_WITHIN_S": "86400",  # the reps are stamped nearly a day ago
    }
    server = ServerProcess(mosquitto, influxdb, "t-server-pushes", **alerting)
    try:
        for i in range(10):
            message = rep("bar1", i)
            message.velocity_loss_pct = 40.0
            station.send(message)
        wait_for(lambda: len(stored_ids(influxdb)) == 10, what="every rep stored")
        server.kill()
        assert len(hook.bodies) < 10  # some were still queued
        server = ServerProcess(mosquitto, influxdb, "t-server-pushes", **alerting)
        wait_for(lambda: len(hook.bodies) >= 10, what="every alert pushed", timeout_s=30)
    finally:
        server.stop()
        hook.close()
    alerts = rows(influxdb, 'SELECT "message" FROM "alert" WHERE "pushed" = false')
    assert alerts == []


def test_two_servers_on_the_shared_subscription_store_each_rep_exactly_once(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, station: Sender
) -> None:
    servers = [ServerProcess(mosquitto, influxdb, f"t-server-{n}") for n in range(2)]
    counts: list[int] = []
    try:
        for i in range(400):
            station.send(rep(f"bar{i % 8}", i))
        wait_for(lambda: len(stored_ids(influxdb)) == 400, what="every rep")
    finally:
        counts = [server.stop() for server in servers]
    assert sum(counts) == 400  # nobody stored a rep the other had
    assert min(counts) > 0  # and both took a share


def test_two_hundred_stations_at_once_have_every_rep_stored(
    ingest: Ingest, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    fleets = [  # 4 processes of 50 stations, all sending at once
        subprocess.Popen(
            [sys.executable, "-m", "tests.fleet", mosquitto.url, str(first), "50", tmp_path]
        )
        for first in range(0, 200, 50)
    ]
    assert [fleet.wait(120) for fleet in fleets] == [0] * 4  # each broker-acknowledged
    wait_for(lambda: len(stored_ids(influxdb)) == 200 * 5, timeout_s=60, what="every rep")
    per_station = rows(influxdb, 'SELECT count("rom_m") FROM "rep" GROUP BY "station"')
    assert sorted(row["station"] for row in per_station) == [name(n) for n in range(200)]
    assert {row["count"] for row in per_station} == {5}
    sets = rows(influxdb, 'SELECT count("reps") FROM "set" GROUP BY "station"')
    assert len(sets) == 200 and {row["count"] for row in sets} == {1}


def test_a_server_stopped_beside_another_hands_its_share_back(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, station: Sender
) -> None:
    """Scaling down: the broker would keep queueing every other message for a stopped server's
    persistent session, to be lost when it expires. Stopped beside another server, it settles
    what it holds and ends its session, and the other takes every message."""
    staying = ServerProcess(mosquitto, influxdb, "t-server-1")
    leaving = ServerProcess(mosquitto, influxdb, "t-server-2")
    try:
        for i in range(20):
            station.send(rep("bar1", i))
        leaving.stop()  # while some of its share may still be in flight
        for i in range(20, 40):
            station.send(rep("bar1", i))
        wait_for(lambda: len(stored_ids(influxdb)) == 40, what="every rep, with one server")
    finally:
        staying.stop()
    assert "handed this server's share" in leaving.log.read_text()
    assert sorted(stored_ids(influxdb)) == sorted(rep("bar1", i).msg_id for i in range(40))


def test_servers_stopped_together_keep_a_session_that_holds_the_stream(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, station: Sender
) -> None:
    """Both may not leave at once: the last server keeps its session, so what comes while
    none runs waits for them, as a lone server's restart needs."""
    servers = [ServerProcess(mosquitto, influxdb, f"t-server-{n}") for n in range(2)]
    for server in servers:
        server.process.send_signal(signal.SIGTERM)
    for server in servers:
        server.stop()
    left = sum("handed this server's share" in server.log.read_text() for server in servers)
    assert left <= 1
    for i in range(20):
        station.send(rep("bar1", i))
    servers = [ServerProcess(mosquitto, influxdb, f"t-server-{n}") for n in range(2)]
    try:
        wait_for(lambda: len(stored_ids(influxdb)) == 20, what="every rep sent while none ran")
    finally:
        for server in servers:
            server.stop()
    assert sorted(stored_ids(influxdb)) == sorted(rep("bar1", i).msg_id for i in range(20))
