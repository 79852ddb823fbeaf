"""Ingest: station messages from a shared MQTT subscription into InfluxDB, in batches.

Nothing is acknowledged to the broker until it is settled: written to InfluxDB (and reacted to:
alerts, advice), or dead-lettered. A crash or an InfluxDB outage therefore loses nothing: the
broker holds every unacknowledged message in this process's persistent session and delivers it
again, and the points it makes overwrite themselves. N processes on the shared subscription
split the stream between them and share no state; one that stops hands its share back to the
others, once it has settled what it holds (membership.py).
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import paho.mqtt.client as mqtt

from contract import topics
from contract.messages import DeadLetter, StatusMessage, encode
from contract.mqtt import connect, make_client, refusal
from server.config import IngestSettings, ServerConfig
from server.influx import InfluxReader, WriteError, Writer
from server.influxql import quoted
from server.membership import Membership
from server.points import dead_letter_line, letter_digest, lines_for, offline_line
from server.validation import NOT_OURS, Refused, Stored, validate
from server.wills import Placed, on_arrival, place

log = logging.getLogger(__name__)
RETRY_S, MAX_RETRY_S = 0.5, 10.0  # back-off while InfluxDB is failing
DEAD_LETTER_WAIT_S = 10.0
UNSUBACK_WAIT_S = 5.0
# An offline status drained from a backlog may have the station's return right behind it
# (wills.py): a batch that holds one waits this long for more.
WILL_WAIT_S = 0.2
QUIET_S = 0.5  # handing back: the broker sends what it queued at once, as acks free the window

T = TypeVar("T")
# Told of each batch of (topic, message) once stored; raises WriteError to have it held.
Reaction = Callable[[list[tuple[str, Stored]]], None]


@dataclass
class Delivery:
    """One message from the broker, on its way to being settled and acknowledged."""

    mid: int
    connection: int  # acks only make sense on the connection that delivered it
    topic: str
    payload: bytes
    arrived: float = 0.0  # UTC epoch seconds
    message: Stored | None = None
    refusal: str | None = None  # why it goes to dead letters
    lines: list[str] = field(default_factory=list)
    redelivered: bool = False  # the broker sent it before (DUP): it may be settled already
    news: bool = True  # reacted to (alerts, advice) once stored; a late offline status is not


class Ingest:
    def __init__(
        self,
        config: ServerConfig,
        writer: Writer,
        client_id: str = "barbell-server",
        on_stored: Reaction | None = None,
        subscribed: threading.Event | None = None,
    ) -> None:
        """`on_stored` hears of each batch once InfluxDB has it, before it is acknowledged; it
        may also be set after construction, before `start`. `subscribed` is set once the broker
        has taken the subscription (a new Event when not given)."""
        self._settings: IngestSettings = config.ingest
        self._writer = writer
        self._reader = InfluxReader(config.influx)  # a station's statuses, to place its wills
        self.on_stored = on_stored
        self._mqtt = config.mqtt
        # The share group, secret on a broker with logins, begins the client id too: a login
        # that cannot name it cannot take this session and the backlog queued for it.
        group = self._settings.share_group
        self._shared = topics.shared_ingest(group)
        self._client = make_client(config.mqtt, f"{group}.{client_id}", manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._unsubscribed = threading.Event()
        self._client.on_unsubscribe = lambda *_: self._unsubscribed.set()
        self._client.on_disconnect = self._on_disconnect
        self._membership = Membership(self._client, group, client_id)
        self._inbox: queue.SimpleQueue[Delivery] = queue.SimpleQueue()
        # Bumped on every connect and disconnect: a delivery is acknowledged only on the
        # connection that brought it, checked and sent under the lock, never on a later one.
        self._connection = 0
        self._connection_lock = threading.Lock()
        # Deliveries on this connection not yet acknowledged, and when the latest came.
        self._unsettled, self._last_delivery = 0, 0.0
        self._stop = threading.Event()
        self.subscribed = subscribed or threading.Event()
        self._worker = threading.Thread(target=self._run, name="ingest", daemon=True)
        self.stored = 0
        self.dead = 0
        self._last_received = 0.0  # of the last dead letter

    # The network thread: decode and queue, nothing slow.

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            log.error("%s", refusal(self._mqtt, reason))
            return
        self._new_connection()
        client.subscribe(self._shared, qos=1)
        self._membership.connected()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self._new_connection()

    def _new_connection(self) -> None:
        with self._connection_lock:
            self._connection += 1
            self._unsettled = 0  # the broker delivers them again

    def _on_subscribe(self, client, userdata, mid, reasons, properties) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the subscription to %s: %s", self._shared, reasons)
        else:
            log.info("subscribed to %s", self._shared)
            self.subscribed.set()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        if self._membership.hears(message.topic):
            self._membership.heard(message)
            return
        with self._connection_lock:
            self._unsettled += 1
            self._last_delivery = time.monotonic()
            connection = self._connection
        delivery = Delivery(
            message.mid, connection, message.topic, bytes(message.payload), time.time(),
            redelivered=bool(message.dup),
        )  # fmt: skip
        where = topics.parse(message.topic)
        not_ours = message.topic.startswith(topics.DEAD_LETTERS) or (
            where and where.kind in NOT_OURS
        )
        # Only a status is retained by a station: handed over at each subscription, it is
        # stored like any (its points overwrite themselves, and an offline one is placed).
        if not_ours or (message.retain and not (where and where.kind == "status")):
            self._inbox.put(delivery)  # acknowledged in its turn
            return
        s = self._settings
        try:
            delivery.message = validate(
                message.topic,
                delivery.payload,
                delivery.arrived,
                s.max_payload_bytes,
                (s.max_behind_s, s.max_ahead_s),
            )
            # An offline status gets its line once it is placed in time (wills.py).
            if not _offline(delivery):
                delivery.lines = lines_for(delivery.message)
        except Refused as exc:
            delivery.refusal = str(exc)
        except Exception as exc:  # a bug of ours must not stop the network thread
            log.exception("cannot turn a message from %s into points", message.topic)
            delivery.refusal = f"the server could not store it: {exc!r}"
        self._inbox.put(delivery)

    # The worker thread: batch, write, react, dead-letter, acknowledge, in arrival order.

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._next_batch()
                if batch and self._place(batch) and self._write(batch) and self._react(batch):
                    self._settle(batch)
            except Exception:  # a bug of ours: the broker keeps the batch, ingest goes on
                log.exception("ingest worker failed; carrying on")
                self._stop.wait(RETRY_S)

    def _next_batch(self) -> list[Delivery]:
        """Everything waiting, up to `batch_lines`, and whatever follows it within `batch_s`."""
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        lines, wait = len(batch[0].lines), self._settings.batch_s
        while lines < self._settings.batch_lines:
            try:
                delivery = self._inbox.get(timeout=wait) if wait else self._inbox.get_nowait()
            except queue.Empty:
                if wait >= WILL_WAIT_S or not any(map(_offline, batch)):
                    break
                wait = WILL_WAIT_S  # an offline status is judged with what follows it
                continue
            batch.append(delivery)
            lines += len(delivery.lines)
        # Deliveries of a lost connection come again on the new one: keeping both would only
        # grow the queue while a write is held through an outage.
        return [d for d in batch if d.connection == self._connection]

    def _place(self, batch: list[Delivery]) -> bool:
        """Place each offline status in time (wills.py), reading the station's statuses, held
        like a write while InfluxDB fails; False if stopped first."""
        back: dict[tuple[str | None, str | None], float] = {}  # latest online in the batch
        for delivery in reversed(batch):
            status = delivery.message
            if not isinstance(status, StatusMessage):
                continue
            station = (status.gym, status.station)
            if status.state == "online":
                back[station] = max(back.get(station, status.since), status.since)
                continue
            try:
                self._hold(self._place_offline, (delivery, status, back.get(station)))
            except _Stopped:
                return False
            except _Rejected as exc:  # a query InfluxDB will never answer
                log.error("offline status of %s stamped on arrival: %s", status.station, exc)
                self._placed(delivery, on_arrival(status, delivery.arrived))
        return True

    def _place_offline(self, item: tuple[Delivery, StatusMessage, float | None]) -> None:
        delivery, status, back_since = item
        placed = place(self._reader, status, delivery.arrived, back_since)
        if placed is None:  # seen before: acknowledged untouched
            delivery.message = None
            return
        self._placed(delivery, placed)

    @staticmethod
    def _placed(delivery: Delivery, placed: Placed) -> None:
        delivery.message, delivery.news = placed.status, placed.news
        delivery.lines = [offline_line(placed.status, placed.reported_since)]

    def _write(self, batch: list[Delivery]) -> bool:
        """Write the batch's points, holding them through an outage; False if stopped first.
        A batch InfluxDB rejects is written message by message, to find the bad ones."""
        good = [d for d in batch if d.lines]
        try:
            self._hold(self._write_lines, [line for d in good for line in d.lines])
        except _Rejected:
            for delivery in good:
                try:
                    self._hold(self._write_lines, delivery.lines)
                except _Rejected as exc:
                    delivery.refusal, delivery.message = f"InfluxDB refused it: {exc}", None
                except _Stopped:
                    return False
        except _Stopped:
            return False
        return True

    def _write_lines(self, lines: list[str]) -> None:
        """In requests of at most `request_bytes`: a body over InfluxDB's limit is refused, or
        its connection reset, which reads as an outage and would be retried for ever. A request
        written again after a later one failed rewrites the same points."""
        limit, size = self._settings.request_bytes, 0
        request: list[str] = []
        for line in lines:
            length = len(line.encode()) + 1  # and its newline
            if request and size + length > limit:
                self._writer.write(request)
                request, size = [], 0
            request.append(line)
            size += length
        if request:
            self._writer.write(request)

    def _hold(self, action: Callable[[T], object], argument: T) -> None:
        """Do `action`, retrying with back-off while InfluxDB fails."""
        failing, wait = False, RETRY_S
        while True:
            try:
                action(argument)
            except WriteError as exc:
                if not exc.retry:
                    raise _Rejected(str(exc)) from None
                if not failing:
                    log.warning("InfluxDB write failing, holding messages: %s", exc)
                    failing = True
                if self._stop.wait(wait):
                    raise _Stopped from None
                wait = min(2 * wait, MAX_RETRY_S)
                continue
            if failing:
                log.info("InfluxDB write recovered")
            return

    def _react(self, batch: list[Delivery]) -> bool:
        """Alerts and advice, held like a write while InfluxDB fails; False if stopped first."""
        stored = [(d.topic, d.message) for d in batch if d.message is not None and d.news]
        if self.on_stored is None or not stored:
            return True
        try:
            self._hold(self.on_stored, stored)
        except _Stopped:
            return False
        except _Rejected as exc:  # a query of ours InfluxDB would never answer
            log.error("reacting to %d stored messages failed: %s", len(stored), exc)
        except Exception:  # a broken reaction must not stop ingest; the data are stored
            log.exception("reacting to %d stored messages failed", len(stored))
        return True

    def _settle(self, batch: list[Delivery]) -> None:
        try:
            lettered = self._dead_letters([d for d in batch if d.refusal is not None])
        except _Stopped:
            return  # nothing acknowledged: the broker keeps the batch
        for delivery in batch:
            if delivery.refusal is not None and id(delivery) not in lettered:
                continue  # its connection is gone: the broker delivers it again
            with self._connection_lock:
                if delivery.connection != self._connection:
                    continue  # the broker delivers it again on the new connection
                self._client.ack(delivery.mid, 1)
                self._unsettled -= 1
            if delivery.refusal is not None:
                self.dead += 1
            elif delivery.message is not None:
                self.stored += 1

    def _dead_letters(self, refused: list[Delivery]) -> set[int]:
        """Publish each refused delivery's dead letter until the broker has it, all at once
        and then waiting (one round trip, not one each); the ids of those it has. One whose
        connection is lost first comes again from the broker, and is dead-lettered again."""
        letters = {id(d): _letter(d, self._received_now()) for d in refused}
        # One stored before its acknowledgement was lost is not stored again (it is published
        # again: on MQTT a letter reaches only whoever listens at the time).
        self._keep([
            letters[id(d)] for d in refused
            if not (d.redelivered and self._stored_before(letters[id(d)]))
        ])  # fmt: skip
        sent = {id(d): self._publish_dead_letter(d, letters[id(d)]) for d in refused}
        lettered = set()
        for delivery in refused:
            info = sent[id(delivery)]
            while not _published(info):
                if delivery.connection != self._connection or self._stop.is_set():
                    break
                info = self._publish_dead_letter(delivery, letters[id(delivery)])
            else:
                lettered.add(id(delivery))
        return lettered

    def _received_now(self) -> float:
        """A dead letter's time, later than the one before's: letters from one station share a
        series, and InfluxDB keeps one point per time in it."""
        self._last_received = max(time.time(), self._last_received + 1e-6)
        return self._last_received

    def _stored_before(self, letter: DeadLetter) -> bool:
        """Whether InfluxDB has a dead letter of the same message from the last day; False when
        it cannot say (stored twice, then: at least once)."""
        try:
            found = self._reader.query(
                'SELECT count("reason") FROM "dead_letter"'
                f' WHERE "digest" = {quoted(letter_digest(letter))} AND time > now() - 1d'
            )
        except WriteError:
            return False
        return bool(found and found[0].get("count"))

    def _keep(self, letters: list[DeadLetter]) -> None:
        """Dead letters stored in InfluxDB too, where a person finds them later: on MQTT they
        reach only whoever listens at the time. Held through an outage like any write."""
        if not letters:
            return
        try:
            self._hold(self._write_lines, [dead_letter_line(letter) for letter in letters])
        except _Rejected as exc:
            log.error("dead letters not stored in InfluxDB (they are still published): %s", exc)

    def _publish_dead_letter(self, delivery: Delivery, letter: DeadLetter) -> mqtt.MQTTMessageInfo:
        log.info("dead letter from %s: %s", delivery.topic, delivery.refusal)
        return self._client.publish(topics.dead_letter(delivery.topic), encode(letter), qos=1)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1 through this process's connection (alerts), not waiting for the broker."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    def publish_acknowledged(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """QoS 1, and whether the broker has it (PUBACK) within DEAD_LETTER_WAIT_S (advice)."""
        return _published(self._client.publish(topic, payload, qos=1, retain=retain))

    def start(self) -> None:
        self._worker.start()
        connect(self._client, self._mqtt, receive_maximum=self._settings.receive_maximum)

    def stop(self) -> None:
        """Stop taking messages. With another server up, this one's share goes to it, once what
        this one holds is settled; otherwise what is not yet acknowledged stays with the broker,
        in this server's session, and so does its share, until it comes back."""
        leaving = self._client.is_connected() and self._membership.others_up() and self._hand_back()
        self._stop.set()
        self._worker.join(timeout=30)
        if leaving:
            self._membership.leaves()
            self._client.disconnect(properties=_ending_session())
            log.info("handed this server's share of the stream back to the others")
        else:
            self._membership.stays()
            self._client.disconnect()
        self._client.loop_stop()

    def _hand_back(self) -> bool:
        """Unsubscribe, then settle what the broker had sent or queued for this session: True
        once all of it is acknowledged and no more has come for QUIET_S, False if that takes
        over `hand_back_s` (InfluxDB away), and the session is then kept."""
        self._unsubscribed.clear()
        self._client.unsubscribe(self._shared)
        if not self._unsubscribed.wait(UNSUBACK_WAIT_S):
            return False
        deadline = time.monotonic() + self._settings.hand_back_s
        while time.monotonic() < deadline:
            with self._connection_lock:
                if not self._unsettled and time.monotonic() - self._last_delivery >= QUIET_S:
                    return True
            time.sleep(0.05)
        log.warning(
            "%d messages still unsettled after %.0f s: the session is kept, and holds them",
            self._unsettled,
            self._settings.hand_back_s,
        )
        return False


def _offline(delivery: Delivery) -> bool:
    message = delivery.message
    return isinstance(message, StatusMessage) and message.state == "offline"


def _ending_session() -> mqtt.Properties:
    """DISCONNECT properties that end the session at once, with its place in the share group."""
    properties = mqtt.Properties(mqtt.PacketTypes.DISCONNECT)
    properties.SessionExpiryInterval = 0
    return properties


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker has the message (PUBACK) within DEAD_LETTER_WAIT_S."""
    try:
        info.wait_for_publish(DEAD_LETTER_WAIT_S)
    except (RuntimeError, ValueError):  # not connected: it was never sent
        return False
    return info.is_published()


def _letter(delivery: Delivery, received: float) -> DeadLetter:
    letter = DeadLetter(reason=delivery.refusal or "", topic=delivery.topic, received=received)
    try:
        letter.payload = delivery.payload.decode("utf-8")
    except UnicodeDecodeError:  # raw bytes, kept whole
        letter.payload_b64 = base64.b64encode(delivery.payload).decode()
    return letter


class _Rejected(Exception):
    """InfluxDB refused the data itself: sending it again cannot help."""


class _Stopped(Exception):
    """Told to stop while holding a write."""
