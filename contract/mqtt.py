"""Connecting to the broker named by the `[mqtt]` settings: MQTT v5, paho 2.x callbacks."""

from __future__ import annotations

import ssl
import urllib.parse

import paho.mqtt.client as mqtt

from contract.config import MqttSettings, read_secret
from contract.errors import ConfigError


def endpoint(url: str) -> tuple[str, int, bool]:
    """Host, port and whether to use TLS, from `mqtt://host:port` or `mqtts://host:port`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"mqtt url {url!r} must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def make_client(settings: MqttSettings, client_id: str, manual_ack: bool = False) -> mqtt.Client:
    """A v5 client, not yet connected; the caller sets callbacks, a will, then connects."""
    _, _, tls = endpoint(settings.url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=settings.client_id or client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    if settings.username:
        client.username_pw_set(settings.username, read_secret(settings.password_file))
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


def connect(
    client: mqtt.Client,
    settings: MqttSettings,
    clean_start: bool = False,
    receive_maximum: int | None = None,
) -> None:
    """Start connecting in paho's network thread; reconnects happen there too.
    `receive_maximum` is how many unacknowledged QoS 1 messages the broker may send us."""
    host, port, _ = endpoint(settings.url)
    properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    # A persistent session survives a day offline, so queued QoS 1 messages wait for us.
    properties.SessionExpiryInterval = 24 * 3600
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    client.connect_async(host, port, keepalive=30, clean_start=clean_start, properties=properties)
    client.loop_start()
