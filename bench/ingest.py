"""Server ingest throughput into a real InfluxDB 1.6, with 1 and 2 `barbell server` processes on
the shared subscription, and coach-alert latency on loopback.

Throughput: the servers subscribe, stop, and the broker queues MESSAGES rep messages for their
persistent sessions; then they start again and the clock runs until InfluxDB holds every rep.
So the figure is the servers' own rate (broker → validation → InfluxDB → ack), not the
publisher's. Latency: from a faulty rep's publish to its alert on `…/alert`.

    .venv/bin/python bench/ingest.py [--messages 30000] [--alerts 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract import topics
from contract.config import MqttSettings
from contract.messages import Fault, PathMessage, RepMessage, encode
from contract.mqtt import connect, make_client
from server.alerts import AlertSettings
from server.app import run_server
from server.config import InfluxSettings, ServerConfig

STATIONS = 50
T0 = time.time() - 2 * 86400.0  # lifted lately: the server refuses stale or future stamps


def rep(n: int, faulty: bool = False) -> RepMessage:
    station = f"bar{n % STATIONS:02d}"
    t = T0 + 0.1 * n
    return RepMessage(
        msg_id=f"g1/{station}/s1/s0/r{n}",
        gym="g1",
        station=station,
        session_id="s1",
        lift="hip_thrust",
        athlete=f"athlete{n % STATIONS}",
        load_kg=100.0,
        set_index=0,
        rep_index=n,
        t_start=t,
        t_concentric_start=t + 0.5,
        t_concentric_end=t + 1.2,
        t_end=t + 2.0,
        rom_m=0.3,
        mean_velocity_mps=0.55,
        peak_velocity_mps=0.9,
        mean_propulsive_velocity_mps=0.6,
        concentric_s=0.7,
        eccentric_s=0.8,
        lockout_hold_s=0.6,
        tilt_max_deg=1.0,
        drift_ap_m=0.02,
        drift_lateral_m=0.005,
        peak_power_w=900.0,
        velocity_loss_pct=5.0,
        faults=[Fault("bar_tilt", "critical", 9.0, 3.0)] if faulty else [],
        fault_streaks={"bar_tilt": 1} if faulty else {},
    )


def path(message: RepMessage, samples: int = 100) -> PathMessage:
    """A 2 s rep's path at 50 Hz, as the edge sends one after each rep."""
    t = [i * 0.02 for i in range(samples)]
    return PathMessage(
        msg_id=f"{message.msg_id}/path",
        gym=message.gym,
        station=message.station,
        session_id=message.session_id,
        lift=message.lift,
        athlete=message.athlete,
        set_index=message.set_index,
        rep_index=message.rep_index,
        t_start=message.t_start,
        t_s=t,
        height_m=[0.3 * x / t[-1] for x in t],
        ap_m=[0.01] * samples,
        lateral_m=[0.002] * samples,
        tilt_deg=[0.5] * samples,
        velocity_mps=[0.5] * samples,
    )


def publish_all(url: str, payloads: list[tuple[str, bytes]]) -> None:
    settings = MqttSettings(url=url)
    client = make_client(settings, "bench-publisher")
    connect(client, settings, clean_start=True)
    while not client.is_connected():
        time.sleep(0.01)
    info = None
    for topic, payload in payloads:
        info = client.publish(topic, payload, qos=1)
    if info is not None:
        info.wait_for_publish(300)
    client.disconnect()
    client.loop_stop()


def count_reps(influx: LocalInfluxDB) -> int:
    result = influx.query('SELECT count("rom_m") FROM "rep"')["results"][0]
    series = result.get("series")
    return int(series[0]["values"][0][1]) if series else 0


def servers(broker: LocalMosquitto, influx: LocalInfluxDB, n: int) -> list[subprocess.Popen]:
    started = []
    for i in range(n):
        environment = dict(
            os.environ,
            BARBELL_MQTT_URL=broker.url,
            BARBELL_MQTT_CLIENT_ID=f"bench-server-{i}",
            BARBELL_INFLUX_URL=influx.url,
            BARBELL_ALERTS_COOLDOWN_S="0",
        )
        log = (broker.dir / f"server-{i}.log").open("a")
        command = [sys.executable, "-m", "barbell.cli", "server"]
        started.append(subprocess.Popen(command, env=environment, stderr=log))
    for i in range(n):  # subscribed: the log says so
        log_file = broker.dir / f"server-{i}.log"
        while log_file.read_text().count("subscribed") < 1:
            time.sleep(0.05)
    return started


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(60)


