"""A station through a long Wi-Fi outage: a simulated station publishes through a loopback TCP
proxy that cuts every connection for OUTAGE seconds mid-session; a persistent subscriber counts
what arrives. The test suite does the same with a 3 s cut; this is the full-length one.

    .venv/bin/python bench/outage.py [--outage 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from barbell.services import LocalMosquitto
from contract.config import MqttSettings
from contract.messages import RepMessage, SetMessage
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from tests.helpers import Listener, TcpProxy, wait_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=30.0, help="seconds without a link")
    args = parser.parse_args()
    with LocalMosquitto() as broker, tempfile.TemporaryDirectory() as state:
        coach = Listener(broker.url, "bench-coach", "barbell/v1/+/+/#", persistent=True)
        proxy = TcpProxy(broker.port)
        sent: list[str] = []
        config = EdgeConfig(
            mqtt=MqttSettings(url=f"mqtt://127.0.0.1:{proxy.port}"),
            station=StationSettings(gym="g1", id="bar1"),
            sim=SimSettings(lift="hip_thrust", sets=3, reps=8, seed=5),  # in real time
            state=StateSettings(dir=Path(state)),
        )

        def keep(message: RepMessage | SetMessage) -> None:
            sent.append(message.msg_id)

        station = threading.Thread(
            target=run_edge, args=(config, threading.Event()), kwargs={"on_message": keep}
        )
        station.start()
        wait_for(lambda: len(sent) >= 3, timeout_s=60, what="the first reps")
        proxy.cut()
        cut_at, during = time.monotonic(), len(sent)
        time.sleep(args.outage)
        made_offline = len(sent) - during
        proxy.restore()
        restored = time.monotonic()
        wait_for(lambda: set(sent) <= set(coach.msg_ids), timeout_s=120, what="every message")
        caught_up = time.monotonic() - restored
        station.join(300)
        wait_for(lambda: set(sent) <= set(coach.msg_ids), timeout_s=60, what="the rest")
        coach.close()
        proxy.close()
        lost = set(sent) - set(coach.msg_ids)
        print(f"link cut for {restored - cut_at:.0f} s mid-session")
        print(f"messages made while cut: {made_offline}; sent in all: {len(sent)}")
        print(f"caught up {caught_up:.1f} s after the link came back; lost: {len(lost)}")
        twice = len(coach.msg_ids) - len(set(coach.msg_ids))
        print(f"received {len(coach.msg_ids)}, of which duplicates: {twice}")


if __name__ == "__main__":
    main()
