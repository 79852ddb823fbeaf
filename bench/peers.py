"""Ingest beside its peers: `barbell server` and the bridges a user would pick instead, each on a
private Mosquitto and InfluxDB 1.6 of its own, fed the same rep messages by the same publisher.

    .venv/bin/python bench/peers.py [--messages 5000] [--latency 100] [--restart 1000]

For each it prints the messages stored per second (published as fast as a QoS 1 publisher can,
clocked from the first publish to the last point queryable), the latency from a publish to its
point being queryable (one message at a time, p50 and p95), and what was lost or stored twice
when the broker restarts in the middle of a steady stream (the publisher keeps its session and
resends, as a station does: the restart's stream is sent by the station's own publisher and
outbox). Our figures are also given as ratios to the best peer.

The peers are installed here, under bench/.peers (never by `make test`), and configured as their
documentation says for this job:
- mqtt2influxdb 1.5.2 (PyPI, HARDWARIO), in a venv of its own with the paho-mqtt 1.x it was
  written for: one point per message, fields and tags picked by JSONPath.
- Node-RED 4.1.8 with node-red-contrib-influxdb 0.7.0 (npm, a folder of its own): an `mqtt in`
  node at QoS 1 on a persistent session, a function node that makes [fields, tags], and an
  `influxdb out` node.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from ingest import STATIONS, rep  # bench/ingest.py: run as a script, this folder is on the path

from barbell.services import LocalInfluxDB, LocalMosquitto, free_port
from contract import topics
from contract.config import MqttSettings
from contract.messages import encode
from contract.mqtt import connect, make_client
from edge.outbox import Outbox
from edge.publisher import Publisher as StationPublisher

PEERS = Path(__file__).resolve().parent / ".peers"
TAGS = ("gym", "station", "athlete", "lift")
FIELDS = (
    "msg_id", "session_id", "set_index", "rep_index", "t_start", "t_concentric_start",
    "t_end", "rom_m", "mean_velocity_mps", "peak_velocity_mps", "mean_propulsive_velocity_mps",
    "concentric_s", "eccentric_s", "lockout_hold_s", "tilt_max_deg", "drift_ap_m",
    "drift_lateral_m", "peak_power_w", "velocity_loss_pct",
)  # fmt: skip
REP_TOPIC = f"{topics.ROOT}/+/+/rep"
SETTLE_S = 15.0  # a count that has not moved for this long is final


# Installing and starting each contender.


def install_mqtt2influxdb() -> Path:
    venv = PEERS / "mqtt2influxdb"
    program = venv / "bin" / "mqtt2influxdb"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        subprocess.run([*pip, "mqtt2influxdb==1.5.2", "paho-mqtt<2"], check=True)
    return program


def install_node_red() -> Path:
    folder = PEERS / "node-red"
    program = folder / "node_modules" / ".bin" / "node-red"
    if not program.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
             "node-red@4.1.8", "node-red-contrib-influxdb@0.7.0"],
            cwd=folder, check=True,
        )  # fmt: skip
    return program


def ours(broker: LocalMosquitto, influx: LocalInfluxDB) -> subprocess.Popen[bytes]:
    environment = dict(
        os.environ,
        BARBELL_MQTT_URL=broker.url,
        BARBELL_MQTT_CLIENT_ID="bench-server",
        BARBELL_INFLUX_URL=influx.url,
    )
    command = [sys.executable, "-m", "barbell.cli", "server"]
    return _started(command, broker.dir / "server.log", environment)


def mqtt2influxdb(broker: LocalMosquitto, influx: LocalInfluxDB) -> subprocess.Popen[bytes]:
    config = broker.dir / "mqtt2influxdb.yaml"
    point = {
        "measurement": "rep",
        "topic": REP_TOPIC,
        "fields": {name: f"$.payload.{name}" for name in FIELDS},
        "tags": {name: f"$.payload.{name}" for name in TAGS},
    }
    document = {
        "mqtt": {"host": "127.0.0.1", "port": broker.port},
        "influxdb": {"host": "127.0.0.1", "port": influx.port, "database": influx.database},
        "points": [point],
    }
    config.write_text(json.dumps(document))  # YAML is a superset of JSON
    command = [str(install_mqtt2influxdb()), "-c", str(config)]
    return _started(command, broker.dir / "mqtt2influxdb.log")


def node_red(broker: LocalMosquitto, influx: LocalInfluxDB) -> subprocess.Popen[bytes]:
    program = install_node_red()
    user_dir = broker.dir / "node-red"
    user_dir.mkdir()
    (user_dir / "node_modules").symlink_to(program.parent.parent)  # where the nodes are
    mapping = (
        "const p = msg.payload;\n"
        f"const fields = {{}}; for (const k of {json.dumps(FIELDS)}) "
        "if (p[k] !== null && p[k] !== undefined) fields[k] = p[k];\n"
        f"const tags = {{}}; for (const k of {json.dumps(TAGS)}) tags[k] = p[k];\n"
        "msg.payload = [fields, tags];\nreturn msg;"
    )
    flows = [
        {"id": "tab", "type": "tab", "label": "barbell"},
        {"id": "broker", "type": "mqtt-broker", "broker": "127.0.0.1", "port": str(broker.port),
         "clientid": "bench-node-red", "autoConnect": True, "usetls": False,
         "protocolVersion": "4", "keepalive": "60", "cleansession": False},
        {"id": "in", "type": "mqtt in", "z": "tab", "topic": REP_TOPIC, "qos": "1",
         "datatype": "json", "broker": "broker", "inputs": 0, "wires": [["map"]]},
        {"id": "map", "type": "function", "z": "tab", "func": mapping, "outputs": 1,
         "wires": [["out"]]},
        {"id": "db", "type": "influxdb", "hostname": "127.0.0.1", "port": str(influx.port),
         "protocol": "http", "database": influx.database, "influxdbVersion": "1.x",
         "usetls": False},
        {"id": "out", "type": "influxdb out", "z": "tab", "influxdb": "db", "measurement": "rep",
         "precision": "", "retentionPolicy": "", "wires": []},
    ]  # fmt: skip
    (user_dir / "flows.json").write_text(json.dumps(flows))
    command = [str(program), "--userDir", str(user_dir), "--port", str(free_port()), "flows.json"]
    return _started(command, broker.dir / "node-red.log")


def _started(
    command: list[str], log: Path, environment: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=environment
    )


Contender = Callable[[LocalMosquitto, LocalInfluxDB], subprocess.Popen[bytes]]
CONTENDERS: dict[str, Contender] = {
    "barbell server": ours,
    "mqtt2influxdb 1.5.2": mqtt2influxdb,
    "Node-RED 4.1.8": node_red,
}


# Publishing and counting.


class Publisher:
    """A station's publisher: QoS 1 on a persistent session, so what the broker had not
    acknowledged is sent again when it comes back."""

    def __init__(self, broker: LocalMosquitto) -> None:
        self.settings = MqttSettings(url=broker.url)
        self.client = make_client(self.settings, "bench-publisher")
        self.client.max_queued_messages_set(0)
        connect(self.client, self.settings)
        while not self.client.is_connected():
            time.sleep(0.01)
        self.sent = 0

    def send(self, count: int, per_s: float | None = None) -> None:
        started = time.monotonic()
        for _ in range(count):
            message = rep(self.sent)
            self.client.publish(topics.topic("g1", message.station, "rep"), encode(message), 1)
            self.sent += 1
            if per_s is not None:
                time.sleep(max(0.0, started + (self.sent / per_s) - time.monotonic()))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(influx: LocalInfluxDB) -> tuple[int, int]:
    """Rep points stored, and distinct messages among them."""
    query = 'SELECT count("msg_id"), count(distinct("msg_id")) FROM "rep"'
    try:
        series = influx.query(query)["results"][0].get("series")
    except OSError:
        return 0, 0
    return (int(series[0]["values"][0][1]), int(series[0]["values"][0][2])) if series else (0, 0)


def wait_for(influx: LocalInfluxDB, wanted: int, timeout_s: float) -> tuple[int, int]:
    """Poll until `wanted` points are stored, or the count stops moving; the last count."""
    deadline, last, since = time.monotonic() + timeout_s, (-1, -1), time.monotonic()
    while time.monotonic() < deadline:
        count = stored(influx)
        if count[0] >= wanted:
            return count
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since > SETTLE_S:
            break
        time.sleep(0.005)
    return last


# The three measurements, each on a fresh broker and database.


def throughput(contender: Contender, messages: int) -> tuple[float, int]:
    """Messages stored per second, and how many of `messages` were stored."""
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        process, publisher = ready(contender, broker, influx)
        try:
            base = stored(influx)[0]
            started = time.monotonic()
            threading.Thread(target=publisher.send, args=(messages,), daemon=True).start()
            count = wait_for(influx, base + messages, timeout_s=600)[0] - base
            took = time.monotonic() - started - (SETTLE_S if count < messages else 0.0)
            return count / took, count
        finally:
            publisher.close()
            process.terminate()
            process.wait(30)


def latency(contender: Contender, messages: int) -> list[float]:
    """Seconds from each publish to its point being queryable, one message at a time."""
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        process, publisher = ready(contender, broker, influx)
        took = []
        try:
            for _ in range(messages):
                before = stored(influx)[0]
                sent = time.monotonic()
                publisher.send(1)
                if wait_for(influx, before + 1, timeout_s=10)[0] > before:
                    took.append(time.monotonic() - sent)
            return took
        finally:
            publisher.close()
            process.terminate()
            process.wait(30)


def across_restart(contender: Contender, messages: int) -> tuple[int, int]:
    """Messages lost and stored twice when the broker restarts a third of the way into a
    steady stream of `messages` at 200 a second, down for 2 s. They are sent by the station's
    own publisher and outbox (edge/publisher.py), as a gym's would be."""
    with (
        LocalMosquitto() as broker,
        LocalInfluxDB() as influx,
        tempfile.TemporaryDirectory() as state,
    ):
        process, warm_up = ready(contender, broker, influx)
        warm_up.close()
        outbox = Outbox(Path(state) / "outbox.sqlite")
        station = StationPublisher(MqttSettings(url=broker.url), "g1", "bar00", outbox)
        station.start()
        try:
            base = stored(influx)
            sending = threading.Thread(target=_submit, args=(station, messages, 200.0))
            sending.start()
            time.sleep(messages / 200.0 / 3)
            broker.stop()
            time.sleep(2.0)
            broker.start()
            sending.join()
            rows, distinct = wait_for(influx, base[0] + messages, timeout_s=300)
            rows, distinct = rows - base[0], distinct - base[1]
            return messages - distinct, rows - distinct
        finally:
            station.stop()
            outbox.close()
            process.terminate()
            process.wait(30)