def cpu_s(pid: int | None) -> float:
    """CPU time a process has used so far."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(n_servers: int, messages: int, paths: bool = False) -> float:
    """Reps per second stored by `n_servers` processes together (each with its path message
    if `paths`); prints where the CPU went, since broker, database and servers share this
    machine's cores."""
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        stop(servers(broker, influx, n_servers))  # their sessions now hold the subscription
        reps = [rep(n) for n in range(messages)]
        payloads = [(topics.topic("g1", r.station, "rep"), encode(r)) for r in reps]
        if paths:  # each rep followed by its path, as a station sends them
            payloads = [
                item
                for r, sent in zip(reps, payloads, strict=True)
                for item in (sent, (topics.topic("g1", r.station, "path"), encode(path(r))))
            ]
        publish_all(broker.url, payloads)
        for i in range(n_servers):  # so the next "subscribed" wait sees the new start
            (broker.dir / f"server-{i}.log").write_text("")
        running = servers(broker, influx, n_servers)
        # The clock starts at the first stored rep, so the servers' start-up is not counted.
        while (first := count_reps(influx)) == 0:
            time.sleep(0.01)
        daemons = {"mosquitto": broker.pid, "influxd": influx.pid}
        daemons |= {f"server {i}": p.pid for i, p in enumerate(running)}
        before = {name: cpu_s(pid) for name, pid in daemons.items()}
        started = time.monotonic()
        while count_reps(influx) < messages:
            time.sleep(0.05)
        took = time.monotonic() - started
        used = {name: cpu_s(pid) - before[name] for name, pid in daemons.items()}
        stop(running)
        shares = ", ".join(f"{name} {seconds / took:.0%}" for name, seconds in used.items())
        print(f"  CPU over {took:.1f} s, as a share of one core: {shares}")
        return (messages - first) / took


def alert_latency(alerts: int) -> list[float]:
    """Seconds from a faulty rep's publish to its alert's arrival, one at a time."""
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        config = ServerConfig(
            mqtt=MqttSettings(url=broker.url, client_id="bench-alerts"),
            influx=InfluxSettings(url=influx.url),
            alerts=AlertSettings(cooldown_s=0),
        )
        halt = threading.Event()
        server = threading.Thread(target=run_server, args=(config, halt))
        server.start()
        arrived = threading.Event()
        settings = MqttSettings(url=broker.url)
        coach = make_client(settings, "bench-coach")
        coach.on_connect = lambda client, *a: client.subscribe(f"{topics.ROOT}/+/+/alert", qos=1)
        coach.on_message = lambda *a: arrived.set()
        connect(coach, settings, clean_start=True)
        station = make_client(settings, "bench-station")
        connect(station, settings, clean_start=True)
        time.sleep(2.0)  # both clients and the server's subscription are up
        took = []
        for n in range(alerts):
            arrived.clear()
            message = rep(n, faulty=True)
            sent = time.monotonic()
            station.publish(topics.topic("g1", message.station, "rep"), encode(message), qos=1)
            if arrived.wait(10):
                took.append(time.monotonic() - sent)
        for client in (coach, station):
            client.disconnect()
            client.loop_stop()
        halt.set()
        server.join(30)
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--with-paths", type=int, default=5000, help="reps sent with paths")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    one = throughput(1, args.messages)
    print(f"1 server process:  {one:8.0f} rep messages/s ({args.messages} messages)")
    two = throughput(2, args.messages)
    print(f"2 server processes: {two:8.0f} rep messages/s ({two / one:.2f}× one)")
    with_paths = throughput(1, args.with_paths, paths=True)
    print(f"1 server process, each rep with its 100-sample path: {with_paths:6.0f} reps/s")
    took = sorted(alert_latency(args.alerts))
    p95 = took[int(0.95 * (len(took) - 1))]
    print(
        f"alert latency over {len(took)} alerts: median {1000 * statistics.median(took):.1f} ms,"
        f" p95 {1000 * p95:.1f} ms, max {1000 * took[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
