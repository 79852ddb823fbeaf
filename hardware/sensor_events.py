"""Sensor faults the simulator can stage, labelled in the truth: what users meet on real bars.

An event spec reads `kind:t_s[:duration_s]`:
- `impact:12.5` — the bar is dropped or knocked: a 20 ms shock well past ±16 g and ±2000 dps,
  which the IMU model clips at its rails (saturation);
- `nan:4.0:0.01` — the readings are NaN for 10 ms (a corrupted FIFO packet);
- `gone:8.0:0.5` — the device stops answering for 0.5 s: no rows at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from contract.errors import InputError

Kind = Literal["impact", "nan", "gone"]
DEFAULT_DURATION_S: dict[str, float] = {"impact": 0.02, "nan": 0.01, "gone": 0.5}
SHOCK_MPS2 = 40 * 9.80665  # a steel bar landing on plates: far past the ±16 g range
SHOCK_RADPS = np.radians(3000)


@dataclass(frozen=True)
class SensorEvent:
    kind: Kind
    t_s: float
    duration_s: float

    @property
    def t_end_s(self) -> float:
        return self.t_s + self.duration_s

    @classmethod
    def parse(cls, text: str) -> SensorEvent:
        kind, _, rest = text.strip().partition(":")
        if kind not in DEFAULT_DURATION_S:
            raise InputError(f"unknown sensor event {kind!r}; choose from impact, nan, gone")
        try:
            numbers = [float(n) for n in rest.split(":")] if rest else []
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 2 or min(numbers) < 0:
            raise InputError(f"sensor event {text!r} must look like {kind}:12.5[:0.5]")
        duration = numbers[1] if len(numbers) == 2 else DEFAULT_DURATION_S[kind]
        return cls(kind, numbers[0], duration)  # type: ignore[arg-type]

    def during(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.t_s) & (t < self.t_end_s)


def add_shocks(
    events: tuple[SensorEvent, ...], t: np.ndarray, force: np.ndarray, rate: np.ndarray
) -> None:
    """Add each impact's shock to the true specific force and rate, before the sensor reads."""
    for event in events:
        if event.kind == "impact":
            hit = event.during(t)
            phase = np.sin(np.pi * (t[hit] - event.t_s) / event.duration_s)
            force[hit] += phase[:, None] * SHOCK_MPS2 * np.array([0.2, -0.5, 1.0])
            rate[hit] += phase[:, None] * SHOCK_RADPS * np.array([1.0, 0.3, -0.4])


def corrupt(
    events: tuple[SensorEvent, ...], t: np.ndarray, accel: np.ndarray, gyro: np.ndarray
) -> np.ndarray:
    """NaN the readings of `nan` events; returns the mask of rows that `gone` events remove."""
    keep = np.ones(t.shape, dtype=bool)
    for event in events:
        if event.kind == "nan":
            accel[event.during(t)] = np.nan
            gyro[event.during(t)] = np.nan
        elif event.kind == "gone":
            keep &= ~event.during(t)
    return keep
