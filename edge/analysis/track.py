"""The bar's path, measured stroke by stroke between points where its velocity is zero.

The strokes (strokes.py) end where the bar turned, held or rested. Each is integrated from the
acceleration less the accelerometer's offset (offset.py: a vector, seen along each cell's
vertical), from zero velocity where it began; the velocity left at its end is removed as a ramp
(end-point correction) and the positions integrated again. So every stroke starts and ends at
rest, as the bar does. A rep's two strokes are then integrated once more as one (across_turn),
which places the turn between them better and brings the bar back to the height it began at.
Only cells up to the one where a stroke was confirmed are read, so measuring does not depend on
how cells arrived.

Axes are the bar's earth frame: z up, `ap` square to the bar, `lat` along it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.analysis.phases import Offsets, Phase
from edge.analysis.strokes import Boundary, Stroke

# Columns of the kept cells.
T, AZ, AAP, ALAT, VZ, VAP, VLAT, Z, PAP, PLAT, TILT, FL, FR, CLIP, STILL, BAP, BLAT = range(17)
UX, UY, UZ = range(17, 20)
WIDTH = 20
BIAS = slice(BAP, BLAT + 1)  # the horizontal accelerometer offsets learned up to each cell
UP = slice(UX, UZ + 1)  # the vertical in the sensor frame: the offset vector is seen along it
ACCEL, VELOCITY, POSITION = slice(AZ, ALAT + 1), slice(VZ, VLAT + 1), slice(Z, PLAT + 1)
MIN_ROWS = 1024
STILL_REACH_S = 0.25  # a still window ends this long after the bar first moves


@dataclass(frozen=True)
class TrackSettings:
    still_share: float = 0.05  # each still cell moves the horizontal offsets this share
    # A pause at either end of a stroke (a bottom pause before the drive, a lockout hold,
    # swaying or not) is not the stroke: it runs from the bar's last stop before it leaves
    # this band above its start height (below, going down) to its first stop after it comes
    # within the band of its end height. A stop is a cell slower than `pause_mps`, or going the
    # other way. A hand's sway moves the bar by up to a few centimetres.
    band_m: float = 0.01
    band_share: float = 0.15  # …or this share of the stroke's travel
    pause_mps: float = 0.03
    # A stroke whose ends were placed by the high-passed turn (Stroke.anchored) begins where the
    # bar was still moving, and its integral reads the pause as slow motion: there a stop is
    # slower than this share of the stroke's peak.
    pause_share: float = 0.1
    # A rep's turn is looked for this far either side of where its strokes met (across_turn).
    turn_reach_s: float = 0.4


class Track:
    def __init__(self, period_s: float, settings: TrackSettings | None = None) -> None:
        self.settings = settings or TrackSettings()
        self.period_s = period_s
        self._turn_reach = max(1, round(self.settings.turn_reach_s / period_s))
        self._buffer = np.empty((MIN_ROWS, WIDTH))
        self._lo = self._hi = 0
        self.first = 0  # global index of the oldest kept cell
        self._horizontal_bias = np.zeros(2)
        self._held = (-1, np.zeros(3))  # the last stroke's end: index and position (m)
        # The still stretches that reach the kept cells, as (first, last) times.
        self._still: deque[tuple[float, float]] = deque()

    @property
    def data(self) -> np.ndarray:
        return self._buffer[self._lo : self._hi]

    @property
    def end(self) -> int:
        """Global index one past the newest cell."""
        return self.first + self._hi - self._lo

    @property
    def newest_t(self) -> float:
        return float(self.data[-1, T])

    def t_at(self, index: int) -> float:
        return float(self.data[index - self.first, T])

    def still_before(self, index: int) -> float:
        """How long the bar had been still (stillness.py) when cell `index` began, s: the
        latest still stretch that reached it (within a stillness window)."""
        t = self.t_at(index)
        for start, end in reversed(self._still):
            if start <= t <= end + STILL_REACH_S:
                return t - start
        return 0.0

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Cells with global indices [start, stop) (a view: writes go to the track)."""
        if start < self.first:
            raise IndexError(f"cell {start} was dropped (the oldest kept is {self.first})")
        return self.data[start - self.first : stop - self.first]

    def append(
        self,
        first: int,
        t: np.ndarray,
        accel_mps2: np.ndarray,
        tilt_deg: np.ndarray,
        up: np.ndarray,
        force_n: np.ndarray,
        clipped: np.ndarray,
        still: np.ndarray,
    ) -> None:
        if first != self.end:  # a hole: the cells between are missing
            self._buffer, self._lo, self._hi, self.first = np.empty((MIN_ROWS, WIDTH)), 0, 0, first
            self._held = (first - 1, np.zeros(3))
        block = np.zeros((t.size, WIDTH))
        block[:, T], block[:, ACCEL], block[:, TILT], block[:, UP] = t, accel_mps2, tilt_deg, up
        block[:, FL : FR + 1], block[:, CLIP], block[:, STILL] = force_n, clipped, still
        block[:, BIAS] = self._learn_horizontal(accel_mps2[:, 1:], still)
        self._push(block)
        self._note_still(t, still)

    def measure(self, stroke: Stroke) -> Phase:
        """The stroke between its zero-velocity ends, less the accelerometer's offsets as they
        were when it was confirmed."""
        horizontal = self.rows(stroke.confirmed, stroke.confirmed + 1)[0, BIAS]
        offsets = stroke.accel_offset_mps2, (float(horizontal[0]), float(horizontal[1]))
        start = max(stroke.start, self.first)
        stop = max(stroke.stop, start + 1)
        self._integrate_between(start, stop, self._velocity(start, stop, offsets))
        return self._phase(
            start,
            stop,
            stroke.direction,
            excursion_m=stroke.excursion_m,
            offsets=offsets,
            tainted=Boundary.BREAK in (stroke.begins, stroke.ends),
            held=stroke.ends in (Boundary.HOLD, Boundary.REST),
            anchored=stroke.anchored,
        )

    def across_turn(self, first: Phase, second: Phase) -> tuple[Phase, Phase]:
        """A rep's two phases again, integrated as one from the first's start to the second's
        end, where the bar was stopped, and split where that velocity crosses zero.

        Where one stroke ends and the next begins is where the detector's high-passed motion
        turned or slowed and the integral of one stroke reached zero; over a long stroke a
        small offset moves that by a tenth of a second, and the next stroke then starts with
        the bar still moving. The zero crossing of the whole rep's integral, whose drift is
        removed between two stops, is the bar's own turn. Strokes apart by a short pause
        (up to `turn_reach_s`) are joined so too. The turn nearest the strokes' meeting is
        taken, looked for twice as far if none is that near (a lockout eased into over a
        second, a turn placed early by the high-passed motion); where the rep's integral does
        not turn even so, the strokes' own integrals are kept.
        """
        (start, ended), (began, stop) = first.bounds, second.bounds
        if not 0 <= began - ended <= self._turn_reach or start < self.first:
            return first, second
        # With the offsets of its return, as the rep is measured once that is known (a later
        # stroke may have been measured since: holding a stall back waits for it).
        raw = self._velocity(start, stop, second.offsets)
        velocity = self._back_where_it_began(start, stop, raw)
        # Across the bar the strokes' own integrals stay: their ends are still points, and
        # each end-point correction keeps an attitude error from growing over the whole rep.
        velocity[:, 1:] = self.rows(start, stop + 1)[:, VAP : VLAT + 1]
        guess = (ended + began) // 2 - start
        # The nearest turn is the one within `turn_reach_s` where there is one.
        turn = _turn_near(velocity[:, 0], guess, first.direction, 2 * self._turn_reach)
        if turn is None:  # the rep's integral does not turn there: the strokes' is as good
            return first, second
        self._integrate_between(start, stop, velocity, self._position_at(start))
        tainted, offsets = first.tainted or second.tainted, second.offsets
        anchored = first.anchored and second.anchored
        return (
            self._phase(start, start + turn, first.direction, first.excursion_m, offsets,
                        tainted=tainted, anchored=anchored),
            self._phase(start + turn, stop, second.direction, second.excursion_m, offsets,
                        tainted=tainted, held=second.held, anchored=anchored),
        )  # fmt: skip

    def _velocity(self, start: int, stop: int, offsets: Offsets) -> np.ndarray:
        """Velocity (n×3) over cells [start, stop], zero at both ends: the acceleration less
        the offsets (Phase.offsets), integrated, less the velocity left at the end as a ramp."""
        rows = self.rows(start, stop + 1)
        t = rows[:, T]
        (x, y, z), horizontal = offsets
        vertical = rows[:, UX] * x + rows[:, UY] * y + rows[:, UZ] * z  # `@` rounds by alignment
        bias = np.column_stack([vertical, np.tile(horizontal, (len(rows), 1))])
        velocity = _integrate(rows[:, ACCEL] - bias, np.diff(t)[:, None])
        ramp = ((t - t[0]) / max(t[-1] - t[0], 1e-9))[:, None]
        return velocity - velocity[-1] * ramp

    def _back_where_it_began(self, start: int, stop: int, velocity: np.ndarray) -> np.ndarray:
        """A rep ends at the height it began at (lockout to lockout, floor to floor): what its
        integral misses by is taken out as a velocity bump, zero at both ends, that
        integrates to it (an offset that changed over the rep leaves just such an error)."""
        t = self.rows(start, stop + 1)[:, T]
        span = max(float(t[-1] - t[0]), 1e-9)
        missed = float(_integrate(velocity[:, :1], np.diff(t)[:, None])[-1, 0])
        share = (t - t[0]) / span
        corrected = velocity.copy()
        corrected[:, 0] -= missed * 6 * share * (1 - share) / span
        return corrected

    def _integrate_between(
        self, start: int, stop: int, velocity: np.ndarray, position: np.ndarray | None = None
    ) -> None:
        """Cells [start, stop] get `velocity` and its integral from `position` (a rep measured
        again: the stroke after it starts where it was held, whichever is measured first), or
        from where the bar was held before `start` (a stroke: it is then held at `stop`)."""
        rows = self.rows(start, stop + 1)
        rows[:, VELOCITY] = velocity
        rows[0, POSITION] = self._hold_until(start) if position is None else position
        rows[1:, POSITION] = (
            rows[0, POSITION] + _integrate(rows[:, VELOCITY], np.diff(rows[:, T])[:, None])[1:]
        )
        if position is None:
            self._held = (stop, rows[-1, POSITION].copy())

    def _phase(
        self,
        start: int,
        stop: int,
        direction: int,
        excursion_m: float,
        offsets: Offsets,
        tainted: bool = False,
        held: bool = False,
        anchored: bool = True,
    ) -> Phase:
        """The phase inside integrated cells [start, stop]: the bar's going, without the
        pauses at its ends."""
        rows = self.rows(start, stop + 1)
        n, t = len(rows), rows[:, T]
        first, last = _moving(rows[:, VZ], rows[:, Z], direction, self.settings, anchored)
        return Phase(
            direction=direction,
            start=start + max(first - 1, 0),
            stop=start + min(last + 1, n - 1),
            bounds=(start, stop),
            t_start=_zero_time(t, rows[:, VZ], first, -1),
            t_stop=_zero_time(t, rows[:, VZ], last, +1),
            travel_m=float(rows[last, Z] - rows[first, Z]),
            excursion_m=excursion_m,
            tainted=tainted or bool(rows[:, CLIP].any()),
            held=held,
            offsets=offsets,
            turned_deg=_angle_deg(rows[first, UP], rows[last, UP]),
            anchored=anchored,
        )

    def _position_at(self, index: int) -> np.ndarray:
        return self.rows(index, index + 1)[0, POSITION].copy()

    def _hold_until(self, start: int) -> np.ndarray:
        """Between strokes the bar is taken to hold still where the last one ended: those cells
        get its position and no velocity. Returns the position the stroke at `start` starts
        from (the origin before any stroke)."""
        held, position = self._held
        if held < start:
            rows = self.rows(max(held + 1, self.first), start + 1)
            rows[:, VELOCITY], rows[:, POSITION] = 0.0, position
        return position

    def trim(self, keep_from: int) -> None:
        """Drop the cells nothing will read again."""
        keep_from = min(keep_from, self.end - 1)
        if keep_from > self.first:
            self._lo += keep_from - self.first
            self.first = keep_from
        oldest_t = self.t_at(self.first)
        while self._still and self._still[0][1] + STILL_REACH_S < oldest_t:
            self._still.popleft()

    def _learn_horizontal(self, accel_mps2: np.ndarray, still: np.ndarray) -> np.ndarray:
        """Where the bar is still its true horizontal acceleration is zero: what the sensor
        reads is its offset, followed cell by cell (each still cell moves it `still_share`)."""
        share = self.settings.still_share
        bias, out = self._horizontal_bias, np.empty_like(accel_mps2)
        for i in range(len(still)):
            if still[i]:
                bias = bias + share * (accel_mps2[i] - bias)
            out[i] = bias
        self._horizontal_bias = bias
        return out

    def _note_still(self, t: np.ndarray, still: np.ndarray) -> None:
        """Keep the latest still stretches as (first, last) times: they outlive the cells."""
        edges = np.diff(still.astype(np.int8), prepend=0, append=0)
        begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
        for begin, end in zip(begins, ends, strict=True):
            if begin == 0 and self._still and self._still[-1][1] >= t[0] - 2 * self.period_s:
                self._still[-1] = (self._still[-1][0], float(t[end]))  # it goes on
            else:
                self._still.append((float(t[begin]), float(t[end])))

    def _push(self, block: np.ndarray) -> None:
        kept, n = self._hi - self._lo, block.shape[0]
        if self._hi + n > self._buffer.shape[0]:
            capacity = MIN_ROWS
            while kept + n > capacity // 2:
                capacity *= 2
            moved = np.empty((capacity, WIDTH))
            moved[:kept] = self._buffer[self._lo : self._hi]
            self._buffer, self._lo, self._hi = moved, 0, kept
        self._buffer[self._hi : self._hi + n] = block
        self._hi += n


