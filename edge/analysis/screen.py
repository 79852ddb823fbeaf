"""Bad samples: NaN readings are dropped (the time base bridges or breaks the hole they leave);
readings at the IMU's rails are clipped, a drop or an impact, and are marked so that no velocity
is derived across them (SPEC section 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.recording import Chunk
from edge.analysis.units import DEG_PER_RAD, G

ACCEL_RANGE_MPS2 = 16 * G  # the IMU's full scale
GYRO_RANGE_RADPS = 2000 / DEG_PER_RAD
RAIL = 0.998  # a reading this close to full scale is at the rail


@dataclass(frozen=True)
class Screened:
    chunk: Chunk  # the rows with finite readings
    clipped: np.ndarray  # per row of `chunk`: a reading at a rail
    nan_rows: int
    first_nan_t: float | None
    first_clipped_t: float | None


def screen(chunk: Chunk) -> Screened:
    # The common case in two reductions: a NaN makes the max NaN, and NaN < x is False.
    if (
        np.abs(chunk.accel_mps2).max(initial=0.0) < ACCEL_RANGE_MPS2 * RAIL
        and np.abs(chunk.gyro_radps).max(initial=0.0) < GYRO_RANGE_RADPS * RAIL
    ):
        return Screened(chunk, np.zeros(len(chunk), dtype=bool), 0, None, None)
    finite = np.isfinite(chunk.accel_mps2).all(axis=1) & np.isfinite(chunk.gyro_radps).all(axis=1)
    with np.errstate(invalid="ignore"):
        clipped = (np.abs(chunk.accel_mps2) >= ACCEL_RANGE_MPS2 * RAIL).any(axis=1)
        clipped |= (np.abs(chunk.gyro_radps) >= GYRO_RANGE_RADPS * RAIL).any(axis=1)
    clipped &= finite
    return Screened(
        chunk[finite],
        clipped[finite],
        int((~finite).sum()),
        float(chunk.t[~finite][0]) if not finite.all() else None,
        float(chunk.t[clipped][0]) if clipped.any() else None,
    )
