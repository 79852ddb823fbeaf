"""When the bar is still: a short window in which the accelerometer is flat, |a| is level with
the 1 g read at the last rest, the horizontal acceleration is small and the gyro is quiet.

Flat alone is not still: a smooth descent starts with acceleration so gentle that a short
window sees it flat. Level alone is not enough either: a steady sideways push barely changes
|a| (it adds in quadrature), which the horizontal acceleration does show (it needs no bias: the
AHRS levels the bar to the gravity it measures). Level is looser after the bar has turned:
zero-g offsets shift |a| at rest by a few hundredths of g in each new orientation. Each window
is judged when its last sample arrives, so a rest is known one window after it began.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StillnessSettings:
    window_s: float = 0.06
    accel_ptp_mps2: float = 0.3  # largest swing of any accelerometer axis within the window
    gyro_radps: float = 0.05  # a resting bar turns less than 3 °/s (breathing, settling)
    level_mps2: float = 0.1  # |a| within this of the last rest's 1 g throughout the window…
    level_mps2_per_rad: float = 0.5  # …plus this per radian turned since (offsets, cross-axis)
    horizontal_mps2: float = 0.5  # …plus this per radian turned: the attitude errs after a roll
    horizontal_mps2_per_rad: float = 0.5


class Stillness:
    def __init__(self, settings: StillnessSettings | None = None) -> None:
        self.settings = settings or StillnessSettings()
        self._tail_accel = np.zeros((0, 3))
        self._tail_unsettled = np.zeros(0, dtype=bool)
        self.window = 0  # samples, set from the sample rate

    def reset(self) -> None:
        self._tail_accel = np.zeros((0, 3))
        self._tail_unsettled = np.zeros(0, dtype=bool)

    def update(
        self,
        accel_mps2: np.ndarray,
        accel_norm_mps2: np.ndarray,
        gyro_norm_radps: np.ndarray,
        horizontal_mps2: np.ndarray,
        period_s: float,
        rest_g_mps2: float | None,
        turned_rad: float,
    ) -> np.ndarray:
        """quiet[i]: the window ending at sample i was still throughout.

        The norms are |a| and |ω| per sample; `horizontal_mps2` is the earth-frame
        horizontal acceleration (n×2);
        `rest_g_mps2` is |a| at the last rest (None before the first), `turned_rad` how far
        the bar has turned since.
        """
        s = self.settings
        self.window = window = max(2, round(s.window_s / period_s))
        accel = np.concatenate([self._tail_accel, accel_mps2])
        unsteady = gyro_norm_radps > s.gyro_radps
        horizontal_limit = s.horizontal_mps2 + s.horizontal_mps2_per_rad * turned_rad
        unsteady |= np.hypot(horizontal_mps2[:, 0], horizontal_mps2[:, 1]) > horizontal_limit
        if rest_g_mps2 is not None:
            tolerance = s.level_mps2 + s.level_mps2_per_rad * turned_rad
            unsteady |= np.abs(accel_norm_mps2 - rest_g_mps2) > tolerance
        unsettled = np.concatenate([self._tail_unsettled, unsteady])
        self._tail_accel, self._tail_unsettled = accel[-(window - 1) :], unsettled[-(window - 1) :]
        quiet = np.zeros(accel_mps2.shape[0], dtype=bool)
        if accel.shape[0] < window:
            return quiet
        # For each full window: max and −min of every axis in one pass, and whether any
        # sample in it was unsettled (a running count).
        extremes = trailing_max(np.hstack([accel, -accel]), window)
        flat = (extremes[:, :3] + extremes[:, 3:]).max(axis=1) < s.accel_ptp_mps2
        count = np.concatenate([[0], np.cumsum(unsettled)])
        calm = count[window:] == count[:-window]
        judged = flat & calm  # one per window ending at accel[window - 1:]
        quiet[-judged.size :] = judged[-quiet.size :]
        return quiet


def trailing_max(values: np.ndarray, window: int) -> np.ndarray:
    """Per column, the max of each full window of rows: row i of the result covers rows
    i … i + window − 1 of `values`. O(n) whatever the window (van Herk and Gil-Werman's prefix
    and suffix maxima over blocks), in numpy, so the edge needs no scipy."""
    n, columns = values.shape
    blocks = -(-n // window)
    padded = np.full((blocks * window, columns), -np.inf)
    padded[:n] = values
    shaped = padded.reshape(blocks, window, columns)
    prefix = np.maximum.accumulate(shaped, axis=1).reshape(-1, columns)
    suffix = np.maximum.accumulate(shaped[:, ::-1], axis=1)[:, ::-1].reshape(-1, columns)
    return np.maximum(suffix[: n - window + 1], prefix[window - 1 : n])
