"""A velocity no accelerometer offset can drift: the high-passed integral of the acceleration."""

from __future__ import annotations

import math


class HighPass:
    """A second-order Butterworth high-pass of the integral of the acceleration, by the bilinear
    transform: a band-pass on the acceleration, v[n] = g (a[n] − a[n−2]) − a1 v[n−1] − a2 v[n−2].
    Its integral is a height that only has to be right over a stroke."""

    def __init__(self, cutoff_hz: float, period_s: float) -> None:
        k = math.tan(math.pi * cutoff_hz * period_s)
        norm = 1 / (1 + math.sqrt(2) * k + k * k)
        self._g = norm * period_s / 2
        self._a1 = 2 * (k * k - 1) * norm
        self._a2 = (1 - math.sqrt(2) * k + k * k) * norm
        self._period_s = period_s
        self.height_m = 0.0
        self.reset()

    def reset(self) -> None:
        """The bar is known to be still: the velocity is zero, whatever the filter remembers."""
        self._a = (0.0, 0.0)
        self._v = (0.0, 0.0)

    def update(self, a: float) -> tuple[float, float]:
        """One cell's acceleration in; the high-passed velocity (m/s) and height (m) out."""
        (a_1, a_2), (v_1, v_2) = self._a, self._v
        v = self._g * (a - a_2) - self._a1 * v_1 - self._a2 * v_2
        self._a, self._v = (a, a_1), (v, v_1)
        self.height_m += (v + v_1) / 2 * self._period_s
        return v, self.height_m
