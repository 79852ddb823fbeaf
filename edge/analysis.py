"""Streaming rep analysis: recording chunks in, measured reps and set ends out.

Pure: no clocks, files or network, so replay, the daemon and the benchmarks share it.

This first version is deliberately simple (the walking skeleton): vertical acceleration is the
specific force along the gravity direction last seen at rest, which ignores the bar rolling
during a rep; velocity is integrated between rests and reset to zero at each rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.recording import Chunk


@dataclass(frozen=True)
class AnalysisSettings:
    concentric_first: bool = True
    start_mps: float = 0.10  # hysteresis: a phase starts above this speed…
    stop_mps: float = 0.03  # …and ends below this one
    min_rom_m: float = 0.05  # smaller excursions are set-up motion, not reps
    rest_window_s: float = 0.2
    rest_accel_mps2: float = 0.2  # |a| within this of 1 g throughout the window
    rest_gyro_radps: float = 0.3
    rest_max_mps: float = 0.12  # a still run is rest only if the bar is this slow when it starts
    set_gap_s: float = 6.0  # rest this long after a rep ends the set


@dataclass(frozen=True)
class Rep:
    """One measured rep, in recording seconds and SI units."""

    set_index: int
    rep_index: int
    t_start: float
    t_concentric_start: float
    t_concentric_end: float
    t_end: float
    rom_m: float
    mean_velocity_mps: float


@dataclass(frozen=True)
class SetEnd:
    set_index: int
    reps: int
    t_start: float
    t_end: float


Event = Rep | SetEnd


class RepAnalysis:
    """Feed chunks in time order; each call returns the events completed by that chunk."""

    def __init__(self, settings: AnalysisSettings | None = None) -> None:
        self.settings = settings or AnalysisSettings()
        self._gravity: np.ndarray | None = None  # specific force at rest, sensor frame
        self._last_t: float | None = None
        self._velocity = 0.0
        self._height = 0.0
        self._tail = np.zeros(0, dtype=bool)  # the rest window across chunk edges
        self._phase = "idle"  # idle → first → turn → second → idle
        self._marks: dict[str, float] = {}
        self._peak = 0.0
        self._set_index = 0
        self._rep_index = 0
        self._set_start: float | None = None
        self._last_rep_end: float | None = None

    def feed(self, chunk: Chunk) -> list[Event]:
        if len(chunk) == 0:
            return []
        t, accel = chunk.t, chunk.accel_mps2
        if self._gravity is None:
            self._gravity = np.median(accel, axis=0)
        # Signed, unlike |a| − g, which folds braking harder than 1 g back into propulsion.
        g = float(np.linalg.norm(self._gravity))
        vertical = accel @ (self._gravity / g) - g
        still = self._still_mask(vertical, chunk.gyro_radps, t)
        dt = np.diff(t, prepend=t[0] if self._last_t is None else self._last_t)
        self._last_t = float(t[-1])
        velocity, height = self._integrate(vertical, dt, still)
        rest = still & (velocity == 0.0)
        if rest.any():  # follow the gravity vector as the bar settles in a new roll
            self._gravity = self._gravity + 0.2 * (accel[rest].mean(axis=0) - self._gravity)
        return self._segment(t, velocity, height, rest)

    def finish(self) -> list[Event]:
        """Close the open set at the end of the stream."""
        return self._end_set()

    def _still_mask(self, accel: np.ndarray, gyro: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Samples ending a window in which the bar neither accelerates nor turns."""
        s = self.settings
        period = float(np.median(np.diff(t))) if len(t) > 1 else 1e-3
        window = max(3, round(s.rest_window_s / period))
        moving = np.abs(accel) > s.rest_accel_mps2
        moving |= np.linalg.norm(gyro, axis=1) > s.rest_gyro_radps
        joined = np.concatenate([self._tail, moving])
        self._tail = joined[-(window - 1) :]
        if joined.size < window:
            return np.zeros(t.shape, dtype=bool)
        recent = np.lib.stride_tricks.sliding_window_view(joined, window).any(axis=1)
        still = np.zeros(joined.shape, dtype=bool)
        still[window - 1 :] = ~recent
        return still[-t.size :]

    def _integrate(
        self, accel: np.ndarray, dt: np.ndarray, still: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Velocity and height, with velocity held at zero through each accepted rest.

        Stillness alone cannot tell a rest from a slow steady descent (both read as zero
        acceleration), but the bar can only come to rest by decelerating, which the integral
        sees: a still run counts as rest only if the velocity there is already near zero.
        """
        running = self._velocity + np.cumsum(accel * dt)
        velocity = np.empty_like(running)
        offset, done = 0.0, 0
        for run_start, stop in _runs(still):
            # A smooth deceleration can look still too, so the rest begins where the bar
            # has actually slowed down, which may be inside the run.
            slow = np.flatnonzero(
                np.abs(running[run_start:stop] - offset) <= self.settings.rest_max_mps
            )
            if slow.size == 0:
                continue
            start = run_start + int(slow[0])
            velocity[done:start] = running[done:start] - offset
            velocity[start:stop] = 0.0
            offset, done = running[stop - 1], stop
        velocity[done:] = running[done:] - offset
        height = self._height + np.cumsum(velocity * dt)
        self._velocity, self._height = float(velocity[-1]), float(height[-1])
        return velocity, height

    def _segment(
        self, t: np.ndarray, velocity: np.ndarray, height: np.ndarray, rest: np.ndarray
    ) -> list[Event]:
        s = self.settings
        events: list[Event] = []
        first = 1.0 if s.concentric_first else -1.0
        # Only samples where the speed crosses a hysteresis level can change the phase.
        crossings = np.flatnonzero(
            np.diff(np.abs(velocity) > s.stop_mps, prepend=False)
            | np.diff(np.abs(velocity) > s.start_mps, prepend=False)
            | rest
        )
        for i in crossings:
            v, now = first * velocity[i], float(t[i])
            if self._phase == "idle":
                if (
                    rest[i]
                    and self._last_rep_end is not None
                    and now - self._last_rep_end >= s.set_gap_s
                ):
                    events += self._end_set()
                if v > s.start_mps:
                    self._phase, self._marks = "first", {"start": now, "h0": float(height[i])}
            elif self._phase == "first" and v < s.stop_mps:
                self._phase = "turn"
                self._marks.update(turn=now, h1=float(height[i]))
            elif self._phase == "turn" and v < -s.start_mps:
                self._phase = "second"
                self._marks["second"] = now
            elif self._phase == "second" and (v > -s.stop_mps or rest[i]):
                self._phase = "idle"
                events += self._finish_rep(now)
        return events

    def _finish_rep(self, now: float) -> list[Rep]:
        m = self._marks
        excursion = abs(m["h1"] - m["h0"])
        if excursion < self.settings.min_rom_m:
            return []
        if self.settings.concentric_first:
            c0, c1 = m["start"], m["turn"]
        else:
            c0, c1 = m["second"], now
        if self._set_start is None:
            self._set_start = m["start"]
        rep = Rep(
            set_index=self._set_index,
            rep_index=self._rep_index,
            t_start=m["start"],
            t_concentric_start=c0,
            t_concentric_end=c1,
            t_end=now,
            rom_m=excursion,
            mean_velocity_mps=excursion / max(c1 - c0, 1e-3),
        )
        self._rep_index += 1
        self._last_rep_end = now
        return [rep]

    def _end_set(self) -> list[Event]:
        if self._set_start is None or self._last_rep_end is None:
            return []
        event = SetEnd(self._set_index, self._rep_index, self._set_start, self._last_rep_end)
        self._set_index += 1
        self._rep_index = 0
        self._set_start = self._last_rep_end = None
        return [event]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs in a boolean array."""
    edges = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )
