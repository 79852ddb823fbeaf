"""A real Mosquitto running the shipped template, with logins made by `barbell provision`, as an
operator would set one up (docs/security.md)."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec
from paho.mqtt.reasoncodes import ReasonCode

from barbell.cli import main
from barbell.services import LocalMosquitto, issue_certificates
from contract.config import MqttSettings, load
from contract.mqtt import connect, make_client
from contract.topics import SHARED_INGEST, shared_ingest
from edge.config import EdgeConfig
from server.config import ServerConfig
from tests.helpers import wait_for


class ProvisionedBroker:
    """A LocalMosquitto whose config is `barbell provision broker`'s, with its own CA."""

    def __init__(self) -> None:
        self.daemon = LocalMosquitto()
        self.dir = self.daemon.dir
        self.conf = self.dir / "conf"
        self.logins = self.dir / "logins"
        issue_certificates(self.dir)
        self.provision(
            "broker",
            "--dir", str(self.conf),
            "--certfile", str(self.dir / "server.pem"),
            "--keyfile", str(self.dir / "server.key"),
            "--port", str(self.daemon.port),
            "--bind", "127.0.0.1",
            "--state-dir", str(self.dir),
            # Stay the current user: dropping to `mosquitto` would clear PR_SET_PDEATHSIG.
            "--run-as", getpass.getuser(),
        )  # fmt: skip
        self.daemon.config_file = self.conf / "mosquitto.conf"
        self.logins_of: dict[str, MqttSettings] = {}  # user → the settings provisioned last
        self.shared_ingest = SHARED_INGEST  # until a server is provisioned: then its own group

    @property
    def url(self) -> str:
        return f"mqtts://127.0.0.1:{self.daemon.port}"

    @property
    def ca_file(self) -> Path:
        return self.dir / "ca.pem"

    @staticmethod
    def provision(*argv: str) -> None:
        assert main(["provision", *argv]) == 0

    def login(self, role: str, *argv: str, url: str | None = None) -> Path:
        """`barbell provision ROLE …` against this broker; the directory it wrote."""
        out = self.logins / "-".join(a for a in argv if not a.startswith("--"))
        self.provision(
            role, *argv,
            "--broker-dir", str(self.conf),
            "--url", url or self.url,
            "--ca-file", str(self.ca_file),
            "--out", str(out),
            "--installed-dir", str(out),  # the settings name the files where they are
        )  # fmt: skip
        return out

    def station(self, gym: str, station: str) -> EdgeConfig:
        """Provision a station; its edge.toml loaded as the daemon would."""
        out = self.login("station", "--gym", gym, "--id", station)
        config = load(EdgeConfig, out / "edge.toml")
        self.logins_of[f"{station}@{gym}"] = config.mqtt
        return config

    def coach(self, gym: str, name: str) -> MqttSettings:
        out = self.login("coach", "--gym", gym, "--name", name)
        settings = self.logins_of[f"{name}@{gym}"] = load(_MqttOnly, out / "coach.toml").mqtt
        return settings

    def server(self, name: str) -> MqttSettings:
        out = self.login("server", "--name", name)
        config = load(ServerConfig, out / "server.toml")
        self.shared_ingest = shared_ingest(config.ingest.share_group)  # the servers' secret
        settings = self.logins_of[name] = config.mqtt
        return settings

    def reload(self) -> None:
        """What `systemctl reload mosquitto` does: reread the password and ACL files."""
        assert self.daemon.pid is not None
        os.kill(self.daemon.pid, signal.SIGHUP)

    def __enter__(self) -> Self:
        self.daemon.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.daemon.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _MqttOnly(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """coach.toml and server.toml: the [mqtt] section of the settings."""

    mqtt: MqttSettings


class Client:
    """A paho client that records what the broker said: CONNACK, PUBACK and SUBACK reason
    codes, and the messages it got."""

    def __init__(
        self, settings: MqttSettings, client_id: str, wait: bool = True, persistent: bool = False
    ) -> None:
        """`persistent`: keep the session (and what is queued for it) while away."""
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, ReasonCode] = {}
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = make_client(settings, client_id)
        self.client.on_connect = self._on_connect
        self.client.on_publish = lambda c, u, mid, reason, p: self.pubacks.__setitem__(mid, reason)
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.subacks.__setitem__(
            mid, reasons
        )
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        connect(self.client, settings, clean_start=not persistent)
        if wait:
            wait_for(lambda: self.connack is not None, what=f"CONNACK for {client_id}")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        self.connack = reason

    def publish(self, topic: str, payload: bytes = b"{}") -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        wait_for(lambda: mid in self.pubacks, what=f"PUBACK for {topic}")
        return self.pubacks[mid]

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK's reason code."""
        _, mid = self.client.subscribe(topic, qos=1)
        wait_for(lambda: mid in self.subacks, what=f"SUBACK for {topic}")
        return self.subacks[mid][0]

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


NOT_AUTHORIZED = 0x87  # Mosquitto's PUBACK and CONNACK reason code for a denial
