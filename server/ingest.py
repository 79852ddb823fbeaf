"""Ingest: rep and set messages from MQTT into InfluxDB; anything malformed to dead letters.

paho acknowledges a QoS 1 message only when on_message returns, and this writes inside it, so
a message is acknowledged only after InfluxDB has taken it: a crash before then means the
broker delivers it again, and the idempotent point overwrites itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import msgspec
import paho.mqtt.client as mqtt

from contract import topics
from contract.messages import RepMessage, SetMessage, decode
from contract.mqtt import connect, make_client
from server.config import ServerConfig
from server.influx import WriteError, Writer
from server.points import line, points_for

log = logging.getLogger(__name__)
SUBSCRIPTIONS = [f"{topics.ROOT}/+/+/rep", f"{topics.ROOT}/+/+/set"]
RETRY_S = 1.0


class Ingest:
    def __init__(
        self, config: ServerConfig, writer: Writer, client_id: str = "barbell-server"
    ) -> None:
        self._writer = writer
        self._client = make_client(config.mqtt, client_id)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._mqtt = config.mqtt
        self._stop = threading.Event()
        self.stored = 0
        self.dead = 0

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        client.subscribe([(name, 1) for name in SUBSCRIPTIONS])

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            decoded = decode(message.payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self._dead_letter(message, str(exc))
            return
        if not isinstance(decoded, RepMessage | SetMessage):
            self._dead_letter(message, f"{type(decoded).__name__} does not belong on this topic")
            return
        self._store([line(point) for point in points_for(decoded)], message)

    def _store(self, lines: list[str], message: mqtt.MQTTMessage) -> None:
        """Write, holding the message (unacknowledged) through an outage until it succeeds."""
        failing = False
        while not self._stop.is_set():
            try:
                self._writer.write(lines)
            except WriteError as exc:
                if not exc.retry:
                    self._dead_letter(message, str(exc))
                    return
                if not failing:
                    log.warning("InfluxDB write failing, holding messages: %s", exc)
                    failing = True
                self._stop.wait(RETRY_S)
                continue
            if failing:
                log.info("InfluxDB write recovered")
            self.stored += 1
            return

    def _dead_letter(self, message: mqtt.MQTTMessage, reason: str) -> None:
        self.dead += 1
        log.info("dead letter from %s: %s", message.topic, reason)
        body = {
            "reason": reason,
            "topic": message.topic,
            "payload": message.payload.decode("utf-8", errors="replace"),
            "received": time.time(),
        }
        self._client.publish(topics.dead_letter(message.topic), json.dumps(body), qos=1)

    def start(self) -> None:
        connect(self._client, self._mqtt)

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
