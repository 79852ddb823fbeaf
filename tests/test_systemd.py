"""The systemd units are valid and hardened, and the daemon speaks sd_notify."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).parent.parent / "systemd"


def unit(name: str) -> dict[str, list[str]]:
    """A unit's [Service] settings, each key with all its values (DeviceAllow repeats)."""
    parser = configparser.RawConfigParser(strict=False, dict_type=_Multi)  # type: ignore[arg-type]
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return {key: value.split("\n") for key, value in parser["Service"].items()}


class _Multi(dict):  # type: ignore[type-arg]
    """configparser keeps the last of repeated keys; keep them all, one per line."""

    def __setitem__(self, key: str, value: object) -> None:
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_units_verify() -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, sorted(UNITS.glob("*.service")))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complaints = [line for line in result.stderr.splitlines() if "is not executable" not in line]
    assert complaints == []  # only that /opt/barbell is not installed on a build machine


@pytest.mark.parametrize("name", ["barbell-edge.service", "barbell-server@.service"])
def test_both_units_are_hardened(name: str) -> None:
    service = unit(name)
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictNamespaces": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallFilter": "@system-service",
        "MemoryDenyWriteExecute": "yes",
    }.items():
        assert service[key] == [value], key


def test_the_edge_unit_is_a_watched_notify_service_with_only_its_devices() -> None:
    service = unit("barbell-edge.service")
    assert service["Type"] == ["notify"] and int(service["WatchdogSec"][0]) >= 5
    assert service["StateDirectory"] == ["barbell"]
    assert service["DevicePolicy"] == ["closed"] and "PrivateDevices" not in service
    assert "/dev/i2c-1 rw" in service["DeviceAllow"]
    assert service["SupplementaryGroups"] == ["i2c gpio"]


def test_the_daemon_says_ready_and_pings_the_watchdog(tmp_path: Path) -> None:
    address = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(address))
        listener.settimeout(30)
        environment = {
            **os.environ,
            "NOTIFY_SOCKET": str(address),
            "BARBELL_STATE_DIR": str(tmp_path),
            "BARBELL_SIM_REPS": "1",
            "BARBELL_MQTT_URL": "mqtt://127.0.0.1:9",  # no broker
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "barbell.cli", "edge", "--sensor", "sim"],
            env=environment,
            stderr=subprocess.DEVNULL,
        )
        try:
            states = [listener.recv(100).decode() for _ in range(3)]
        finally:
            process.terminate()
            process.wait(30)
    assert states[0] == "READY=1"
    assert states[1:] == ["WATCHDOG=1", "WATCHDOG=1"]  # a second apart, from the sampling loop
