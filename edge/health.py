"""The station's health, counted from the samples as they arrive and reported every period."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from contract.messages import HealthMessage
from contract.recording import Chunk

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")  # millidegrees on a Raspberry Pi


class Health:
    def __init__(self, gym: str, station: str, period_s: float = 10.0) -> None:
        self.gym, self.station, self.period_s = gym, station, period_s
        self._since = time.monotonic()
        self._samples = 0
        self._dropped = 0
        self._last_t: float | None = None

    def count(self, chunk: Chunk, nominal_hz: float) -> None:
        """Samples that arrived, and those missing where timestamps jump by more than one period."""
        if len(chunk) == 0:
            return
        self._samples += len(chunk)
        t = chunk.t if self._last_t is None else np.concatenate([[self._last_t], chunk.t])
        self._dropped += int(np.maximum(np.round(np.diff(t) * nominal_hz) - 1, 0).sum())
        self._last_t = float(chunk.t[-1])

    def due(self) -> bool:
        return time.monotonic() - self._since >= self.period_s

    def report(self, outbox_depth: int) -> HealthMessage:
        """The figures for the period just ended; counting starts again."""
        now = time.monotonic()
        elapsed = max(now - self._since, 1e-9)
        message = HealthMessage(
            gym=self.gym,
            station=self.station,
            t=time.time(),
            sample_rate_hz=round(self._samples / elapsed, 1),
            dropped_samples=self._dropped,
            outbox_depth=outbox_depth,
            cpu_temp_c=cpu_temperature(),
        )
        self._since, self._samples, self._dropped = now, 0, 0
        return message


def cpu_temperature() -> float | None:
    try:
        return round(int(THERMAL.read_text()) / 1000, 1)
    except (OSError, ValueError):
        return None
