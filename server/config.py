"""The server's settings (SPEC section 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.config import MqttSettings, Section
from contract.topics import ID_PATTERN, SHARE_GROUP
from server.advice import AdviceSettings
from server.alerts import AlertSettings


class InfluxSettings(Section):
    url: str = "http://127.0.0.1:8086"
    api: Literal[1, 2] = 1
    # 1.x
    database: str = "barbell"
    retention_policy: str | None = None
    username: str | None = None
    password_file: Path | None = None
    # 2.x / 3.x
    org: str | None = None
    bucket: str | None = None
    token_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"influx.url {self.url!r} must start with http:// or https://")
        if self.api == 2 and not (self.org and self.bucket):
            raise ValueError("influx.api = 2 needs influx.org and influx.bucket")


class IngestSettings(Section):
    batch_lines: Annotated[int, Meta(ge=1, le=100_000)] = 5000  # points per InfluxDB write
    # …and bytes per write request: InfluxDB 1.x resets the connection on a body over its
    # `max-body-size` (25 MB by default), which reads as an outage and would be retried for ever.
    request_bytes: Annotated[int, Meta(ge=64 * 1024)] = 4 * 1024 * 1024
    # Once the queue runs dry, how long to wait for more before writing: 0 writes at once, so
    # batches grow by themselves under load (group commit) and stay small, and quick, when calm.
    batch_s: Annotated[float, Meta(ge=0, le=10)] = 0.0
    # Unacknowledged messages the broker may send ahead: enough to fill a batch, few enough
    # that a backlog of paths (some 40 KB each in memory) held through an outage stays small.
    receive_maximum: Annotated[int, Meta(ge=1, le=65535)] = 2000
    max_payload_bytes: Annotated[int, Meta(ge=1024)] = 256 * 1024
    max_ahead_s: Annotated[float, Meta(ge=0)] = 3600.0  # a station clock this far ahead is wrong
    # …or this far behind (a Pi without a real-time clock booted in 1970): older than an outbox
    # holds, and each old week would be an InfluxDB shard of its own.
    max_behind_s: Annotated[float, Meta(ge=0)] = 400 * 86400.0
    # The servers' share group, and the start of their client ids. On a broker with logins, a
    # secret that `barbell provision server` draws: Mosquitto 2.0.11 lets any login join a share
    # group it can name, hands it every other message and drops them at its read check; and a
    # login that takes a server's client id takes the backlog queued for it.
    share_group: Annotated[str, Meta(pattern=ID_PATTERN)] = SHARE_GROUP
    # A server that stops while another is up settles what it holds for up to this long, then
    # hands its share back; an InfluxDB outage that outlasts it leaves its session to hold them.
    hand_back_s: Annotated[float, Meta(ge=0, le=60)] = 20.0


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    influx: InfluxSettings = msgspec.field(default_factory=InfluxSettings)
    ingest: IngestSettings = msgspec.field(default_factory=IngestSettings)
    alerts: AlertSettings = msgspec.field(default_factory=AlertSettings)
    advice: AdviceSettings = msgspec.field(default_factory=AdviceSettings)
