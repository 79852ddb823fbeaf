"""The station's push button (gpiozero): what a lifter can do without a phone.

A press closes the set in progress, so the next rep starts a new one; holding it zeroes the
load cells (with the bar resting and unloaded). Each becomes a command in the station's inbox,
so it takes the same path, checks and log as one sent on `…/cmd`.
"""

from __future__ import annotations

from collections.abc import Callable

from gpiozero import Button

from contract.messages import CommandMessage


class StationButton:
    def __init__(
        self, pin: int | str, hold_s: float, command: Callable[[CommandMessage], None]
    ) -> None:
        self._button = Button(pin, hold_time=hold_s)
        self._command = command
        self._held = False
        self._button.when_held = self._on_held
        self._button.when_released = self._on_released

    def _on_held(self) -> None:
        self._held = True
        self._command(CommandMessage(action="tare"))

    def _on_released(self) -> None:
        if not self._held:  # the release that ends a hold is not also a press
            self._command(CommandMessage(action="start_set"))
        self._held = False

    def close(self) -> None:
        self._button.close()
