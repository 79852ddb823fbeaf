"""The edge daemon's memory and CPU at 1 kHz on emulated chips, in real time (no broker needed:
the outbox keeps the messages). Read from /proc while it runs.

    .venv/bin/python bench/daemon.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")
PI_SLOWER = {"Pi Zero 2 W": 25, "Pi 4": 9, "Pi 5": 3.5}


def sample(pid: int) -> tuple[float, float]:
    """Resident memory (MB) and CPU time used so far (s)."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        environment = {
            **os.environ,
            "BARBELL_STATE_DIR": state,
            "BARBELL_SIM_SETS": "3",
            "BARBELL_SIM_REPS": "8",
            "BARBELL_MQTT_URL": "mqtt://127.0.0.1:9",  # no broker: the outbox keeps everything
        }
        daemon = subprocess.Popen(
            [sys.executable, "-m", "barbell.cli", "edge", "--sensor", "emulated"],
            env=environment,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(5)  # past start-up (imports, the simulation of the session)
        _, cpu_start = sample(daemon.pid)
        started = time.monotonic()
        peak = 0.0
        while time.monotonic() - started < args.seconds and daemon.poll() is None:
            rss, _ = sample(daemon.pid)
            peak = max(peak, rss)
            time.sleep(0.5)
        _, cpu_end = sample(daemon.pid)
        elapsed = time.monotonic() - started
        daemon.terminate()
        daemon.wait(30)
    share = (cpu_end - cpu_start) / elapsed
    print(f"edge daemon at 1 kHz (emulated chips, real time) over {elapsed:.0f} s:")
    print(f"  RSS peak {peak:.0f} MB; CPU {100 * share:.1f} % of one core here")
    for pi, factor in PI_SLOWER.items():
        estimate = 100 * share * factor
        print(f"  on a {pi} (about {factor}× slower per core): ~{estimate:.0f} % of a core")


if __name__ == "__main__":
    main()