def _submit(station: StationPublisher, count: int, per_s: float) -> None:
    """Reps of station bar00 (ids apart from the warm-up's), at `per_s`."""
    started = time.monotonic()
    for k in range(count):
        message = rep(STATIONS * k)
        station.submit(msgspec.structs.replace(message, msg_id=f"{message.msg_id}/restart"))
        time.sleep(max(0.0, started + (k + 1) / per_s - time.monotonic()))


def ready(
    contender: Contender, broker: LocalMosquitto, influx: LocalInfluxDB
) -> tuple[subprocess.Popen[bytes], Publisher]:
    """The contender started and storing: a first message is sent until it is stored."""
    process = contender(broker, influx)
    publisher = Publisher(broker)
    deadline = time.monotonic() + 120
    while stored(influx)[0] == 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()
            publisher.close()
            logs = [log.read_text()[-600:] for log in broker.dir.glob("*.log")]
            raise RuntimeError(f"{contender.__name__} did not start: {logs}")
        publisher.send(1)
        time.sleep(1.0)
    return process, publisher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--restart", type=int, default=1000)
    parser.add_argument("--only", choices=list(CONTENDERS), action="append")
    args = parser.parse_args()
    print(f"host: {os.cpu_count()} cores; Mosquitto 2.0 and InfluxDB 1.6 on loopback")
    figures: dict[str, tuple[float, float, float, int, int]] = {}
    for name in args.only or CONTENDERS:
        contender = CONTENDERS[name]
        rate, count = throughput(contender, args.messages)
        took = sorted(latency(contender, args.latency))
        p50, p95 = statistics.median(took), took[int(0.95 * (len(took) - 1))]
        lost, twice = across_restart(contender, args.restart)
        figures[name] = (rate, p50, p95, lost, twice)
        print(
            f"{name:<22} {rate:8.0f} messages/s ({count} of {args.messages} stored)  "
            f"latency p50 {1000 * p50:6.1f} ms, p95 {1000 * p95:6.1f} ms  "
            f"broker restart: {lost} lost, {twice} stored twice (of {args.restart})"
        )
    ours_name = "barbell server"
    peers = {name: f for name, f in figures.items() if name != ours_name}
    if ours_name in figures and peers:
        rate, p50, p95, _, _ = figures[ours_name]
        best_rate = max(f[0] for f in peers.values())
        best_p95 = min(f[2] for f in peers.values())
        print(
            f"ours against the best peer: {rate / best_rate:.2f} times the messages/s, "
            f"p95 latency {p95 / best_p95:.2f} times"
        )


if __name__ == "__main__":
    main()
