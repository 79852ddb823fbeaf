"""Commands to the station on `…/cmd`: validated as they arrive, applied by the sampling loop
between drains. A bad one is refused in one clear line and the station carries on."""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable

import msgspec

from contract.messages import CommandMessage, decode

log = logging.getLogger(__name__)


class CommandInbox:
    def __init__(self, report: Callable[[str], None]) -> None:
        """`report` hears of each refusal (the daemon logs it and publishes it on `…/health`)."""
        self._waiting: queue.SimpleQueue[CommandMessage] = queue.SimpleQueue()
        self._report = report

    def deliver(self, payload: bytes) -> None:
        """Called on the MQTT thread with each `…/cmd` payload."""
        try:
            command = decode(payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            self._report(f"command refused: {exc}")
            return
        if not isinstance(command, CommandMessage):
            self._report(f"command refused: a {type(command).__name__} is not a command")
            return
        self.put(command)

    def put(self, command: CommandMessage) -> None:
        """A command from the button, or one decoded from `…/cmd`; any thread may call it."""
        log.info("command: %s", command.action)
        self._waiting.put(command)

    def take(self) -> list[CommandMessage]:
        """Everything that arrived since the last call, in order."""
        taken = []
        while not self._waiting.empty():
            taken.append(self._waiting.get_nowait())
        return taken
