"""Gym to cloud: a gym's Mosquitto bridged to a central one with the shipped bridge template,
both real brokers running the shipped broker template. Reps cross the bridge exactly, and an
outage of the link, with the gym broker restarted during it, loses none of them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from contract.messages import RepMessage, decode, encode
from contract.topics import topic
from tests.helpers import TcpProxy, simulated_session, wait_for
from tests.provisioned import Client, ProvisionedBroker

BRIDGE_UP_S = 40.0  # the bridge retries with a 2–30 s jittered back-off (restart_timeout)


@dataclass
class Link:
    gym: ProvisionedBroker
    central: ProvisionedBroker
    proxy: TcpProxy  # the WAN between them: it can be cut


@pytest.fixture
def link() -> Iterator[Link]:
    central, gym = ProvisionedBroker(), ProvisionedBroker()
    proxy = TcpProxy(central.daemon.port)
    central.server("ingest")
    out = central.login("bridge", "--gym", "g1", url=f"mqtts://127.0.0.1:{proxy.port}")
    # The bridge config goes into the gym broker's conf.d/, as docs/security.md says.
    shutil.copy(out / "bridge-g1.conf", gym.conf / "conf.d" / "bridge-g1.conf")
    gym.station("g1", "bar1")
    gym.coach("g1", "anna")
    with central, gym:
        yield Link(gym, central, proxy)
    proxy.close()


def _reps(count: int, session: str) -> list[RepMessage]:
    messages = simulated_session("hip_thrust", 160.0, [100.0], session, 1.7e9, reps=count)
    return [m for m in messages if isinstance(m, RepMessage)]


def _msg_ids(client: Client) -> list[str]:
    """The msg_id of each rep the client got (it hears the alert too: not JSON)."""
    reps = [decode(payload) for name, payload in client.messages if name.endswith("/rep")]
    return [rep.msg_id for rep in reps if isinstance(rep, RepMessage)]


def test_reps_cross_the_bridge_and_survive_an_outage_exactly(link: Link) -> None:
    server = Client(link.central.logins_of["ingest"], "t-server", persistent=True)
    server.subscribe(link.central.shared_ingest)
    coach = Client(link.gym.logins_of["anna@g1"], "t-coach", persistent=True)
    station = Client(link.gym.logins_of["bar1@g1"], "t-bar1")
    try:
        coach.subscribe("barbell/v1/g1/+/alert")
        before, during = _reps(6, "before"), _reps(6, "during")
        for rep in before:
            assert station.publish(topic("g1", "bar1", "rep"), encode(rep)).value == 0
        wait_for(lambda: len(_msg_ids(server)) == len(before), BRIDGE_UP_S, "reps over the bridge")

        link.proxy.cut()
        for rep in during:  # the gym broker takes them: they wait in the bridge's queue
            assert station.publish(topic("g1", "bar1", "rep"), encode(rep)).value == 0
        alert = Client(link.central.logins_of["ingest"], "t-alerting")
        assert alert.publish(topic("g1", "bar1", "alert"), b"slow").value == 0
        alert.close()
        # A power cut at the gym meanwhile: the queue is on disk (persistence).
        link.gym.daemon.stop()
        link.gym.daemon.start()
        assert len(_msg_ids(server)) == len(before)  # nothing got through the cut link

        link.proxy.restore()
        expected = sorted(m.msg_id for m in before + during)
        wait_for(lambda: len(_msg_ids(server)) >= len(expected), BRIDGE_UP_S, "the queued reps")
        # The alert raised in the cloud during the outage reaches the coach at the gym.
        wait_for(lambda: coach.messages != [], BRIDGE_UP_S, "the alert back over the bridge")
    finally:
        for client in (server, coach, station):
            client.close()
    assert sorted(_msg_ids(server)) == expected  # every rep, once
    assert coach.messages == [(topic("g1", "bar1", "alert"), b"slow")]