def _integrate(rate: np.ndarray, dt: np.ndarray) -> np.ndarray:
    """Trapezoidal integral of each column from zero at the first row."""
    out = np.zeros_like(rate)
    out[1:] = np.cumsum((rate[1:] + rate[:-1]) / 2 * dt, axis=0)
    return out


def _turn_near(velocity: np.ndarray, guess: int, direction: int, reach: int) -> int | None:
    """The cell nearest `guess`, within `reach`, where `velocity` turns from `direction` to
    the other way (the last cell still going `direction`); None if it does not there."""
    along = velocity * direction
    low, high = max(guess - reach, 0), min(guess + reach, len(velocity) - 1)
    turns = low + np.flatnonzero((along[low:high] > 0) & (along[low + 1 : high + 1] <= 0))
    if not turns.size:
        return None
    return int(turns[np.argmin(np.abs(turns - guess))])


def _moving(
    v: np.ndarray, z: np.ndarray, direction: int, s: TrackSettings, anchored: bool
) -> tuple[int, int]:
    """The cells [first, last] of a stroke that the bar spends going: see TrackSettings."""
    n = len(v)
    band = max(s.band_m, s.band_share * abs(float(z[-1] - z[0])))
    along = v * direction
    stop_mps = s.pause_mps if anchored else max(s.pause_mps, s.pause_share * float(along.max()))
    stopped = along <= stop_mps
    left = np.flatnonzero((z - z[0]) * direction > band)
    entered = np.flatnonzero((z[-1] - z) * direction > band)
    if not left.size or not entered.size:
        return 0, n - 1
    before = np.flatnonzero(stopped[: left[0] + 1])
    after = np.flatnonzero(stopped[entered[-1] :])
    # A stroke whose integral never went its way (set-up motion that turned the bar) has
    # every cell stopped: its first cell is then the last one.
    first = min(int(before[-1]) + 1 if before.size else 0, n - 1)
    last = int(entered[-1] + after[0]) - 1 if after.size else n - 1
    return first, max(last, first)


def _zero_time(t: np.ndarray, v: np.ndarray, i: int, step: int) -> float:
    """Where the velocity reaches zero going from moving cell i the way of `step` (−1 back to
    the stroke's start, +1 on to its end), within the stroke.

    Where v changes sign there, the crossing is interpolated. Otherwise the bar paused; force
    builds up from nothing, so near a stop velocity grows with the square of the time from it:
    √|v| is what is linear in time, and is extrapolated from i and the cell beyond it to zero.
    """
    near, inner = i + step, i - step
    if not 0 <= near < len(v):
        return float(t[i])
    if v[i] * v[near] < 0:
        return float(t[i] + (t[near] - t[i]) * v[i] / (v[i] - v[near]))
    if not 0 <= inner < len(v):
        return float(t[near])
    root_i, root_inner = np.sqrt(abs(v[i])), np.sqrt(abs(v[inner]))
    slope = (root_inner - root_i) / (t[inner] - t[i])  # per second toward the inside
    if slope * (t[inner] - t[i]) <= 0:  # not slowing toward the stop: stop at the cell
        return float(t[near])
    edge = float(t[0] if step < 0 else t[-1])
    low, high = sorted((edge, float(t[i])))
    return float(np.clip(t[i] - root_i / slope, low, high))


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """The angle between two unit vectors, degrees."""
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b)), a @ b)))
