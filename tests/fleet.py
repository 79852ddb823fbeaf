"""A fleet of simulated stations in one process, each with its own real outbox and publisher:
`python -m tests.fleet URL FIRST COUNT STATE_DIR` sends one simulated set from stations
bar{FIRST}…bar{FIRST+COUNT-1} and exits once the broker has acknowledged all of it.

Each station holds about six file descriptors and paho watches them with select(), which
stops at 1024, so a big fleet is several of these processes: as in a gym, where each
station is its own Pi.
"""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from contract.config import MqttSettings
from contract.messages import RepMessage, SetMessage
from edge.config import EdgeConfig, SimSettings
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.sources import sim_spec
from edge.station import Station
from hardware.simulate import simulate

SIM = SimSettings(lift="rdl", reps=5, seed=81)  # one set of five, through the real analysis


def one_set() -> list[RepMessage | SetMessage]:
    config = EdgeConfig(sim=SIM)
    station = Station(config)
    messages = []
    for chunk in simulate(sim_spec(config)).recording.split(100):
        messages += station.messages(station.feed(chunk))
    return messages + station.messages(station.analysis.finish())


def name(n: int) -> str:
    return f"bar{n:03d}"


def main(url: str, first: int, count: int, state_dir: Path) -> int:
    messages = one_set()
    fleet = []
    for n in range(first, first + count):
        outbox = Outbox(state_dir / f"{name(n)}.sqlite")
        fleet.append((n, Publisher(MqttSettings(url=url), "g1", name(n), outbox), outbox))
    for _, publisher, _ in fleet:
        publisher.start()
    for n, publisher, _ in fleet:
        for message in messages:
            own_id = f"g1/{name(n)}/" + message.msg_id.split("/", 2)[2]  # gym/station/…
            publisher.submit(
                msgspec.structs.replace(message, gym="g1", station=name(n), msg_id=own_id)
            )
    delivered = all(publisher.flush(60) for _, publisher, _ in fleet)
    for _, publisher, outbox in fleet:
        publisher.stop()
        outbox.close()
    return 0 if delivered else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])))
