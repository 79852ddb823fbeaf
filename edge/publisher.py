"""Publishing a station's messages over MQTT v5 at QoS 1, with a retained status as last will."""

from __future__ import annotations

import logging
import threading
import time

from contract import topics
from contract.config import MqttSettings
from contract.messages import HealthMessage, RepMessage, SetMessage, StatusMessage, encode
from contract.mqtt import connect, make_client

log = logging.getLogger(__name__)
Published = RepMessage | SetMessage | HealthMessage
KINDS: dict[type, topics.Kind] = {RepMessage: "rep", SetMessage: "set", HealthMessage: "health"}
VERSION = "0.1.0"


class Publisher:
    def __init__(self, settings: MqttSettings, gym: str, station: str) -> None:
        self.gym, self.station = gym, station
        self._connected = threading.Event()
        self._client = make_client(settings, client_id=f"barbell-edge-{gym}-{station}")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.will_set(self._topic("status"), self._status("offline"), qos=1, retain=True)
        self._settings = settings

    def _topic(self, kind: topics.Kind) -> str:
        return topics.topic(self.gym, self.station, kind)

    @staticmethod
    def _status(state: str) -> bytes:
        return encode(StatusMessage(state=state, version=VERSION, since=time.time()))  # type: ignore[arg-type]

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        client.publish(self._topic("status"), self._status("online"), qos=1, retain=True)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self._connected.clear()

    def start(self, timeout_s: float = 10.0) -> None:
        connect(self._client, self._settings)
        if not self._connected.wait(timeout_s):
            log.warning("no broker at %s yet; will keep trying", self._settings.url)

    def publish(self, message: Published, timeout_s: float = 10.0) -> bool:
        """Publish at QoS 1 and wait for the PUBACK; False if none came in time."""
        info = self._client.publish(self._topic(KINDS[type(message)]), encode(message), qos=1)
        try:
            info.wait_for_publish(timeout_s)
        except RuntimeError:  # not connected: paho keeps it queued and sends on reconnect
            return False
        return info.is_published()

    def stop(self) -> None:
        """Say offline ourselves (a clean disconnect does not fire the will)."""
        if self._connected.is_set():
            self._client.publish(
                self._topic("status"), self._status("offline"), qos=1, retain=True
            ).wait_for_publish(5)
        self._client.disconnect()
        self._client.loop_stop()
