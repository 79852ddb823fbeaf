"""Layered settings (SPEC section 8): a TOML file, then `BARBELL_<SECTION>_<KEY>` environment
variables, then command-line flags, each overriding the one before, validated once by msgspec.
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, get_origin, get_type_hints

import msgspec

from contract.errors import ConfigError

T = TypeVar("T", bound=msgspec.Struct)
ENV_PREFIX = "BARBELL_"


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of a config section: unknown keys are errors, so a typo is caught at start-up."""


class MqttSettings(Section):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password_file: Path | None = None
    client_id: str | None = None
    # TLS (mqtts:// only): the CA that signed the broker's certificate (default: the system's
    # CAs), and a client certificate for brokers that ask for one.
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.url.startswith(("mqtt://", "mqtts://")):
            raise ValueError(f"mqtt.url {self.url!r} must start with mqtt:// or mqtts://")
        parts = urllib.parse.urlsplit(self.url)
        try:
            parts.port  # noqa: B018 (urllib checks the port when it is read)
        except ValueError:
            raise ValueError(f"mqtt.url {self.url!r}: the port must be 0–65535") from None
        if not parts.hostname:
            raise ValueError(f"mqtt.url {self.url!r} names no host")
        tls_files = {
            "ca_file": self.ca_file,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
        }
        for key, path in tls_files.items():
            if path is not None and not self.url.startswith("mqtts://"):
                raise ValueError(f"mqtt.{key} needs an mqtts:// url, not {self.url!r}")
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("mqtt.key_file needs mqtt.cert_file")
        if self.password_file is not None and not self.username:
            raise ValueError("mqtt.password_file needs mqtt.username")
        # Missing files are caught here, so --check-config finds them; their contents are
        # checked when the client is made, before it connects (contract.mqtt).
        for key, path in {**tls_files, "password_file": self.password_file}.items():
            if path is not None and not path.is_file():
                raise ValueError(f"mqtt.{key} {path}: no such file")


def read_secret(path: Path | None) -> str | None:
    """A secret from its file, stripped of the trailing newline editors add."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {path}: {exc.strerror}") from None


def load(
    cls: type[T],
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> T:
    """Merge the three sources into `cls`; any bad value raises one ConfigError naming it."""
    merged: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            with path.open("rb") as file:
                document = tomllib.load(file)
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
        for section, values in document.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            merged[section] = dict(values)
    _merge(merged, _from_environment(cls, os.environ if environ is None else environ))
    _merge(
        merged,
        {s: {k: v for k, v in kv.items() if v is not None} for s, kv in (flags or {}).items()},
    )
    try:
        return msgspec.convert(merged, cls, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid setting{where}: {exc}") from None


def _decode(kind: type, value: Any) -> Any:
    """Types msgspec leaves to us: paths, from TOML strings or environment variables."""
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def _merge(into: dict[str, dict[str, Any]], layer: Mapping[str, Mapping[str, Any]]) -> None:
    for section, values in layer.items():
        into.setdefault(section, {}).update(values)


def _from_environment(
    cls: type[msgspec.Struct], environ: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    layer: dict[str, dict[str, Any]] = {}
    for section, section_type in get_type_hints(cls).items():
        if not (isinstance(section_type, type) and issubclass(section_type, msgspec.Struct)):
            continue  # only flat sections have BARBELL_<SECTION>_<KEY> variables
        for key, key_type in get_type_hints(section_type).items():
            value = environ.get(f"{ENV_PREFIX}{section}_{key}".upper())
            if value is None:
                continue
            # Lists come as comma-separated text: BARBELL_SIM_FAULTS=momentum:0.8,bar_tilt
            layer.setdefault(section, {})[key] = (
                [item.strip() for item in value.split(",") if item.strip()]
                if get_origin(key_type) is list
                else value
            )
    return layer
