"""Telling systemd how the daemon is (sd_notify): ready once it runs, and alive while the sampling
loop turns. Outside systemd (no NOTIFY_SOCKET) every call does nothing."""

from __future__ import annotations

import os
import socket
import time

PING_EVERY_S = 1.0  # well inside any WatchdogSec worth setting


class Systemd:
    def __init__(self) -> None:
        address = os.environ.get("NOTIFY_SOCKET")
        if address and address.startswith("@"):
            address = "\0" + address[1:]  # an abstract socket
        self._address = address
        self._last_ping = 0.0

    def _send(self, state: str) -> None:
        if not self._address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), self._address)

    def ready(self) -> None:
        self._send("READY=1")

    def alive(self) -> None:
        """Called from the sampling loop: a loop that stalls stops the pings, and systemd
        restarts the daemon."""
        now = time.monotonic()
        if now - self._last_ping >= PING_EVERY_S:
            self._last_ping = now
            self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")
