"""The instant form cue on the bar: a buzzer and an LED (gpiozero), in the background.

One short beep and flash for a warning, three for a critical fault, so a lifter can tell them
apart without looking. Pins come from the settings; tests give gpiozero a MockFactory.
"""

from __future__ import annotations

from gpiozero import LED, Buzzer

BEEP_S = 0.08


class FormCue:
    def __init__(self, buzzer_pin: int | str, led_pin: int | str) -> None:
        self._buzzer = Buzzer(buzzer_pin)
        self._led = LED(led_pin)

    def signal(self, severity: str) -> None:
        """Start the pattern and return at once: the sampling loop must not wait for it."""
        times = 3 if severity == "critical" else 1
        self._buzzer.beep(on_time=BEEP_S, off_time=BEEP_S, n=times, background=True)
        self._led.blink(on_time=BEEP_S, off_time=BEEP_S, n=times, background=True)

    def close(self) -> None:
        self._buzzer.close()
        self._led.close()
