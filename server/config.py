"""The server's settings (SPEC section 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from contract.config import MqttSettings, Section


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


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    influx: InfluxSettings = msgspec.field(default_factory=InfluxSettings)
