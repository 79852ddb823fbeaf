"""Nothing the station measures is lost: broker outages and a killed daemon, on a real Mosquitto."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from barbell.services import LocalMosquitto
from contract.config import MqttSettings
from contract.messages import HealthMessage, PathMessage, SetMessage
from edge.daemon import OUTBOX_FILE
from edge.outbox import Outbox, OutboxFull
from edge.publisher import Publisher
from tests.helpers import Listener, TcpProxy, wait_for


@pytest.fixture
def subscriber(mosquitto: LocalMosquitto) -> Iterator[Listener]:
    listener = Listener(mosquitto.url, "t-listener", "barbell/v1/+/+/#", persistent=True)
    yield listener
    listener.close()


@contextlib.contextmanager
def publishing(url: str, state: Path) -> Iterator[tuple[Publisher, Outbox]]:
    outbox = Outbox(state / OUTBOX_FILE)
    publisher = Publisher(MqttSettings(url=url), "g1", "bar1", outbox)
    publisher.start()
    try:
        yield publisher, outbox
    finally:
        publisher.stop()
        outbox.close()


def _set_message(i: int) -> SetMessage:
    return SetMessage(
        msg_id=f"g1/bar1/s1/s{i}/set",
        gym="g1",
        station="bar1",
        session_id="s1",
        lift="rdl",
        set_index=i,
        reps=5,
        t_start=10.0 * i,
        t_end=10.0 * i + 8,
    )


def test_a_broker_restart_mid_stream_loses_nothing(
    mosquitto: LocalMosquitto, subscriber: Listener, tmp_path: Path
) -> None:
    with publishing(mosquitto.url, tmp_path) as (publisher, outbox):
        for i in range(10):
            publisher.submit(_set_message(i))
        assert publisher.flush(10)
        mosquitto.stop()  # the gym's broker goes down mid-set
        for i in range(10, 25):
            publisher.submit(_set_message(i))
        assert outbox.depth == 15  # kept on disk, not lost
        mosquitto.start()
        assert publisher.flush(20)
        wait_for(lambda: len(set(subscriber.msg_ids)) == 25, timeout_s=30, what="every message")
    assert set(subscriber.msg_ids) == {_set_message(i).msg_id for i in range(25)}


def test_health_from_while_the_broker_was_away_is_dropped_not_queued(
    mosquitto: LocalMosquitto, subscriber: Listener, tmp_path: Path
) -> None:
    with publishing(mosquitto.url, tmp_path) as (publisher, _):
        publisher.submit(_set_message(0))
        assert publisher.flush(10)  # connected
        mosquitto.stop()
        time.sleep(0.5)  # the publisher hears of it
        for i in range(100):  # a long outage's reports
            publisher.publish_now(HealthMessage(gym="g1", station="bar1", t=float(i)))
        mosquitto.start()
        publisher.submit(_set_message(1))
        assert publisher.flush(20)
        wait_for(lambda: len(set(subscriber.msg_ids)) == 2, timeout_s=30, what="the set messages")
    assert subscriber.health == []


def test_a_killed_daemon_delivers_every_unacknowledged_rep_after_a_restart(tmp_path: Path) -> None:
    broker = LocalMosquitto()  # its port is chosen, but nothing listens there yet
    environment = {
        **os.environ,
        "BARBELL_MQTT_URL": broker.url,
        "BARBELL_STATE_DIR": str(tmp_path),
        "BARBELL_SIM_REALTIME": "false",
        "BARBELL_SIM_REPS": "4",
        "BARBELL_STATION_GYM": "g1",
        "BARBELL_STATION_ID": "bar1",
    }
    command = [sys.executable, "-m", "barbell.cli", "edge", "--sensor", "sim"]
    first = subprocess.Popen(command, env=environment, stderr=subprocess.DEVNULL)
    outbox_file = tmp_path / OUTBOX_FILE

    def waiting() -> list[str]:
        if not outbox_file.exists():
            return []
        with sqlite3.connect(outbox_file) as db:
            try:
                return [row[0] for row in db.execute("SELECT msg_id FROM outbox")]
            except sqlite3.OperationalError:  # the daemon has made the file, not yet its table
                return []

    try:
        wait_for(lambda: len(waiting()) == 9, what="4 reps, their paths and a set in the outbox")
        unacked = waiting()
        first.send_signal(signal.SIGKILL)  # a power cut, as far as the daemon knows
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    with broker:
        listener = Listener(broker.url, "t-after-restart", "barbell/v1/+/+/#")
        try:
            second = subprocess.run(
                command, env=environment, timeout=120, stderr=subprocess.DEVNULL
            )
            assert second.returncode == 0
            wait_for(lambda: set(unacked) <= set(listener.msg_ids), what="the first run's reps")
        finally:
            listener.close()
    assert not waiting()  # all acknowledged


def test_a_cut_connection_loses_nothing(
    mosquitto: LocalMosquitto, subscriber: Listener, tmp_path: Path
) -> None:
    proxy = TcpProxy(mosquitto.port)
    try:
        with publishing(f"mqtt://127.0.0.1:{proxy.port}", tmp_path) as (publisher, outbox):
            for i in range(5):
                publisher.submit(_set_message(i))
            assert publisher.flush(10)
            proxy.cut()
            for i in range(5, 20):
                publisher.submit(_set_message(i))
            time.sleep(3)  # a short outage: the same path as a long one, in less test time
            assert outbox.depth == 15
            proxy.restore()
            assert publisher.flush(30)
            wait_for(lambda: len(set(subscriber.msg_ids)) == 20, timeout_s=30, what="every message")
    finally:
        proxy.close()
    assert set(subscriber.msg_ids) == {_set_message(i).msg_id for i in range(20)}


def _path_message(i: int) -> PathMessage:
    return PathMessage(
        msg_id=f"g1/bar1/s1/s0/r{i}/path",
        gym="g1",
        station="bar1",
        session_id="s1",
        lift="rdl",
        set_index=0,
        rep_index=i,
        t_start=10.0 * i,
        t_s=[0.0, 0.02],
        height_m=[0.0, 0.01],
        ap_m=[0.0, 0.0],
        lateral_m=[0.0, 0.0],
        tilt_deg=[0.0, 0.0],
        velocity_mps=[0.0, 0.5],
    )


def test_bar_paths_fill_at_most_half_a_full_outbox_so_sets_and_reps_still_fit(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / OUTBOX_FILE, limit=4)
    publisher = Publisher(MqttSettings(url="mqtt://127.0.0.1:9"), "g1", "bar1", outbox)
    try:  # never started: the broker is away
        publisher.submit(_path_message(0))
        publisher.submit(_path_message(1))
        with pytest.raises(OutboxFull):
            publisher.submit(_path_message(2))
        publisher.submit(_set_message(0))
        publisher.submit(_set_message(1))
        assert outbox.depth == 4
        with pytest.raises(OutboxFull):
            publisher.submit(_set_message(2))
    finally:
        outbox.close()


def test_a_full_disk_is_an_outbox_that_cannot_keep_more_not_a_crash(tmp_path: Path) -> None:
    """SQLite's own page limit stands in for a full SD card: the same error reaches the outbox."""
    outbox = Outbox(tmp_path / OUTBOX_FILE)
    try:
        pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
        outbox._db.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(OutboxFull, match="database or disk is full"):
            for i in range(100):
                outbox.put(f"m{i}", "barbell/v1/g1/bar1/path", b"x" * 4000)
        kept = outbox.depth
        assert 0 < kept < 100
        outbox.acknowledge(outbox.pending(0, 1)[0].seq)  # room again once the broker acks
        outbox.put("after", "barbell/v1/g1/bar1/rep", b"{}")
        assert outbox.depth == kept
    finally:
        outbox.close()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB filesystem (tmpfs; the suite runs as root, as CI does): a full SD card."""
    mount = tmp_path / "card"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_card_still_lets_acknowledged_messages_go_and_new_ones_in(small_disk: Path) -> None:
    """Filled until not one more message fits, then every message acknowledged: deleting must
    not need space the card has not got (the outbox keeps a reserve, and its write-ahead log
    small), nor may the log hold on to what was freed: after a restart new reps are kept."""
    outbox = Outbox(small_disk / OUTBOX_FILE)
    with pytest.raises(OutboxFull):
        for i in range(1000):
            outbox.put(f"m{i}", "barbell/v1/g1/bar1/path", bytes([i % 251]) * 4000)
    for stored in outbox.pending(0, 1000):
        outbox.acknowledge(stored.seq)
    assert outbox.depth == 0
    outbox.close()
    outbox = Outbox(small_disk / OUTBOX_FILE)  # the station restarts
    try:
        assert outbox.depth == 0  # nothing acknowledged is sent again
        for i in range(5):
            outbox.put(f"rep{i}", "barbell/v1/g1/bar1/rep", b"x" * 2000)
        assert outbox.depth == 5
    finally:
        outbox.close()
