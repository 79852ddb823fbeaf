"""Publishing a station's messages over MQTT v5 at QoS 1, from the on-disk outbox.

Every message is stored in the outbox first; a sender thread publishes what is waiting, in
order, and each PUBACK deletes its message. On every (re)connection all that is still waiting is
sent again with its msg_id: the server's writes are idempotent, so a resend costs nothing. The
retained status doubles as the last will.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

import paho.mqtt.client as mqtt

from contract import topics
from contract.config import MqttSettings
from contract.messages import (
    HealthMessage,
    PathMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
    encode,
)
from contract.mqtt import connect, make_client, refusal
from edge.outbox import Outbox

log = logging.getLogger(__name__)
VERSION = "0.1.0"
WINDOW = 50  # messages published and not yet acknowledged, at most
# The broker took a message but nobody subscribes to it yet: a server not yet subscribed again
# after the broker restarted (Mosquitto 2.0 does not restore shared subscriptions), or none
# running. Such a message stays in the outbox and goes again this often until one hears it.
NO_MATCHING_SUBSCRIBERS = 0x10  # the MQTT v5 PUBACK reason code
UNHEARD_RETRY_S = 1.0
PATH_SHARE = 0.5  # bar paths may fill half the outbox: reps and sets always have the rest
Stored = RepMessage | PathMessage | SetMessage
KINDS: dict[type, topics.Kind] = {
    RepMessage: "rep",
    PathMessage: "path",
    SetMessage: "set",
    HealthMessage: "health",
}


class Publisher:
    def __init__(
        self,
        settings: MqttSettings,
        gym: str,
        station: str,
        outbox: Outbox,
        on_command: Callable[[bytes], None] | None = None,
    ) -> None:
        """`on_command` receives each payload sent to the station's `…/cmd` topic."""
        self.gym, self.station = gym, station
        self.outbox = outbox
        self._settings = settings
        self._connected = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[int, int] = {}  # paho mid → outbox seq
        self._sent_to = 0  # the outbox seq published last on this connection
        self.refused: set[int] = set()  # outbox seqs the broker refused; sent again on reconnect
        self._unheard: set[int] = set()  # outbox seqs nobody subscribed to; sent again soon
        self._unheard_since = 0.0
        # A persistent session, named for the station, so the broker keeps our QoS 1 state.
        self._client = make_client(
            settings, client_id=settings.client_id or f"barbell-edge-{gym}-{station}"
        )
        self._client.max_inflight_messages_set(WINDOW)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._on_command = on_command
        self._client.on_pre_connect = self._on_pre_connect
        self._status_since = time.time()
        self._sender = threading.Thread(target=self._send, name="outbox-sender", daemon=True)

    def _topic(self, kind: topics.Kind) -> str:
        return topics.topic(self.gym, self.station, kind)

    def _on_pre_connect(self, client, userdata) -> None:
        """Each connection gets its own will, which the broker sends if the station vanishes.
        Its `since` can only be the connection's start; the server stamps it on arrival."""
        self._status_since = time.time()
        client.will_set(self._topic("status"), self._status("offline"), qos=1, retain=True)

    def _status(self, state: Literal["online", "offline"]) -> bytes:
        return encode(
            StatusMessage(
                state=state,
                version=VERSION,
                since=self._status_since,
                gym=self.gym,
                station=self.station,
            )
        )

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            # Retried with back-off (contract.mqtt): a fixed password on either side heals it.
            log.error("%s; messages wait in the outbox", refusal(self._settings, reason))
            return
        client.publish(self._topic("status"), self._status("online"), qos=1, retain=True)
        if self._on_command is not None:
            client.subscribe(self._topic("cmd"), qos=1)
        with self._lock:  # whatever was not acknowledged goes again
            self._in_flight.clear()
            self._unheard.clear()
            self._sent_to = 0
        self._connected.set()
        self._wake.set()
        if self.outbox.depth:
            log.info("connected: resending %d unacknowledged messages", self.outbox.depth)

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        if self._connected.is_set() and not self._stop.is_set():  # not our own goodbye
            log.warning("broker connection lost (%s); messages wait in the outbox", reason)
        self._connected.clear()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if message.retain:  # a command retained by mistake would run again at every reconnect
            log.warning(
                "ignoring a retained command on %s: send commands unretained", message.topic
            )
            return
        if self._on_command is not None and message.topic == self._topic("cmd"):
            self._on_command(bytes(message.payload))

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:
        with self._lock:
            seq = self._in_flight.pop(mid, None)
        if seq is None:
            return
        if reason.value == NO_MATCHING_SUBSCRIBERS:
            with self._lock:
                if not self._unheard:
                    log.warning("no server subscribed yet: messages wait in the outbox")
                    self._unheard_since = time.monotonic()
                self._unheard.add(seq)
            return
        if reason.is_failure:  # e.g. not authorized: the broker did not take it, so keep it
            if seq not in self.refused:
                log.error(
                    "broker refused message %d (%s): kept in the outbox; does this station's "
                    "[station] gym and id match its broker login?",
                    seq,
                    reason,
                )
            self.refused.add(seq)
            return
        self.outbox.acknowledge(seq)
        self.refused.discard(seq)
        self._wake.set()

    def _send(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if not self._connected.is_set():
                continue
            with self._lock:
                self._send_unheard_again()
                room, after = WINDOW - len(self._in_flight), self._sent_to
                in_flight = set(self._in_flight.values())
            for stored in self.outbox.pending(after, room) if room > 0 else ():
                if stored.seq in in_flight:
                    continue
                info = self._client.publish(stored.topic, stored.payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # disconnected meanwhile: the next connection resends from the start
                with self._lock:
                    self._in_flight[info.mid] = stored.seq
                    self._sent_to = stored.seq

    def _send_unheard_again(self) -> None:
        """Once `UNHEARD_RETRY_S` has passed, what nobody heard goes again (under the lock)."""
        if self._unheard and time.monotonic() - self._unheard_since >= UNHEARD_RETRY_S:
            self._sent_to = min(self._sent_to, min(self._unheard) - 1)
            self._unheard.clear()

    def start(self) -> None:
        """Connect in the background: measuring does not wait for the broker, the outbox does."""
        connect(self._client, self._settings)
        self._sender.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def submit(self, message: Stored) -> None:
        """Keep the message on disk, then send it when the broker can take it."""
        share = PATH_SHARE if isinstance(message, PathMessage) else 1.0
        self.outbox.put(message.msg_id, self._topic(KINDS[type(message)]), encode(message), share)
        self._wake.set()

    def publish_now(self, message: HealthMessage) -> None:
        """A report that only matters now: not kept if the broker is away."""
        if not self._connected.is_set():
            return  # paho would queue it in memory, without limit, to send stale on reconnect
        self._client.publish(self._topic(KINDS[type(message)]), encode(message), qos=1)

    def flush(self, timeout_s: float) -> bool:
        """Wait until the broker has acknowledged everything; False if time ran out."""
        deadline = time.monotonic() + timeout_s
        while self.outbox.depth and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.depth == 0

    def stop(self) -> None:
        """Say offline ourselves (a clean disconnect does not fire the will)."""
        self._stop.set()
        self._wake.set()
        self._sender.join(5)
        if self._connected.is_set():
            self._status_since = time.time()  # offline from now
            self._client.publish(
                self._topic("status"), self._status("offline"), qos=1, retain=True
            ).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()
