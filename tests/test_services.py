"""The private daemons leave nothing behind, even when their parent is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from barbell.services import LocalInfluxDB, LocalMosquitto


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_closing_stops_the_daemons_and_removes_their_dirs() -> None:
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        pids = [broker._process.pid, influx._process.pid]  # type: ignore[union-attr]
        dirs = [broker.dir, influx.dir]
        assert all(_alive(pid) for pid in pids)
    assert not any(_alive(pid) for pid in pids)
    assert not any(d.exists() for d in dirs)


def test_a_killed_parent_takes_its_daemons_with_it() -> None:
    script = (
        "import time\nfrom barbell.services import LocalMosquitto, LocalInfluxDB\n"
        "b = LocalMosquitto(); b.start(); i = LocalInfluxDB(); i.start()\n"
        "print(b._process.pid, i._process.pid, flush=True)\ntime.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert all(_alive(pid) for pid in pids)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)
