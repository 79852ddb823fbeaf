"""The vertical accelerometer offset: what the sensor reads, along gravity, when the bar's true
acceleration is zero. Zero-g offsets and scale errors of a few hundredths of a g move it, and so
does every change of the bar's attitude, so it is learned all the time from what physics gives:

- where the bar is still (stillness.py) its true acceleration is zero, at rest or at a steady
  speed, so the mean reading there is the offset;
- over a whole cycle between two like turnarounds (bottom to bottom, top to top) the bar is
  back where it was at about the same speed, so the mean acceleration is zero there too. The
  turnarounds are those of a high-passed velocity, which no offset can shift; they lead the true
  ones, but by about the same at two like turns of one rhythm.

What is read along the vertical is the sensor's offset vector (in its own frame) seen along
the vertical: it changes as the bar turns (rolled onto the hips, tilted by a lifter's back, in
the hands through a curl). So each reading keeps the vertical it was read along, and the vector
is fitted to the latest readings by least squares, pulled toward their median along their mean
vertical where the turns seen so far do not pin it down; a reading that strays far from the fit
(a cycle that was really set-up motion) is left out. The offset at any cell is the vector seen
along that cell's vertical.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from edge.analysis.highpass import HighPass

READINGS = 12
REST_READING_S = 0.3  # a rest gives a reading each time it has lasted this long
CYCLE_CUTOFF_HZ = 0.15
CYCLE_HYSTERESIS_M = 0.04
REST_TRUST_S = 20.0  # a reading at rest is a direct measurement: trusted this long
TRUSTED_SPREAD_MPS2 = 0.02  # readings that agree this well are trusted too
# How strongly the fit is pulled toward the median along the mean vertical, in readings' worth:
# turns of a few degrees, against readings' noise of a few hundredths, say little across.
PRIOR_WEIGHT = 0.3
# How well the readings pin the offset down along a vertical u: the fit's leverage there,
# u·N⁻¹·u for its normal matrix N. Small along the readings' verticals and between them, it
# grows as u leaves their span: this much is about 30° from a few readings along one vertical
# (a bar rolled in the hands), or along a single reading.
PINNED_LEVERAGE = 1.0
STRAY_MPS2 = 0.05  # a reading further than this (and 3 MADs) from the fit is left out


class Offset:
    def __init__(self, period_s: float) -> None:
        self.vector = np.zeros(3)  # m/s², sensor frame
        self.spread = np.inf  # the readings' median distance from the fit, m/s²
        self._cells_since_rest = 2**31  # since the latest reading at rest
        self._rest_trust_cells = round(REST_TRUST_S / period_s)
        # Each with the vertical it was read along and whether it came from a rest.
        self._readings: deque[tuple[float, np.ndarray, bool]] = deque(maxlen=READINGS)
        self._up = np.array([0.0, 0.0, 1.0])
        self._inverse = np.eye(3) / PRIOR_WEIGHT  # N⁻¹ of the fit (none yet: the prior)
        self._rest_up = np.zeros(3)  # Σ up over the rest's cells
        self._cycle_up: deque[np.ndarray] = deque(maxlen=2)  # Σ up over each stroke
        self._stroke_up = np.zeros(3)
        self._rest_cells = max(1, round(REST_READING_S / period_s))
        self._rest_sum, self._rest_count, self._rest_lying = 0.0, 0, 0
        self._high_pass = HighPass(CYCLE_CUTOFF_HZ, period_s)
        self._direction = 0
        self._extreme = 0.0
        self._strokes: deque[tuple[float, int]] = deque(maxlen=2)  # Σa and cells of each
        self._sum, self._cells = 0.0, 0

    def still(self, a: float, lying: bool) -> None:
        """A still cell (its raw vertical acceleration, m/s², and whether the bar lies still:
        a direct measurement, not a hand's tremor); a run of them is read in turn."""
        self._rest_sum += a
        self._rest_up += self._up
        self._rest_count += 1
        self._rest_lying += lying
        if self._rest_count == self._rest_cells:
            lying_all = self._rest_lying == self._rest_count
            self._read(self._rest_sum / self._rest_count, self._rest_up, at_rest=lying_all)
            self._rest_sum, self._rest_count, self._rest_up = 0.0, 0, np.zeros(3)
            self._rest_lying = 0

    @property
    def triple(self) -> tuple[float, float, float]:
        """The offset vector as plain numbers, m/s² (sensor frame)."""
        x, y, z = (float(v) for v in self.vector)
        return x, y, z

    def at(self, up: np.ndarray) -> float:
        """The offset along the vertical `up` (a unit vector in the sensor frame), m/s²."""
        return float(up @ self.vector)

    @property
    def trusted(self) -> bool:
        """Good enough to integrate over a stroke: read along the bar's vertical now, and at
        rest lately or by readings that agree with the fit (over a 1.5 s stroke 0.02 m/s² is
        0.03 m/s). Readings that agree along one vertical say nothing of another."""
        recent = self._cells_since_rest < self._rest_trust_cells
        return (recent or self.spread <= TRUSTED_SPREAD_MPS2) and self.pinned_here

    @property
    def pinned_here(self) -> bool:
        """The readings pin the offset down along the bar's vertical now (read along it, or
        between verticals read): rolled onto the hips since, the vector is extrapolated until a
        reading comes along the new one."""
        return float(self._up @ self._inverse @ self._up) <= PINNED_LEVERAGE

    def observe(self, a: float, up: np.ndarray) -> None:
        """Every cell: its raw vertical acceleration (m/s²) and the vertical in the sensor frame
        (unit vector); follows the high-passed motion for whole cycles."""
        self._cells_since_rest += 1
        self._up = up
        self._stroke_up = self._stroke_up + up
        _, height = self._high_pass.update(a)
        self._sum += a
        self._cells += 1
        d = self._direction
        if d == 0:
            if abs(height - self._extreme) >= CYCLE_HYSTERESIS_M:
                self._direction, self._extreme = (1 if height > self._extreme else -1), height
            return
        if (height - self._extreme) * d >= 0:
            self._extreme = height
            return
        if (self._extreme - height) * d < CYCLE_HYSTERESIS_M:
            return
        # Turned: a stroke is over (counted to now: the next starts here, which moves where
        # the two strokes of a cycle split, not the cycle's ends).
        self._direction, self._extreme = -d, height
        self._strokes.append((self._sum, self._cells))
        self._cycle_up.append(self._stroke_up)
        self._sum, self._cells, self._stroke_up = 0.0, 0, np.zeros(3)
        if len(self._strokes) == 2:
            mean = sum(s for s, _ in self._strokes) / sum(n for _, n in self._strokes)
            self._read(mean, self._cycle_up[0] + self._cycle_up[1])

    def _read(self, reading: float, up_sum: np.ndarray, at_rest: bool = False) -> None:
        """A reading, with the sum of the vertical's direction over the cells it came from."""
        up = up_sum / max(float(np.linalg.norm(up_sum)), 1e-9)
        self._readings.append((reading, up, at_rest))
        values = np.array([r for r, _, _ in self._readings])
        verticals = np.array([u for _, u, _ in self._readings])
        direct = np.array([rest for _, _, rest in self._readings])
        self.vector, kept = _fit(values, verticals, direct)
        normal = verticals[kept].T @ verticals[kept] + PRIOR_WEIGHT * np.eye(3)
        self._inverse = np.linalg.inv(normal)
        # How far the readings stray from the fit: where they agree, or the newest is a rest's
        # (the bar's true acceleration was zero: a direct measurement), the offset can be
        # trusted to integrate over a stroke.
        residuals = np.abs(values[kept] - verticals[kept] @ self.vector)
        self.spread = float(np.median(residuals)) if kept.sum() >= 3 else np.inf
        if at_rest:
            self._cells_since_rest = 0


def _fit(
    values: np.ndarray, verticals: np.ndarray, direct: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The offset vector b with vertical·b ≈ value for each reading, and which readings it
    kept: least squares pulled toward the median along the mean vertical, once more without
    the readings that stray. A reading at rest (`direct`) is a measurement, never a stray: the
    bar rolled onto the hips reads its offset along a vertical the earlier readings never saw."""
    kept = np.ones(len(values), dtype=bool)
    vector = np.zeros(3)
    for _ in range(2):
        mean_up = verticals[kept].mean(axis=0)
        prior = float(np.median(values[kept])) * mean_up / max(np.linalg.norm(mean_up), 1e-9)
        normal = verticals[kept].T @ verticals[kept] + PRIOR_WEIGHT * np.eye(3)
        vector = np.linalg.solve(normal, verticals[kept].T @ values[kept] + PRIOR_WEIGHT * prior)
        residuals = np.abs(values - verticals @ vector)
        spread = 3 * 1.4826 * float(np.median(residuals[kept]))
        strays = (residuals > max(spread, STRAY_MPS2)) & ~direct
        if not strays.any() or strays.sum() > len(values) // 2:
            break
        kept = ~strays
    return vector, kept
