"""The bar's path through a rep, downsampled for the wire (SPEC section 5, `…/path`).

Taken from the same corrected track rows the rep's metrics come from, on an even grid from the
rep's start to its end, with positions from where the rep began. Linear interpolation is enough:
the track is a double integral at the IMU's rate, far smoother than a 50 Hz grid can show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.analysis.track import PAP, PLAT, TILT, VZ, T, Z

MAX_SAMPLES = 2000  # contract.messages.Samples: a longer rep is sent at a lower rate


@dataclass(frozen=True, eq=False)
class RepPath:
    """Parallel arrays, one entry per sample; `t_s` is seconds from the rep's start."""

    t_s: np.ndarray
    height_m: np.ndarray  # vertical, up positive
    ap_m: np.ndarray  # horizontal, square to the bar
    lateral_m: np.ndarray  # horizontal, along the bar (+ to the lifter's right)
    tilt_deg: np.ndarray  # the bar axis' angle to the horizontal, + right end up
    velocity_mps: np.ndarray  # vertical

    def __len__(self) -> int:
        return int(self.t_s.size)


def downsample(rows: np.ndarray, t_start_s: float, t_end_s: float, rate_hz: float) -> RepPath:
    """The path of track `rows` (covering the rep) on an even grid of about `rate_hz` from
    `t_start_s` to `t_end_s`, both included; positions are zero at `t_start_s`."""
    duration_s = max(t_end_s - t_start_s, 0.0)
    count = min(max(round(duration_s * rate_hz) + 1, 2), MAX_SAMPLES)
    t_s = np.linspace(0.0, duration_s, count)
    if duration_s == 0.0:
        t_s = t_s[:1]  # t_s must rise: a rep of no length is one sample
    at, t = t_start_s + t_s, rows[:, T]
    columns = [np.interp(at, t, rows[:, column]) for column in (Z, PAP, PLAT, TILT, VZ)]
    height, ap, lateral, tilt, velocity = columns
    return RepPath(
        t_s=t_s,
        height_m=height - height[0],
        ap_m=ap - ap[0],
        lateral_m=lateral - lateral[0],
        tilt_deg=tilt,
        velocity_mps=velocity,
    )
