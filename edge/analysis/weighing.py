"""The load on the bar, weighed by its load cells while it is still: nobody has to type it.

The median of each cell's readings over the latest WEIGH_S of stillness, once the bar has been
still that long, from at least MIN_WEIGHINGS readings. Time, not a count: a simulated bar gives
every conversion (320 a second), a real one a reading a drain.
"""

from __future__ import annotations

import numpy as np

from edge.analysis.units import G

WEIGH_S = 0.5
MIN_WEIGHINGS = 5


class Weighing:
    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Forget this stillness' readings (the cells were zeroed, or the bar moved)."""
        self._readings = np.empty((0, 3))  # t, left N, right N
        self._still_since = np.inf

    def update(self, t: np.ndarray, force_n: np.ndarray, still: np.ndarray) -> None:
        """Cells in time order: their times (s), forces (n×2, NaN where none) and stillness."""
        moved = np.flatnonzero(~still)
        if moved.size:  # start again after the last cell that moved
            self.restart()
            t, force_n = t[moved[-1] + 1 :], force_n[moved[-1] + 1 :]
        readings = np.column_stack([t, force_n])
        readings = readings[~np.isnan(force_n).any(axis=1)]
        if len(t):
            self._still_since = min(self._still_since, float(t[0]))
        if len(readings):
            joined = np.concatenate([self._readings, readings])
            self._readings = joined[joined[:, 0] >= joined[-1, 0] - WEIGH_S]

    @property
    def force_n(self) -> np.ndarray | None:
        """Force on each cell (left, right) once the bar has been still for WEIGH_S; None while
        it moves, or with no load cells."""
        readings = self._readings
        if len(readings) < MIN_WEIGHINGS or readings[-1, 0] - self._still_since < WEIGH_S:
            return None
        return np.median(readings[:, 1:], axis=0)

    @property
    def load_kg(self) -> float | None:
        """The load on the cells (plates and bar)."""
        force = self.force_n
        return None if force is None else float(force.sum()) / G
