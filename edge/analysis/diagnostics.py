"""What the analysis saw, so that a result it cannot vouch for comes with its reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.analysis.attitude import Attitude
from edge.analysis.strokes import Boundary, Stroke
from edge.analysis.timebase import Timebase
from edge.analysis.units import DEG_PER_RAD


@dataclass
class Diagnostics:
    samples: int = 0
    duplicates: int = 0  # rows dropped for a repeated or backward stamp
    span_s: float = 0.0
    holes: int = 0  # holes too long to bridge
    gyro_offset_dps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    accel_offset_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0)  # sensor frame
    frame_problem: str | None = None
    strokes: int = 0
    rests: int = 0  # strokes that ended with the bar still
    reps: int = 0
    # Reps measured where the accelerometer's offset was not trusted (offset.py: no rest, nor
    # readings that agree, had confirmed it): their ROM and velocity are less sure.
    unconfirmed: int = 0
    aside: Counter[str] = field(default_factory=Counter)  # strokes no rep took, by why

    def seen(self, timebase: Timebase, attitude: Attitude) -> None:
        self.samples, self.duplicates = timebase.samples, timebase.duplicates
        self.span_s = timebase.span_s
        self.gyro_offset_dps = _rounded(attitude.gyro_bias_radps * DEG_PER_RAD, 2)
        self.frame_problem = attitude.frame_problem

    def stroke(self, stroke: Stroke) -> None:
        self.strokes += 1
        self.rests += stroke.ends is Boundary.REST
        self.accel_offset_mps2 = _rounded(np.array(stroke.accel_offset_mps2), 3)

    def set_aside(self, why: str) -> None:
        self.aside[why] += 1

    @property
    def rate_hz(self) -> float:
        return self.samples / self.span_s if self.span_s > 0 else 0.0

    def no_reps_reason(self) -> str:
        """One line on why no rep was found."""
        if self.samples < 2:
            return "no samples"
        if self.frame_problem:
            return f"no reps: {self.frame_problem}"
        if self.strokes == 0:
            return (
                f"no reps: the bar never moved as far as a rep in {self.span_s:.1f} s "
                f"({self.rate_hz:.0f} Hz)"
            )
        why = ", ".join(f"{n} {reason}" for reason, n in self.aside.most_common())
        return (
            f"no reps: {self.strokes} strokes up or down in {self.span_s:.1f} s, none came back "
            f"the way a rep does" + (f" ({why})" if why else "")
        )

    def summary(self) -> str:
        gx, gy, gz = self.gyro_offset_dps
        return (
            f"{self.samples} samples over {self.span_s:.1f} s ({self.rate_hz:.0f} Hz), "
            f"{self.duplicates} duplicates dropped, {self.holes} holes too long to bridge; "
            f"gyro offset ({gx:.1f}, {gy:.1f}, {gz:.1f}) °/s; {self.strokes} strokes, "
            f"{self.rests} ending at rest, {self.reps} reps"
            + (
                f" ({self.unconfirmed} measured with an accelerometer offset no rest confirmed:"
                " ROM and velocity less sure)"
                if self.unconfirmed
                else ""
            )
        )


def _rounded(values: np.ndarray, digits: int) -> tuple[float, float, float]:
    x, y, z = (round(float(v), digits) for v in values)
    return x, y, z
