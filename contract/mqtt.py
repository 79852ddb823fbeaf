"""Connecting to the broker named by the `[mqtt]` settings: MQTT v5, paho 2.x callbacks."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import urllib.parse

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from contract.config import MqttSettings, read_secret
from contract.errors import ConfigError

log = logging.getLogger(__name__)
# Mosquitto answers a wrong password with 0x87 (not authorized), other brokers with 0x86.
_CREDENTIALS_HINT = "check mqtt.username and mqtt.password_file against the broker's users"
_REFUSAL_HINTS = {0x86: _CREDENTIALS_HINT, 0x87: _CREDENTIALS_HINT}


def endpoint(url: str) -> tuple[str, int, bool]:
    """Host, port and whether to use TLS, from `mqtt://host:port` or `mqtts://host:port`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(f"mqtt url {url!r} must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (8883 if tls else 1883), tls


def make_client(settings: MqttSettings, client_id: str, manual_ack: bool = False) -> mqtt.Client:
    """A v5 client, not yet connected; the caller sets callbacks, a will, then connects.
    `client_id` is used as given: a caller that lets the settings name one says so.

    Unreadable or malformed certificates and password files raise ConfigError here, at start-up.
    """
    _, _, tls = endpoint(settings.url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if tls:
        client.tls_set_context(tls_context(settings))
    if settings.username:
        client.username_pw_set(settings.username, read_secret(settings.password_file))
    # Doubles after each failed attempt, refused ones included; only a successful CONNACK
    # resets it, so a wrong password costs the broker one attempt every 30 s.
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.on_connect_fail = lambda client, userdata: _log_connect_failure(settings.url)
    # paho's own errors name what no callback hears, e.g. a TLS alert after the handshake
    # from a broker that wants a client certificate.
    client.enable_logger(_PAHO_LOG)
    # A callback that fails (an outbox on a full disk) is logged there, and the network thread
    # lives on: raised, it would end the thread, and with it every reconnect.
    client.suppress_exceptions = True
    client.on_socket_open = _no_delay
    return client


def _no_delay(client: mqtt.Client, userdata: object, sock: object) -> None:
    """MQTT packets are small and answered one by one: Nagle's algorithm would hold each behind
    the last one's delayed TCP ack, some 40 ms a time."""
    if isinstance(sock, socket.socket):  # TLS sockets are socket.socket too
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _not_a_clean_shutdown(record: logging.LogRecord) -> bool:
    """paho 2.x logs an error when its network thread turns once more after a clean disconnect;
    nothing is wrong, so nobody should be alarmed by it."""
    return "Client is not connected" not in record.getMessage()


_PAHO_LOG = logging.getLogger("paho.mqtt")
_PAHO_LOG.addFilter(_not_a_clean_shutdown)


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """Verify the broker's certificate and name against `ca_file`, else the system's CAs."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"mqtt.ca_file {settings.ca_file}: not a CA certificate ({exc})"
        ) from None
    if settings.cert_file is not None:
        try:
            # An encrypted key would make OpenSSL prompt on the terminal: refuse it instead.
            context.load_cert_chain(settings.cert_file, settings.key_file, password=_no_password)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"mqtt.cert_file {settings.cert_file} / key_file {settings.key_file}: "
                f"not a certificate and its unencrypted key ({exc})"
            ) from None
    return context


def _no_password() -> str:
    raise ssl.SSLError("the key is encrypted")


def refusal(settings: MqttSettings, reason: ReasonCode) -> str:
    """One line for the log when the broker answers CONNECT with a failure: who, why, what to do."""
    who = f"user {settings.username!r}" if settings.username else "an anonymous client"
    hint = _REFUSAL_HINTS.get(reason.value, "see the broker's log")
    return f"broker {settings.url} refused {who}: {reason} ({hint})"


def _log_connect_failure(url: str) -> None:
    # paho passes no exception to on_connect_fail, but calls it while handling one.
    error = sys.exception()
    if isinstance(error, ssl.SSLCertVerificationError):
        log.error(
            "broker %s: certificate not trusted: %s (is mqtt.ca_file the CA that signed it?)",
            url,
            error.verify_message,
        )
    else:
        log.warning("cannot reach broker %s: %s; retrying", url, error)


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
