"""The bar's path: velocity and position integrated from the last rest, corrected at the next.

Between two rests the bar starts and ends at zero velocity, so whatever velocity the integral
shows when the second rest begins is accumulated error; it is removed as a ramp over the
segment (end-point correction), and positions are integrated again from the corrected velocity.

Axes are in the bar's earth frame: z up, `ap` horizontal and square to the bar (toward the
lifter's head or face), `lat` horizontal along the bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Columns of the kept samples; TURN is the angle turned since the last rest, rad.
T, AZ, AAP, ALAT, VZ, VAP, VLAT, Z, PAP, PLAT, TILT, FL, FR, RATE, TURN, MAG, REST = range(17)
WIDTH = 17
MIN_ROWS = 4096  # the buffer's smallest size (4 s at 1 kHz, 0.6 MB)
ACCEL, VELOCITY, POSITION = slice(AZ, ALAT + 1), slice(VZ, VLAT + 1), slice(Z, PLAT + 1)


@dataclass(frozen=True)
class TrackSettings:
    rest_max_mps: float = 0.08  # a still run is a rest only once the bar is this slow (half
    # the slowest bench 1RM)…
    # …plus this much per radian turned: turning moves the accelerometer's offsets into the
    # vertical, so after rolling the bar the velocity integral has drifted further.
    rest_max_mps_per_rad: float = 0.6
    handling_rad: float = 0.6  # a segment that turned this far is handling the bar, not a rep
    # Still this long is rest whatever the integral says: nobody moves a bar at a perfectly
    # steady speed for most of a second, and it lets a drifted integral recover.
    certain_rest_s: float = 0.8
    # Motion with no rest for this long is not lifting (carrying the bar, a sensor that never
    # settles): it is given up rather than kept, so the kept samples stay bounded.
    longest_motion_s: float = 60.0


@dataclass(frozen=True)
class Segment:
    """Motion between two rests, as global sample indices [start, stop] (both at rest)."""

    start: int
    stop: int
    tainted: bool  # clipped, NaN or gapped data inside: derive nothing from it
    turned_rad: float  # how far the bar turned: a lot means rolling or racking, not a rep


class Track:
    def __init__(self, settings: TrackSettings | None = None) -> None:
        self.settings = settings or TrackSettings()
        # Samples live in a buffer at least twice what is kept; dropping old ones moves an
        # offset, so appending a chunk costs the chunk, not the whole history.
        self._buffer = np.empty((MIN_ROWS, WIDTH))
        self._lo = self._hi = 0  # the kept samples are _buffer[_lo:_hi]
        self.first = 0  # global index of data[0]
        # Until the first rest the starting velocity is unknown: nothing is derived from it.
        self.resting = False
        self.segment_start = 0  # global index of the rest sample the open segment starts from
        self.tainted = True
        self.accel_bias = np.zeros(3)
        self._rest_g: float | None = None  # |a| at the last rest, m/s²
        self._rest_sum = np.zeros(4)  # raw z, ap, lat acceleration and |a| summed over the rest
        self._rest_n = 0
        self._quiet_since: int | None = None  # where a quiet run still open at the end began

    @property
    def rest_g_mps2(self) -> float | None:
        """|a| at the last rest (None before the first)."""
        return self._rest_g

    @property
    def turned_rad(self) -> float:
        """How far the bar has turned since its last rest."""
        if self.resting or self.data.shape[0] == 0:
            return 0.0
        return float(self.data[-1, TURN])

    @property
    def data(self) -> np.ndarray:
        """The kept samples (a view: writes go to the track)."""
        return self._buffer[self._lo : self._hi]

    @property
    def end(self) -> int:
        """Global index one past the newest sample."""
        return self.first + self.data.shape[0]

    @property
    def span_s(self) -> float:
        """Time covered by the kept samples, s."""
        data = self.data
        return float(data[-1, T] - data[0, T]) if data.shape[0] else 0.0

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Samples with global indices [start, stop)."""
        if start < self.first:
            raise IndexError(f"sample {start} was dropped (the oldest kept is {self.first})")
        return self.data[start - self.first : stop - self.first]

    def taint(self) -> None:
        """The open segment holds data no velocity may be derived from."""
        self.tainted = True

    def append(
        self,
        t: np.ndarray,
        accel: np.ndarray,
        magnitude: np.ndarray,
        rate: np.ndarray,
        tilt: np.ndarray,
        force: np.ndarray,
        quiet: np.ndarray,
        window: int,
    ) -> list[Segment]:
        """Add a chunk (accel n×3: z, ap, lat; |a| of the raw specific force, m/s²; |gyro|,
        rad/s); returns the segments its rests closed."""
        base = self.end
        block = np.full((t.size, WIDTH), np.nan)
        block[:, T], block[:, ACCEL], block[:, TILT] = t, accel - self.accel_bias, tilt
        block[:, FL : FR + 1], block[:, RATE], block[:, MAG] = force, rate, magnitude
        block[:, REST] = 0.0
        self._push(block)
        runs = _runs(quiet)
        if not runs or runs[0][0] > 0:  # the chunk starts unsettled
            self._quiet_since = None
            if self.resting:
                self._resume(base - 1)  # the bar started moving with this chunk
        closed: list[Segment] = []
        done = base  # samples before this are integrated or at rest
        for run_start, run_stop in runs:
            begin = base + run_start
            # A quiet window ending at run_start began window − 1 samples earlier.
            quiet_from = begin - window + 1
            if run_start == 0 and self._quiet_since is not None:
                quiet_from = self._quiet_since  # the run goes on from the last chunk
            self._quiet_since = quiet_from if run_stop == t.size else None
            if not self.resting:
                self._integrate(done, base + run_stop)
                done = base + run_stop
                earliest = max(quiet_from, self.segment_start + 1)
                stop = self._first_slow(earliest, base + run_stop - 1)
                if stop is None and self._lasting(earliest, base + run_stop - 1):
                    stop = earliest
                if stop is None:
                    continue  # still, but moving steadily: a slow descent, not a rest
                closed.append(self._close(stop))
                begin = stop
            self._rest(begin, base + run_stop)
            done = base + run_stop
            if run_stop < t.size:
                self._resume(base + run_stop - 1)
        if not self.resting:
            self._integrate(done, self.end)
        return closed

    def _resume(self, anchor: int) -> None:
        """Motion starts after the rest sample `anchor`."""
        self.resting = False
        self.segment_start = anchor
        self.tainted = False
        self._rest_sum[:], self._rest_n = 0.0, 0

    def _integrate(self, start: int, stop: int) -> None:
        """Trapezoidal velocity and position over [start, stop), continuing from start − 1."""
        if stop <= start:
            return
        lo = max(start - 1, self.segment_start)
        rows = self.rows(lo, stop)
        if np.isnan(rows[0, VZ]):  # the very first sample: assume the bar starts still
            rows[0, VELOCITY], rows[0, POSITION], rows[0, TURN] = 0.0, 0.0, 0.0
        dt = np.diff(rows[:, T])[:, None]
        rows[1:, TURN] = rows[0, TURN] + np.cumsum(rows[1:, RATE] * dt[:, 0])
        _trapezoid(rows, ACCEL, VELOCITY, dt)
        _trapezoid(rows, VELOCITY, POSITION, dt)

    def _first_slow(self, start: int, stop: int) -> int | None:
        """The first sample in [start, stop] where the integrated speed is low enough for rest."""
        s = self.settings
        rows = self.rows(start, stop + 1)
        if rows[0, TURN] > s.handling_rad:
            return start  # handling the bar: no rep will be measured, its speed is moot
        slow = np.flatnonzero(
            np.abs(rows[:, VZ]) <= s.rest_max_mps + s.rest_max_mps_per_rad * rows[:, TURN]
        )
        return start + int(slow[0]) if slow.size else None

    def _lasting(self, start: int, stop: int) -> bool:
        t = self.rows(start, stop + 1)[:, T]
        return bool(t[-1] - t[0] >= self.settings.certain_rest_s)

    def _close(self, stop: int) -> Segment:
        """End-point correction: zero velocity at both ends, positions integrated again."""
        rows = self.rows(self.segment_start, stop + 1)
        t = rows[:, T]
        ramp = ((t - t[0]) / max(t[-1] - t[0], 1e-9))[:, None]
        rows[:, VELOCITY] -= rows[-1, VELOCITY] * ramp
        _trapezoid(rows, VELOCITY, POSITION, np.diff(t)[:, None])
        self.resting = True
        return Segment(self.segment_start, stop, self.tainted, float(rows[-1, TURN]))

    def _rest(self, start: int, stop: int) -> None:
        """Samples [start, stop) at rest: zero velocity, position held; learn the bias."""
        rows = self.rows(start, stop)
        if rows.shape[0] == 0:
            return
        held = self.rows(start - 1, start)
        position = held[0, POSITION] if held.shape[0] and not np.isnan(held[0, Z]) else 0.0
        rows[:, VELOCITY] = 0.0
        rows[:, POSITION] = position
        rows[:, TURN] = 0.0
        rows[:, REST] = 1.0
        # At rest the true acceleration is zero: what the sensor reads is its bias. Averaged
        # over the whole rest, so its last samples, where the next move may begin, weigh little.
        self._rest_sum[:3] += (rows[:, ACCEL] + self.accel_bias).sum(axis=0)
        self._rest_sum[3] += rows[:, MAG].sum()
        self._rest_n += rows.shape[0]
        rows[:, ACCEL] = 0.0
        self.accel_bias = self._rest_sum[:3] / self._rest_n
        self._rest_g = float(self._rest_sum[3] / self._rest_n)

    def give_up(self) -> None:
        """Stop following the open motion: taint it and measure nothing older than now."""
        self.tainted = True
        if not self.resting:
            self.segment_start = self.end - 1

    def trim(self, keep_from: int) -> None:
        """Drop the samples nothing will read again: those before `keep_from` and before the
        open segment (at rest, the newest sample is all the next segment needs)."""
        anchor = self.end - 1 if self.resting else self.segment_start
        oldest = min(keep_from, anchor)
        if oldest > self.first:
            self._lo += oldest - self.first
            self.first = oldest

    def _push(self, block: np.ndarray) -> None:
        kept, n = self._hi - self._lo, block.shape[0]
        if self._hi + n > self._buffer.shape[0]:
            # Sized afresh from what is kept: after a long set the buffer shrinks again.
            capacity = MIN_ROWS
            while kept + n > capacity // 2:
                capacity *= 2
            moved = np.empty((capacity, WIDTH))
            moved[:kept] = self._buffer[self._lo : self._hi]
            self._buffer, self._lo, self._hi = moved, 0, kept
        self._buffer[self._hi : self._hi + n] = block
        self._hi += n


def _trapezoid(rows: np.ndarray, rate: slice, level: slice, dt: np.ndarray) -> None:
    """Integrate the `rate` columns into the `level` columns, from the first row's level."""
    steps = (rows[1:, rate] + rows[:-1, rate]) / 2 * dt
    rows[1:, level] = rows[0, level] + np.cumsum(steps, axis=0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs in a boolean array."""
    if not mask.any():
        return []
    if mask.all():
        return [(0, mask.size)]
    edges = np.diff(mask.astype(np.int8), prepend=0, append=0)
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )
