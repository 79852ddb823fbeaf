"""Strokes: the bar going one way, from one stop or turnaround to the next, found as it moves.

Two velocities are followed, cell by cell, each for what it is good at:
- a high-passed one (a second-order Butterworth high-pass of the integral of the vertical
  acceleration, a band-pass on the acceleration itself): no accelerometer offset can drift it,
  so it decides where the bar turns, stops and sets off. It starts from zero at each stroke's
  start (it is run again from there), so nothing of the stroke before rings on;
- the integral of the acceleration less its learned offset (offset.py): true to the bar over
  a stroke, so it places each turnaround where the bar's velocity really is zero. The
  high-passed velocity leads the bar's, so a turn is placed where this one reaches zero after
  the high-passed turn, or comes near zero and stays or leaves (a bar landed, read a little
  off zero), or levels off for `hold_s` wherever it is (the bar stopped, read with an offset's
  drift); if none within `turn_wait_s`, where it came nearest zero, or else at the
  high-passed turn.
  Only while the offset is trusted (offset.py): otherwise the high-passed turn is all there is.

A stroke ends in one of three ways, each judged on the newest cell, so the strokes do not
depend on how samples were chunked:
- a turnaround: the high-passed height has come back from its extreme by the hysteresis (a
  floor above sway and noise, raised to a share of the set's own strokes);
- a hold: the bar has been slow for `hold_s` (a lockout, a pause that sways), or its own
  velocity has held level for that long, slow against the stroke's peak (stopped dead, read
  with what an offset a little off leaves of it, while the high-passed one still rings);
- a rest: the bar is still (stillness.py) and slow, or lies still for `lying_rest_s`, with its
  own velocity steady where the offset is good (a slow, smooth lowering is as still to the
  sensor); or still for `certain_rest_s` whatever the velocity says (nobody moves a bar at a
  perfectly steady speed that long).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from edge.analysis.highpass import HighPass
from edge.analysis.offset import Offset


@dataclass(frozen=True)
class StrokeSettings:
    # The high-pass: below a rep's rhythm, above an offset's drift; higher while the offset
    # is not to be trusted (see Offset.trusted).
    cutoff_hz: float = 0.1
    untrusted_cutoff_hz: float = 0.15
    hysteresis_m: float = 0.04  # above sway (holds sway by up to 2 cm either way)
    hysteresis_share: float = 0.25  # …or this share of the median of the set's recent strokes
    hysteresis_most_m: float = 0.12  # …but never more (a partial rep is still a stroke)
    recent_strokes: int = 8
    rhythm_strokes: int = 3  # the hysteresis follows the set once it has this many
    moving_mps: float = 0.08  # the high-passed speed at which a stroke sets off
    slow_mps: float = 0.05  # slower than this (or `slow_share` of the stroke's peak) the
    slow_share: float = 0.1  # bar is holding, or resting if still
    hold_s: float = 0.08
    stopped_mps: float = 0.03  # the integrated velocity is at zero below this, or below
    stopped_share: float = 0.05  # this share of the stroke's peak
    certain_rest_s: float = 1.0
    lying_rest_s: float = 0.2  # lying still (stillness.py) this long is a rest too
    turn_wait_s: float = 0.6  # how long a turn waits for the bar's velocity to reach zero
    set_off_s: float = 0.5  # how far back from its seen start a stroke's set-off is looked for
    replay_s: float = 3.0  # how far back a stroke's start can be once it is known
    integral_s: float = 8.0  # a stroke's own velocity is integrated over this long at most
    longest_stroke_s: float = 30.0


class Boundary(Enum):
    TURN = "turn"
    HOLD = "hold"
    REST = "rest"
    BREAK = "break"  # the start of the data, bad data, a hole


@dataclass(frozen=True)
class Stroke:
    """Cells [start, stop] (global indices) of one direction of travel, both where the velocity
    is zero: a turnaround, the start of a hold or a rest, or where the bar set off."""

    direction: int  # +1 up, −1 down
    start: int
    stop: int
    begins: Boundary
    ends: Boundary
    # Its height change in the high-passed motion, which no accelerometer offset can bias
    # (though it shrinks slow strokes): what tells a return from a set-up move.
    excursion_m: float
    confirmed: int  # the cell at which the stroke was known to be over
    # The accelerometer's offset vector (sensor frame, m/s²) learned by then: seen along each
    # cell's vertical, it is what that cell's vertical acceleration is read off by.
    accel_offset_mps2: tuple[float, float, float]
    # Its ends were placed where the bar's own velocity reached zero (the offset was trusted);
    # otherwise at the high-passed motion's, which lead the bar's.
    anchored: bool = True


@dataclass
class _Turning:
    """A stroke the high-passed motion has ended with a turn, waiting for the bar to follow."""

    direction: int
    start: int
    turn: int  # the high-passed turn
    begins: Boundary
    excursion_m: float
    velocity_mps: float  # integrated from the stroke's start, less the offset
    peak_mps: float = 0.0
    nearest: tuple[float, int] = (float("inf"), -1)  # the velocity nearest zero since the turn
    level: tuple[float, float, int] = (0.0, 0.0, 0)  # its level since the turn (`_level`)


class StrokeFinder:
    def __init__(self, period_s: float, settings: StrokeSettings | None = None) -> None:
        s = self.settings = settings or StrokeSettings()
        self.period_s = period_s
        self._hold_cells = max(1, round(s.hold_s / period_s))
        self._rest_cells = max(1, round(s.certain_rest_s / period_s))
        self._lying_cells = max(1, round(s.lying_rest_s / period_s))
        self._wait_cells = max(1, round(s.turn_wait_s / period_s))
        self._set_off_cells = max(2, round(s.set_off_s / period_s))
        self._recent: deque[float] = deque(maxlen=s.recent_strokes)
        self.hysteresis_m = s.hysteresis_m
        self.offset = Offset(period_s)
        self._high_passes = {
            True: HighPass(s.cutoff_hz, period_s),
            False: HighPass(s.untrusted_cutoff_hz, period_s),
        }
        self._high_pass = self._high_passes[False]
        # The latest cells' acceleration less the offset: the filter is run again from a
        # stroke's start, which is only known once the stroke before it is over.
        self._replay_cells = max(2, round(s.replay_s / period_s))
        # A grind near the lifter's max lasts several seconds, and the bar's velocity over it
        # is integrated from its start.
        kept = max(self._replay_cells, round(s.integral_s / period_s))
        self._accel: deque[float] = deque(maxlen=kept)
        self.restart()

    def restart(self) -> None:
        """Forget the motion (after a break): the next stroke starts from here."""
        self._high_pass.reset()
        self._direction = 0  # of the open stroke; 0 while stopped
        self._begins = Boundary.BREAK  # how the open stroke (or the stop) began
        self._start = -1  # the index the open stroke (or the stop) began at
        self._extreme = (0.0, -1)  # (height, index) furthest along the open stroke
        self._band = (0.0, 0.0, -1, -1)  # while stopped: lowest, highest and their indices
        self._peak = 0.0
        self._slow_run = self._still_run = self._lying_run = 0
        self._lay_still = False  # the stop began where the bar lay still (not held)
        self._turning: _Turning | None = None
        self._crossed_at = -1
        self._anchored = self._anchored_peak = 0.0
        self._anchored_since: float | None = None  # high-passed height where the bar slowed
        self._level = (0.0, 0.0, 0)  # the bar's velocity's level: lowest, highest, cells
        self._newest = -1
        self._rested = False  # the last stopped cell was a rest

    @property
    def _trusted(self) -> bool:
        """The offset is good: the bar's own integrated velocity is good over a stroke, to
        place holds and turnarounds by."""
        return self.offset.trusted

    @property
    def open_since(self) -> int:
        """Global index the earliest stroke not yet reported began at: while stopped, where the
        stop began, as the next stroke may be found to have set off anywhere since."""
        starts = [self._start] if self._start >= 0 else []
        if self._turning is not None:
            starts.append(self._turning.start)
        return min(starts, default=2**62)

    @property
    def undecided_since(self) -> int:
        """Global index of the earliest cell a stroke not yet reported may yet be found to begin
        at: the open one's start, or while stopped, `replay_s` back at most (`_open`)."""
        if self._direction or self._turning is not None:
            return self.open_since
        return max(self.open_since, self._newest - self._replay_cells + 1)

    def _follow_rhythm(self, strokes: list[Stroke]) -> None:
        """The hysteresis follows the set's recent strokes (read every cell, so kept)."""
        s = self.settings
        self._recent.extend(abs(stroke.excursion_m) for stroke in strokes)
        # A set-up move (rolling the bar onto the hips) is one big stroke: the set's rhythm
        # needs a few strokes to show.
        enough = len(self._recent) >= s.rhythm_strokes
        typical = float(np.median(self._recent)) if enough else 0.0
        self.hysteresis_m = min(
            max(s.hysteresis_m, s.hysteresis_share * typical), s.hysteresis_most_m
        )

    def update(
        self,
        first: int,
        accel_z_mps2: np.ndarray,
        up: np.ndarray,
        still: np.ndarray,
        lying: np.ndarray,
    ) -> list[Stroke]:
        """Cells first… of vertical acceleration (1 g removed), the vertical in the sensor frame
        (n×3), stillness and lying still (stillness.py); returns the strokes they completed."""
        strokes: list[Stroke] = []
        cells = zip(accel_z_mps2.tolist(), still.tolist(), lying.tolist(), strict=True)
        for i, (a, quiet, at_rest) in enumerate(cells):
            done = self._step(first + i, a, up[i], quiet, at_rest)
            if done:
                self._follow_rhythm(done)
                strokes += done
        return strokes

    def cut(self, index: int) -> list[Stroke]:
        """Bad data or a hole at `index`: the open strokes end there; nothing carries over."""
        strokes = self._settle(index, at_turn=True)
        if self._direction:
            strokes += self._close(index, Boundary.BREAK, index)
        self.restart()
        return strokes

    def _step(self, k: int, a: float, up: np.ndarray, quiet: bool, lying: bool) -> list[Stroke]:
        s = self.settings
        self._newest = k
        self.offset.observe(a, up)
        self._accel.append(a - self.offset.at(up))
        v, height = self._high_pass.update(self._accel[-1])
        strokes = self._follow_turn(k)
        if self._start < 0:
            self._start, self._band = k, (height, height, k, k)
        speed = abs(v)
        self._peak = max(self._peak, speed)
        slow = speed < max(s.slow_mps, s.slow_share * self._peak)
        self._anchored += self._accel[-1] * self.period_s
        self._anchored_peak = max(self._anchored_peak, abs(self._anchored))
        trusted = self._trusted
        if trusted:
            stopped = self._stopped_mps(self._anchored_peak)
            levelled = self._follow_level(stopped)
        if trusted and self._direction:
            # The high-passed velocity fades in a slow stroke and rings on after a fast one
            # stopped dead; the bar's own velocity, integrated over the stroke, tells which:
            # slow is slow for both, or for the bar's while the high-passed height holds.
            if abs(self._anchored) < stopped:
                if self._anchored_since is None:
                    self._anchored_since = height
                slow = slow or abs(height - self._anchored_since) < self.hysteresis_m
            else:
                self._anchored_since = None
                slow = levelled
        self._slow_run = self._slow_run + 1 if slow else 0
        if slow and self._direction and trusted:  # the bar stopped where it levelled off
            self._slow_run = max(self._slow_run, self._level[2])
        self._still_run = self._still_run + 1 if quiet else 0
        self._lying_run = self._lying_run + 1 if lying else 0
        # A slow, smooth lowering (a heavy RDL's) is as still to the sensor as a rest: where
        # the offset is good, its velocity must hold steady too.
        steady = not trusted or self._level[2] >= self._hold_cells
        resting = quiet and (
            self._still_run >= self._rest_cells
            or (steady and (slow or self._lying_run >= self._lying_cells))
        )
        if quiet:  # still: a steady bar has no acceleration, resting or not
            self.offset.still(a, lying)
        if self._direction == 0:
            self._while_stopped(k, height, speed, resting)
            return strokes
        d = self._direction
        if (height - self._extreme[0]) * d >= 0:
            self._extreme = (height, k)
        if resting:
            stop = k - min(self._still_run, max(self._rest_cells, self._lying_run)) + 1
            if self._slow_run:
                stop = max(stop, k - self._slow_run + 1)
            return strokes + self._stop(stop, Boundary.REST, k)
        if self._slow_run >= self._hold_cells:
            return strokes + self._stop(k - self._slow_run + 1, Boundary.HOLD, k)
        if (self._extreme[0] - height) * d >= self.hysteresis_m:
            return strokes + self._turn(k)
        if (k - self._start) * self.period_s > s.longest_stroke_s:
            # Not lifting (the bar carried about, a sensor that never settles): let it go, so
            # what is kept stays bounded.
            return strokes + self.cut(k)
        return strokes

    def _follow_level(self, stopped: float) -> bool:
        """The bar's own velocity has levelled off for `hold_s`, slow against the stroke's peak:
        the bar stopped, and what is left of its velocity is the offset's drift."""
        self._level = _level(self._level, self._anchored, stopped / 4)
        slow = abs(self._anchored) < self.settings.slow_share * self._anchored_peak
        return slow and self._level[2] >= self._hold_cells

    def _follow_turn(self, k: int) -> list[Stroke]:
        """A turn of the high-passed motion ends its stroke once the bar's velocity has reached
        zero too (or `turn_wait_s` after it)."""
        turning = self._turning
        if turning is None:
            return []
        turning.velocity_mps += self._accel[-1] * self.period_s
        along = turning.velocity_mps * turning.direction
        if along <= 0:
            return self._settle(k, at_turn=False)
        # Where it came to within `stopped` of zero and then stayed there for `hold_s` or left
        # it, the bar stopped: a bar landed, read with an offset a little off, may never be
        # seen to cross zero.
        stopped = self._stopped_mps(turning.peak_mps)
        if along < turning.nearest[0] - stopped / 4:
            turning.nearest = (along, k)
        nearest, at = turning.nearest
        if nearest <= stopped and (along - nearest > stopped / 2 or k - at >= self._hold_cells):
            self._crossed_at = at
            return self._settle(k, at_turn=False)
        # Levelled off for `hold_s`, however far from zero (an offset's drift): the bar stopped.
        turning.level = _level(turning.level, along, stopped / 4)
        if turning.level[2] >= self._hold_cells or k - turning.turn >= self._wait_cells:
            return self._give_up_waiting(k)
        return []

    def _give_up_waiting(self, k: int) -> list[Stroke]:
        """The turning stroke's velocity has not reached zero (an offset's residual drift, or
        a start a little off zero) by cell k. It ends where the velocity came near enough to
        zero, or else where it levelled off for at least `hold_s` up to k (the bar stopped,
        at a velocity read a little off), or else at the high-passed turn."""
        turning = self._turning
        if turning is None:
            return []
        since = k - turning.start
        if since > len(self._accel):
            return self._settle(k, at_turn=True)
        along = np.cumsum(list(self._accel)[-since:]) * self.period_s * turning.direction
        first = max(turning.turn - turning.start - 1, 0)  # cells from the turn on
        tail = along[first:]
        if not len(tail):
            return self._settle(k, at_turn=True)
        stopped = self._stopped_mps(turning.peak_mps)
        slowest = int(np.argmin(tail))
        if tail[slowest] <= stopped:
            stop = slowest
        else:
            level = _levelled_since(tail, stopped)
            if len(tail) - level < self._hold_cells:
                return self._settle(k, at_turn=True)
            # Within the level stretch, where the velocity came down to its level.
            settled = tail[level:] <= tail[level:].min() + stopped / 4
            stop = level + int(np.argmax(settled))
        self._crossed_at = turning.start + 1 + first + stop
        return self._settle(k, at_turn=False)

    def _settle(self, k: int, at_turn: bool) -> list[Stroke]:
        """End the turning stroke, known at cell k (the newest): where the bar's velocity
        reached zero (at k, or `self._crossed_at` when found looking back), or at the
        high-passed turn."""
        turning, self._turning = self._turning, None
        if turning is None:
            return []
        crossing = self._crossed_at if self._crossed_at >= 0 else k
        self._crossed_at = -1
        stop = turning.turn if at_turn else min(max(crossing, turning.turn), k)
        if stop <= turning.start:
            return []
        if self._direction and self._begins is Boundary.TURN and self._start == turning.turn:
            self._anchor_from(stop)  # the stroke after it starts where this one ends
        return [
            Stroke(
                turning.direction, turning.start, stop, turning.begins, Boundary.TURN,
                turning.excursion_m, k, self.offset.triple, self._trusted,
            )
        ]  # fmt: skip

    def _while_stopped(self, k: int, height: float, speed: float, resting: bool) -> None:
        """Stopped: where a rest begins (or once the bar has lain still for `certain_rest_s`)
        the filter starts afresh, as the bar is where it is; a stroke starts once the height has
        left the band it held, at a stroke's speed, from the band's other edge. Within a rest
        the filter runs on: a slow, smooth lowering in the hands reads as still wherever its |a|
        is near gravity, and a filter held at zero there would miss it, or take its braking for
        a stroke up."""
        rested, self._rested = self._rested, resting
        if resting and (not rested or self._lying_run >= self._rest_cells):
            self._high_pass.reset()
            self._begins, self._start = Boundary.REST, k
            self._lay_still = self._lying_run > 0
            self._band = (height, height, k, k)
            return
        # The stroke to come begins no further back than `replay_s` (`_open`): nothing older
        # is kept for it.
        self._start = max(self._start, k - self._replay_cells + 1)
        low, high, at_low, at_high = self._band
        if height < low:
            low, at_low = height, k
        if height > high:
            high, at_high = height, k
        self._band = (low, high, at_low, at_high)
        if speed < self.settings.moving_mps:
            return
        h = self.hysteresis_m
        if height - low >= h:
            self._open(+1, at_low, k)
        elif high - height >= h:
            self._open(-1, at_high, k)

    def _open(self, direction: int, start: int, k: int) -> None:
        if self._begins is Boundary.BREAK:  # stopped since the data began: it held still
            self._begins = Boundary.HOLD
        self._direction, self._rested = direction, False
        # No further back than the kept cells the filter is run again over (`replay_s`).
        self._from(max(self._set_off(direction, start, k), k - self._replay_cells + 1), k)

    def _set_off(self, direction: int, band_edge: int, k: int) -> int:
        """Where a stroke from a stop began: the high-passed height's edge of the band is only
        near it; with a good offset, the bar's own velocity since the stop began is slowest
        (along the new direction) where it set off. Within `set_off_s`, so a drift has little
        time to move the slowest cell, or back to where the bar lay still (its velocity was
        zero there, and a heavy pull breaks off the floor over a second)."""
        if not self._trusted:
            return band_edge
        _, velocity = self._velocity(k)
        if not len(velocity):
            return band_edge
        velocity = np.concatenate([[0.0], velocity])  # from the stop's cell on
        reach = len(velocity) if self._lay_still else min(len(velocity), self._set_off_cells)
        along = velocity[-reach:] * direction
        # The latest cell as slow as the slowest, give or take the velocity's residual drift.
        near = np.flatnonzero(along <= along.min() + self.settings.stopped_mps / 4)
        return k - len(along) + 1 + int(near[-1])

    def _turn(self, k: int) -> list[Stroke]:
        """The high-passed motion turned at its extreme: the stroke waits there for the bar to
        follow, and the next one starts from it (its start is moved when the turn settles)."""
        strokes = self._give_up_waiting(k)  # one turn at a time
        d, turn, excursion = self._direction, self._extreme[1], self._extreme[0]
        first, velocity = self._velocity(k)
        if not len(velocity):
            first, velocity = k, np.zeros(1)
        if abs(excursion) >= self.settings.hysteresis_m:
            level = float(velocity[-1]) * d
            self._turning = _Turning(
                d, self._start, turn, self._begins, excursion, float(velocity[-1]),
                level=(level, level, 0),
            )  # fmt: skip
        self._direction, self._begins = -d, Boundary.TURN
        self._from(turn, k)
        if not self._trusted:
            return strokes + self._settle(k, at_turn=True)
        # Where the bar's velocity has already reached zero since the turn, the stroke ends.
        after_turn = max(turn - first, 0)
        peak = float(np.abs(velocity).max()) if len(velocity) else 0.0
        if self._turning is not None:
            self._turning.peak_mps = peak
        along = velocity[after_turn:] * d
        crossed = np.flatnonzero(along <= 0)
        if self._turning is not None and crossed.size:
            self._crossed_at = first + after_turn + int(crossed[0])
            return strokes + self._settle(k, at_turn=False)
        if self._turning is not None and len(along):
            nearest = int(np.argmin(along))
            self._turning.nearest = (float(along[nearest]), first + after_turn + nearest)
        return strokes

    def _stop(self, at: int, how: Boundary, k: int) -> list[Stroke]:
        """The bar stopped: slowing down began at cell `at`; it stopped where its velocity
        reached zero after that (or came nearest to it)."""
        strokes = self._give_up_waiting(k)
        at = self._stopped_at(at, k)
        strokes += self._close(at, how, k)
        self._direction, self._begins, self._lay_still = 0, how, False
        self._from(at, k)
        height = self._high_pass.height_m
        self._band = (height, height, k, k)
        return strokes

    def _stopped_mps(self, peak_mps: float) -> float:
        """Slower than this, a stroke's integrated velocity is at zero (its residual drift)."""
        return max(self.settings.stopped_mps, self.settings.stopped_share * peak_mps)

    def _stopped_at(self, slowing: int, k: int) -> int:
        """Where the stroke's bar stopped, known at k: where its velocity first reached zero
        after `slowing` (where the high-passed motion slowed), or came nearest to it."""
        first, velocity = self._velocity(k)
        if not len(velocity) or slowing < first:
            return slowing
        tail = velocity[slowing - first :] * self._direction
        reached = np.flatnonzero(tail <= 0)  # past the stop: the track trims the pause
        if reached.size:
            return slowing + int(reached[0])
        return slowing + int(np.argmin(tail))  # an offset's drift kept it off zero: the nearest

    def _velocity(self, k: int) -> tuple[int, np.ndarray]:
        """The bar's velocity at cells first…k (first, and the array), integrated from zero
        where the open stroke (or stop) began, or from as far back as is kept."""
        since = min(k - self._start, len(self._accel))
        values = list(self._accel)[len(self._accel) - since :] if since > 0 else []
        return k - len(values) + 1, np.cumsum(values) * self.period_s

    def _anchor_from(self, start: int) -> None:
        """The bar's own velocity, integrated from zero at cell `start` to the newest."""
        self._start = start
        _, velocity = self._velocity(self._newest)
        self._anchored = float(velocity[-1]) if len(velocity) else 0.0
        self._anchored_peak = float(np.abs(velocity).max()) if len(velocity) else 0.0
        self._anchored_since = None
        self._level = (self._anchored, self._anchored, 0)

    def _from(self, start: int, k: int) -> None:
        """A stroke (or a stop) begins at cell `start`, at zero velocity and height: the filter
        is run again over the cells since, so no memory of the stroke before rings on."""
        self._anchor_from(start)
        self._high_pass = self._high_passes[self._trusted]
        self._high_pass.reset()
        self._high_pass.height_m = 0.0
        d = self._direction or 1
        self._extreme, self._peak, self._slow_run = (0.0, start), 0.0, 0
        since = min(k - start, len(self._accel) - 1)
        for i, a in enumerate(list(self._accel)[len(self._accel) - since :]):
            v, height = self._high_pass.update(a)
            self._peak = max(self._peak, abs(v))
            if (height - self._extreme[0]) * d >= 0:
                self._extreme = (height, start + 1 + i)

    def _close(self, at: int, how: Boundary, now: int) -> list[Stroke]:
        excursion = self._extreme[0]  # heights are from the stroke's start
        if abs(excursion) < self.settings.hysteresis_m or at <= self._start:
            return []  # a wiggle
        return [
            Stroke(
                self._direction, self._start, at, self._begins, how, excursion, now,
                self.offset.triple, self._trusted,
            )
        ]  # fmt: skip


def _level(level: tuple[float, float, int], value: float, band: float) -> tuple[float, float, int]:
    """The run of values within `band` of each other, `level` (lowest, highest, cells) taken on
    to `value`: it starts afresh at `value` where that leaves the band."""
    low, high, run = level
    low, high = min(low, value), max(high, value)
    if high - low > band:
        return value, value, 1
    return low, high, run + 1


def _levelled_since(values: np.ndarray, band: float) -> int:
    """The first index of the longest run at the end of `values` that stays within `band`."""
    low = high = float(values[-1])
    i = len(values) - 1
    while i > 0:
        low, high = min(low, float(values[i - 1])), max(high, float(values[i - 1]))
        if high - low > band:
            break
        i -= 1
    return i
