"""When the bar is still: a statistical test on a short window, scaled to the noise it measures.

As in foot-mounted navigation's zero-velocity detectors (SHOE, Skog et al. 2010), a window is still
when its accelerometer and gyro spread about their own means are small against their noise:

    T = var(a) / σa² + var(ω) / σω²  <  threshold

Spread about the window's mean needs no gyro bias, so a cheap gyro's offset of several °/s cannot
hide a rest, and no reference learned at one rest can shut out the next. σa and σω are not
datasheet figures: they are the spread of the quietest windows seen lately (a low quantile over
the last minute), so a hand-held bar's tremor sets its own floor, and the floor follows the bar.

Spread alone cannot tell a pause from a steady acceleration, which a low-rate or smoothed stream
(a Bluetooth IMU at 30 Hz) makes as smooth as a rest: a deadlift lowered at 1.5 m/s² read as
still, and the rests it gave swallowed the reps. A still bar reads gravity alone, so a calm window
must also read |a| within `gravity_band_mps2` of the latest calm windows (SHOE's own second term,
against a reference that follows the bar: an accelerometer's offsets make |g| read differently as
the bar turns, so the reference is the median of only the last few calm windows).

Still is not at rest: a bar moving at a steady speed is as still to the sensor as one lying on
the hooks. The track decides rests from this and from the velocity.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class StillnessSettings:
    window_s: float = 0.2
    threshold: float = 8.0  # noise alone gives T ≈ 2 (one per sensor)
    floor_quantile: float = 0.1  # the floor is this quantile of the recent windows' spread
    floor_history_s: float = 60.0
    # Spread floors never go below these (quantisation, and an interpolated low-rate stream
    # that is smoother than any sensor), nor is a window with more spread than the cap still.
    least_accel_mps2: float = 0.004
    least_gyro_radps: float = 0.0008
    most_accel_mps2: float = 0.35
    # Lying still, not held: spreads (standard deviations) no hand can keep under.
    lying_accel_mps2: float = 0.05
    lying_gyro_radps: float = 0.01
    # |a| further than this from the median of the last `calm_windows` calm windows is a steady
    # acceleration, not a pause.
    gravity_band_mps2: float = 0.4
    calm_windows: int = 5


@dataclass(frozen=True)
class Still:
    """Per cell: the window ending there is still (`quiet`), and lying still: as quiet as a bar
    on a rack, the floor or the body, not held in the hands (`at_rest`); its mean gyro (rad/s,
    n×3) and |a| (m/s²)."""

    quiet: np.ndarray
    at_rest: np.ndarray
    gyro_mean_radps: np.ndarray
    accel_norm_mps2: np.ndarray


class Stillness:
    def __init__(self, period_s: float, settings: StillnessSettings | None = None) -> None:
        s = self.settings = settings or StillnessSettings()
        self.window = max(3, round(s.window_s / period_s))
        self._tail = np.empty((0, 6))  # the last window − 1 cells: accel, gyro
        history = max(10, round(s.floor_history_s / s.window_s))
        self._spreads_a, self._spreads_g = _SortedWindow(history), _SortedWindow(history)
        self.floor_accel_mps2 = s.least_accel_mps2 * 4
        self.floor_gyro_radps = s.least_gyro_radps * 4
        self._calm_norms: deque[float] = deque(maxlen=s.calm_windows)
        self.gravity_mps2: float | None = None  # |a| of a still bar lately; None until seen

    def reset(self) -> None:
        """After a break in the stream: no window spans it."""
        self._tail = np.empty((0, 6))

    def update(self, first: int, accel_mps2: np.ndarray, gyro_radps: np.ndarray) -> Still:
        """Cells with global indices first… of a run; windows reach back into earlier cells."""
        n, w = len(accel_mps2), self.window
        joined = np.concatenate([self._tail, np.column_stack([accel_mps2, gyro_radps])])
        self._tail = joined[-(w - 1) :]
        quiet = np.zeros(n, dtype=bool)
        lying = np.zeros(n, dtype=bool)
        gyro_mean = np.full((n, 3), np.nan)
        norm = np.full(n, np.nan)
        if len(joined) < w:
            return Still(quiet, lying, gyro_mean, norm)
        windows = sliding_window_view(joined, w, axis=0)[-n:]  # (m, 6, w), m ≤ n
        m = len(windows)
        spread_a = windows[:, :3].var(axis=2).sum(axis=1)
        spread_g = windows[:, 3:].var(axis=2).sum(axis=1)
        gyro_mean[-m:] = windows[:, 3:].mean(axis=2)
        norm[-m:] = np.linalg.norm(windows[:, :3].mean(axis=2), axis=1)
        index = first + np.arange(n)[-m:]  # global index of each window's last cell
        lying[-m:] = (spread_a < self.settings.lying_accel_mps2**2) & (
            spread_g < self.settings.lying_gyro_radps**2
        )
        # The floor moves only at window boundaries (by global index), so the decisions do not
        # depend on how cells arrive.
        cuts = np.flatnonzero((index + 1) % w == 0).tolist()
        start = 0
        for stop in cuts if cuts and cuts[-1] == m - 1 else [*cuts, m - 1]:
            segment = slice(start, stop + 1)
            statistic = (
                spread_a[segment] / self.floor_accel_mps2**2
                + spread_g[segment] / self.floor_gyro_radps**2
            )
            calm = (statistic < self.settings.threshold) & (
                spread_a[segment] < self.settings.most_accel_mps2**2
            )
            reads = norm[-m:][segment]
            if self.gravity_mps2 is None:
                quiet[-m:][segment] = calm
            else:
                off_gravity = np.abs(reads - self.gravity_mps2)
                quiet[-m:][segment] = calm & (off_gravity < self.settings.gravity_band_mps2)
            if stop in cuts:
                self._learn_floor(float(spread_a[stop]), float(spread_g[stop]))
                if calm[-1]:  # calm, not quiet: the reference never shuts itself out
                    self._learn_gravity(float(reads[-1]))
            start = stop + 1
        return Still(quiet, quiet & lying, gyro_mean, norm)

    def _learn_gravity(self, norm: float) -> None:
        self._calm_norms.append(norm)
        self.gravity_mps2 = float(np.median(self._calm_norms))

    def _learn_floor(self, spread_a: float, spread_g: float) -> None:
        s = self.settings
        self._spreads_a.add(spread_a)
        self._spreads_g.add(spread_g)
        low_a, low_g = (w.quantile(s.floor_quantile) for w in (self._spreads_a, self._spreads_g))
        self.floor_accel_mps2 = max(math.sqrt(low_a), s.least_accel_mps2)
        self.floor_gyro_radps = max(math.sqrt(low_g), s.least_gyro_radps)


class _SortedWindow:
    """The latest `size` values, kept sorted as they come, so a quantile of them needs no sort.
    Read as np.quantile's default (linear) method reads them, to the last bit."""

    def __init__(self, size: int) -> None:
        self._latest: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []

    def add(self, value: float) -> None:
        if len(self._latest) == self._latest.maxlen:
            del self._sorted[bisect.bisect_left(self._sorted, self._latest[0])]
        self._latest.append(value)
        bisect.insort(self._sorted, value)

    def quantile(self, q: float) -> float:
        values, n = self._sorted, len(self._sorted)
        virtual = (n - 1) * q  # where numpy's linear method reads
        if virtual >= n - 1:
            return values[-1]
        if virtual < 0:
            return values[0]
        below = math.floor(virtual)
        a, b, t = values[below], values[below + 1], virtual - below
        return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t
