"""Smooth analytic motion: a channel is a start value plus a sum of moves.

A move takes a channel from its value to value + delta over [t0, t0 + duration] along a shape
with closed-form position, velocity and acceleration, so the simulator's ground truth is exact
at any sample time, however irregular.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import special


@dataclass(frozen=True)
class BetaShape:
    """Velocity ∝ τ^a (1−τ)^b on τ ∈ [0, 1]: peak at a / (a + b), zero velocity at both ends.

    a < b accelerates quickly and brakes late and long, the concentric profile of a lift;
    a, b ≥ 2 keep acceleration continuous (no infinite jerk at the ends).
    """

    a: float = 2.0
    b: float = 2.0

    @property
    def peak_tau(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def peak_to_mean(self) -> float:
        """Peak velocity over mean velocity of this shape."""
        tau = self.peak_tau
        return float(tau**self.a * (1 - tau) ** self.b / _beta(self.a + 1, self.b + 1))

    def evaluate(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position fraction s(τ), ds/dτ and d²s/dτ² at τ ∈ [0, 1]."""
        a, b = self.a, self.b
        norm = _beta(a + 1, b + 1)
        s = special.betainc(a + 1, b + 1, tau)
        ds = tau**a * (1 - tau) ** b / norm
        with np.errstate(divide="ignore", invalid="ignore"):
            dds = ds * (a / tau - b / (1 - tau))
        dds = np.where((tau <= 0) | (tau >= 1), 0.0, dds)
        return s, ds, dds


MIN_JERK = BetaShape(2.0, 2.0)  # the minimum-jerk profile of a relaxed, unhurried movement


@lru_cache(maxsize=64)
def _beta(a: float, b: float) -> float:
    return float(special.beta(a, b))


@dataclass(frozen=True)
class Move:
    t0: float
    duration: float
    delta: float
    shape: BetaShape = MIN_JERK

    @property
    def t1(self) -> float:
        return self.t0 + self.duration


@dataclass(frozen=True)
class Wobble:
    """A sinusoid faded in and out by a Hann window: tremor, sway or a bounce, zero at its ends."""

    t0: float
    duration: float
    amplitude: float
    frequency_hz: float
    phase_rad: float = 0.0

    def evaluate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tau = np.clip((t - self.t0) / self.duration, 0.0, 1.0)
        w = 2 * np.pi * self.frequency_hz
        h = np.pi / self.duration  # window: sin²(πτ)
        phase = w * (t - self.t0) + self.phase_rad
        win = np.sin(np.pi * tau) ** 2
        dwin = h * np.sin(2 * np.pi * tau)
        ddwin = 2 * h**2 * np.cos(2 * np.pi * tau)
        inside = (tau > 0) & (tau < 1)
        sin, cos = np.sin(phase), np.cos(phase)
        pos = self.amplitude * win * sin
        vel = self.amplitude * (dwin * sin + win * w * cos)
        acc = self.amplitude * (ddwin * sin + 2 * dwin * w * cos - win * w**2 * sin)
        return pos * inside, vel * inside, acc * inside


@dataclass
class Channel:
    """One degree of freedom of the bar: a start value, moves and wobbles."""

    start: float = 0.0
    moves: list[Move] = field(default_factory=list)
    wobbles: list[Wobble] = field(default_factory=list)

    def add(self, move: Move) -> None:
        self.moves.append(move)

    def value_at(self, t: float) -> float:
        """The channel's settled value just after time t (moves ending by t count in full)."""
        return self.start + sum(m.delta for m in self.moves if m.t1 <= t)

    def evaluate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position, velocity and acceleration at times t (s)."""
        pos = np.full(t.shape, self.start, dtype=float)
        vel = np.zeros(t.shape)
        acc = np.zeros(t.shape)
        for move in self.moves:
            # Only the samples inside the move need the shape; later ones take the full delta.
            lo, hi = np.searchsorted(t, [move.t0, move.t1])
            pos[hi:] += move.delta
            if hi > lo:
                tau = (t[lo:hi] - move.t0) / move.duration
                s, ds, dds = move.shape.evaluate(tau)
                pos[lo:hi] += move.delta * s
                vel[lo:hi] += move.delta * ds / move.duration
                acc[lo:hi] += move.delta * dds / move.duration**2
        for wobble in self.wobbles:
            lo, hi = np.searchsorted(t, [wobble.t0, wobble.t0 + wobble.duration])
            if hi > lo:
                p, v, a = wobble.evaluate(t[lo:hi])
                pos[lo:hi] += p
                vel[lo:hi] += v
                acc[lo:hi] += a
        return pos, vel, acc


def evaluate_all(
    channels: Iterable[Channel], t: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack several channels: each result is n × len(channels)."""
    results = [channel.evaluate(t) for channel in channels]
    return tuple(np.stack([r[i] for r in results], axis=1) for i in range(3))  # type: ignore[return-value]
