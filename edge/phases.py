"""Phases: the bar going up or going down, cut from a corrected segment at zero velocity.

A segment between two rests may hold one phase (a concentric that ends in a lockout hold) or
several (a touch-and-go bottom turns a descent straight into an ascent). Wiggles too small to
be lifting are dropped, and what they separated is joined again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from edge.track import AZ, VZ, T, Z


@dataclass(frozen=True)
class PhaseSettings:
    min_travel_m: float = 0.03  # less is a wiggle, not lifting or lowering
    min_speed_mps: float = 0.05
    # A pause at a turnaround reads as zero velocity give or take the integral's error, so a
    # phase there starts where acceleration rises above this (and ends where it falls below).
    onset_mps2: float = 0.5
    pause_mps: float = 0.03


@dataclass(frozen=True)
class Phase:
    direction: int  # +1 up, −1 down
    start: int  # global sample indices: [start, stop]
    stop: int
    t_start: float  # s, at zero velocity (interpolated between samples)
    t_stop: float
    travel_m: float  # signed vertical displacement

    @property
    def duration_s(self) -> float:
        return self.t_stop - self.t_start


def split(
    rows: np.ndarray,
    first: int,
    settings: PhaseSettings,
    from_rest: bool = True,
    to_rest: bool = True,
) -> list[Phase]:
    """The phases in a run of samples; `first` is the global index of rows[0].

    `from_rest` and `to_rest` say whether the rows begin and end at a rest (a segment) or at a
    turnaround or the newest sample (part of a segment still open).
    """
    v, z, t, a = rows[:, VZ], rows[:, Z], rows[:, T], rows[:, AZ]
    sign = np.sign(v)
    # Cut at the last sample before each change of sign; neighbouring runs share it.
    nonzero = np.flatnonzero(sign != 0)
    if nonzero.size == 0:
        return []
    cuts = nonzero[:-1][np.diff(sign[nonzero]) != 0]
    bounds = [0, *cuts.tolist(), v.size - 1]
    runs = []
    for lo, hi in itertools.pairwise(bounds):
        travel = z[hi] - z[lo]
        peak = float(np.abs(v[lo : hi + 1]).max())
        if abs(travel) >= settings.min_travel_m and peak >= settings.min_speed_mps:
            runs.append([int(np.sign(travel)), lo, hi])
    merged: list[list[int]] = []
    for run in runs:  # a dropped wiggle between two runs of one direction rejoins them
        if merged and merged[-1][0] == run[0]:
            merged[-1][2] = run[2]
        else:
            merged.append(run)
    phases = []
    for d, lo, hi in merged:
        t_start, t_stop = _zero_time(t, v, lo), _zero_time(t, v, hi)
        # At a rest the boundary sample is the rest's own; the bar started (or stopped) between
        # it and its neighbour, which matters at 50 Hz: extrapolate the velocity to zero.
        if lo == 0 and from_rest and hi - lo >= 3:
            t_start = _extrapolated_zero(t, v, lo, +1)
        if hi == v.size - 1 and to_rest and hi - lo >= 3:
            t_stop = _extrapolated_zero(t, v, hi, -1)
        moving = np.flatnonzero(np.abs(a[lo : hi + 1]) >= settings.onset_mps2)
        # Quiet stretches at the ends are a pause where the bar has also stopped; where it is
        # still creeping (a long, gentle braking), they are part of the phase.
        stopped = np.abs(v[lo : hi + 1]) <= settings.pause_mps
        if moving.size and (lo > 0 or not from_rest):
            paused = np.flatnonzero(stopped[: moving[0]])
            if paused.size:
                t_start = max(t_start, float(t[lo + paused[-1]]))
        if moving.size and (hi < v.size - 1 or not to_rest):
            paused = np.flatnonzero(stopped[moving[-1] + 1 :])
            if paused.size:
                t_stop = min(t_stop, float(t[lo + moving[-1] + 1 + paused[0]]))
        phases.append(
            Phase(
                direction=d,
                start=first + lo,
                stop=first + hi,
                t_start=t_start,
                t_stop=t_stop,
                travel_m=float(z[hi] - z[lo]),
            )
        )
    return phases


def _extrapolated_zero(t: np.ndarray, v: np.ndarray, rest: int, step: int) -> float:
    """Where the bar left (or reached) the rest between the rest sample and its neighbour.

    Force builds up from nothing, so near a rest velocity grows with the square of the time
    from it: √|v| is what is linear in time there, and is extrapolated to zero.
    """
    near, far = rest + step, rest + 2 * step
    root_near, root_far = np.sqrt(abs(v[near])), np.sqrt(abs(v[far]))
    slope = (root_far - root_near) / (t[far] - t[near])
    if slope * step <= 0:  # not speeding up away from the rest
        return float(t[rest])
    crossing = t[near] - root_near / slope
    low, high = sorted((float(t[rest]), float(t[near])))
    return float(np.clip(crossing, low, high))


def _zero_time(t: np.ndarray, v: np.ndarray, i: int) -> float:
    """Where v crosses zero between samples i and i + 1 (or i itself at the segment's ends)."""
    if i + 1 >= v.size or v[i] == 0 or np.sign(v[i]) == np.sign(v[i + 1]):
        return float(t[i])
    return float(t[i] + (t[i + 1] - t[i]) * v[i] / (v[i] - v[i + 1]))
