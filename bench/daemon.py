"""The edge daemon's memory and CPU at 1 kHz on emulated chips, in real time, against a local
Mosquitto (its health reports give the achieved sample rate). Read from /proc while it runs.

    .venv/bin/python bench/daemon.py [--seconds 120] [--drain-s 0.05]

The daemon process is measured alone: the simulator feeding the emulated chips runs in a
process of its own (edge/sources.py), shown apart. The emulated chips and the real drivers do
run in the daemon, where a Pi has the kernel's I²C transfers instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt

from barbell.services import LocalMosquitto
from contract import topics
from contract.messages import HealthMessage, decode

TICKS = os.sysconf("SC_CLK_TCK")
PI_SLOWER = {"Pi Zero 2 W": 25, "Pi 4": 9, "Pi 5": 3.5}  # per core, against this machine
WARM_UP_S = 5.0  # start-up (imports, the simulator) is not the steady state
SESSION_S_PER_SET = 35.0  # a simulated set of 8 reps with the rest after it, roughly
GYM, STATION = "bench", "bar1"
HEALTH_PERIOD_S = 5.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def cpu_s(pid: int) -> float:
    """User and system CPU time the process has used so far, s."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]


class HealthListener:
    """The station's health reports, as a server would hear them."""

    def __init__(self, url: str) -> None:
        self.reports: list[HealthMessage] = []
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self._client.on_connect = lambda client, *_: client.subscribe(
            topics.topic(GYM, STATION, "health")
        )
        self._client.on_message = self._heard
        port = int(url.rsplit(":", 1)[1])
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()

    def _heard(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        report = decode(message.payload)
        if isinstance(report, HealthMessage) and report.sample_rate_hz is not None:
            self.reports.append(report)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--drain-s", type=float, default=0.05, help="[sensor] drain_s")
    args = parser.parse_args()
    sets = min(50, int((WARM_UP_S + args.seconds) / SESSION_S_PER_SET) + 2)  # outlasts the run
    with tempfile.TemporaryDirectory() as state, LocalMosquitto() as broker:
        listener = HealthListener(broker.url)
        environment = {
            **os.environ,
            "BARBELL_STATE_DIR": state,
            "BARBELL_STATION_GYM": GYM,
            "BARBELL_STATION_ID": STATION,
            "BARBELL_STATION_HEALTH_PERIOD_S": str(HEALTH_PERIOD_S),
            "BARBELL_SIM_SETS": str(sets),
            "BARBELL_SIM_REPS": "8",
            "BARBELL_MQTT_URL": broker.url,
            "BARBELL_SENSOR_DRAIN_S": str(args.drain_s),
        }
        daemon = subprocess.Popen(
            [sys.executable, "-m", "barbell.cli", "edge", "--sensor", "emulated"],
            env=environment,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(WARM_UP_S)
        feeders = children(daemon.pid)
        cpu_start = cpu_s(daemon.pid)
        feeders_cpu_start = sum(cpu_s(pid) for pid in feeders)
        started, started_wall = time.monotonic(), time.time()
        series: list[tuple[float, float]] = []  # (s since start, daemon RSS MB)
        feeders_rss = 0.0
        while time.monotonic() - started < args.seconds and daemon.poll() is None:
            series.append((time.monotonic() - started, rss_mb(daemon.pid)))
            feeders_rss = max(feeders_rss, sum(rss_mb(pid) for pid in feeders))
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        cpu = cpu_s(daemon.pid) - cpu_start
        feeders_cpu = sum(cpu_s(pid) for pid in feeders) - feeders_cpu_start
        daemon.terminate()
        daemon.wait(30)
        listener.close()
    steady_health = [h for h in listener.reports if h.t - HEALTH_PERIOD_S > started_wall]
    report(series, elapsed, cpu, feeders_rss, feeders_cpu, steady_health, daemon.returncode)


def report(
    series: list[tuple[float, float]],
    elapsed: float,
    cpu: float,
    feeders_rss: float,
    feeders_cpu: float,
    health: list[HealthMessage],
    returncode: int | None,
) -> None:
    # Steady state is the second half: allocators and caches have filled by then.
    half = series[len(series) // 2 :]
    times, rss = [t for t, _ in half], [m for _, m in half]
    steady = statistics.median(rss)
    growth = statistics.linear_regression(times, rss).slope * 60 if len(half) > 2 else 0.0
    share = cpu / elapsed
    print(f"host: {os.cpu_count()} cores")
    print(f"edge daemon at 1 kHz (emulated chips, real time, local broker) over {elapsed:.0f} s:")
    if returncode not in (0, -15):
        print(f"  the daemon exited early with {returncode}: the figures cover less")
    peak = max(m for _, m in series)
    print(f"  RSS peak {peak:.1f} MB, steady {steady:.1f} MB, growth {growth:+.2f} MB/min")
    print(f"  CPU {100 * share:.2f} % of one core here")
    for pi, factor in PI_SLOWER.items():
        print(f"    on a {pi} (about {factor}× slower per core): ~{100 * share * factor:.0f} %")
    rates = [h.sample_rate_hz for h in health if h.sample_rate_hz is not None]
    if rates:
        dropped = sum(h.dropped_samples or 0 for h in health)
        print(
            f"  achieved sample rate {statistics.mean(rates):.0f} Hz "
            f"(min {min(rates):.0f}) in {len(rates)} health reports; {dropped} samples lost "
            "(the simulator drops a few, as a real FIFO read now and then does)"
        )
    print(
        f"  not counted: the simulator's process, {feeders_rss:.0f} MB RSS and "
        f"{100 * feeders_cpu / elapsed:.2f} % of a core"
    )


if __name__ == "__main__":
    main()
