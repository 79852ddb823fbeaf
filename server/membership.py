"""The servers' share group, as each server sees it: who serves, and whether one that stops may
hand its share back.

Mosquitto keeps queueing a persistent session's share of a shared subscription while its server
is away. That is what a restart needs, and what scaling down must not have: a server stopped
for good would hold every other message until its session expired, and then lose them. So a
server that stops ends its session when another server is up to take its share, and the last
one keeps its session, so that a lone server's restart loses nothing.

Each server's state is a retained message on `barbell/servers/{group}/{client id}`: `up` while it
serves, `away` once it stopped with its session kept (or lost its connection: its will), and
`leaving` while it decides; it is deleted once the session is gone. A server that stops marks
itself `leaving` and then reads the others' states: of two servers stopping at once, the later
reader sees the other's mark, so they cannot both leave the group empty.
"""

from __future__ import annotations

import threading
from typing import Literal

import paho.mqtt.client as mqtt

from contract.topics import SERVERS

State = Literal["up", "away", "leaving"]
STATES: tuple[State, ...] = ("up", "away", "leaving")
PUBACK_WAIT_S = 5.0


class Membership:
    def __init__(self, client: mqtt.Client, group: str, client_id: str) -> None:
        """Call before connecting: it sets the client's will."""
        self._client = client
        self._prefix = f"{SERVERS}/{group}/"
        self._topic = self._prefix + client_id
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()
        self._own_mark = threading.Event()
        client.will_set(self._topic, b"away", qos=1, retain=True)

    def hears(self, topic: str) -> bool:
        """Whether a message on `topic` is a server's state (for `heard`, not for ingest)."""
        return topic.startswith(self._prefix)

    def connected(self) -> None:
        """On each connection: follow the others, and say this server is up."""
        # QoS 0: states need no acknowledgement, which this client otherwise gives by hand.
        self._client.subscribe(self._prefix + "+", qos=0)
        self._client.publish(self._topic, b"up", qos=1, retain=True)

    def heard(self, message: mqtt.MQTTMessage) -> None:
        state = message.payload.decode("utf-8", "replace")
        with self._lock:
            if state in STATES:
                self._states[message.topic] = state
            else:  # deleted: that server's session is gone
                self._states.pop(message.topic, None)
        if message.topic == self._topic and state == "leaving":
            self._own_mark.set()

    def others_up(self) -> bool:
        """Mark this server `leaving`, then whether another serves (and may take its share).
        False whenever that cannot be known: keeping the session is what loses nothing."""
        self._own_mark.clear()
        if not self._publish(b"leaving") or not self._own_mark.wait(PUBACK_WAIT_S):
            return False
        # Every state marked before this server's own mark reached it before the mark did.
        with self._lock:
            return any(
                state == "up" for topic, state in self._states.items() if topic != self._topic
            )

    def stays(self) -> None:
        """The session is kept: its share waits in it for this server to come back."""
        self._publish(b"away")

    def leaves(self) -> None:
        """The session is about to end: the state goes with it."""
        self._publish(b"")

    def _publish(self, state: bytes) -> bool:
        try:
            info = self._client.publish(self._topic, state, qos=1, retain=True)
            info.wait_for_publish(PUBACK_WAIT_S)
        except (RuntimeError, ValueError):  # not connected
            return False
        return info.is_published()
