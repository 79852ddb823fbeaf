"""Samples at whatever times they came, onto an even grid: every later stage sees one period.

Real bars stamp rows irregularly: a radio link delivers them in clumps a few ms apart and then
nothing for 100 ms, repeats a row, and loses a few. Each grid cell holds the mean of the signal
(linearly interpolated between samples) over the cell, so a 1 kHz stream is averaged down without
aliasing, a 25 Hz stream is interpolated up, and the integral of the acceleration (the velocity)
is kept either way. Holes up to `longest_hole_s` are bridged; a longer one breaks the stream.

A cell is computed once, from the samples around it, only when a sample past its end has come:
so the grid does not depend on how the samples were chunked, down to the last bit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from contract.recording import Chunk


@dataclass(frozen=True)
class TimebaseSettings:
    grid_hz: float = 100.0  # bar motion lies below 20 Hz; the AHRS and the rest run per cell
    # Bridged by interpolation; a longer hole breaks the motion. Half a second of radio
    # interference leaves a gap of up to one connection interval (up to 50 ms) more at each end.
    longest_hole_s: float = 0.6


@dataclass(frozen=True)
class Cells:
    """Consecutive grid cells: global index `first` on; `t` is each cell's centre, s."""

    first: int
    t: np.ndarray
    accel_mps2: np.ndarray  # n×3, sensor frame
    gyro_radps: np.ndarray  # n×3
    force_n: np.ndarray  # n×2 (left, right), NaN where no load-cell reading fell in the cell
    clipped: np.ndarray  # n, a clipped sample fell in the cell

    def __len__(self) -> int:
        return int(self.t.size)


@dataclass(frozen=True)
class Hole:
    """No samples from `t_from` to `t_to`: the grid goes on at the first cell after it."""

    t_from: float
    t_to: float


class Timebase:
    def __init__(self, settings: TimebaseSettings | None = None) -> None:
        self.settings = settings or TimebaseSettings()
        self.period_s = 1.0 / self.settings.grid_hz
        self._origin: float | None = None  # t of the first sample: cell k spans origin + kΔ…
        self._next = 0  # global index of the first cell not yet produced
        # Samples kept for the cells still to come: the one before the next cell's start
        # (for interpolation) and all after it. Columns: t, accel, gyro, force, clipped.
        self._kept = np.empty((0, 10))
        self.duplicates = 0  # rows dropped for a stamp at or before the previous one
        self.samples = 0  # rows taken
        self._newest = 0.0

    @property
    def span_s(self) -> float:
        """From the first sample to the newest, s."""
        return 0.0 if self._origin is None else self._newest - self._origin

    def push(self, chunk: Chunk, clipped: np.ndarray) -> list[Cells | Hole]:
        """Take a chunk (NaN rows already removed); returns the cells it completed, in runs,
        and the holes it revealed between them, in time order."""
        rows = _rows(chunk, clipped)
        last_t = self._kept[-1, 0] if len(self._kept) else -np.inf
        keep = rows[:, 0] > np.maximum.accumulate(np.concatenate([[last_t], rows[:-1, 0]]))
        self.duplicates += int((~keep).sum())
        rows = rows[keep]
        self.samples += len(rows)
        if not len(rows):
            return []
        if self._origin is None:
            self._origin = float(rows[0, 0])
        self._newest = float(rows[-1, 0])
        rows = np.concatenate([self._kept, rows])
        out: list[Cells | Hole] = []
        cuts = np.flatnonzero(np.diff(rows[:, 0]) > self.settings.longest_hole_s)
        runs = np.split(rows, cuts + 1)
        for before, after in itertools.pairwise(runs):
            out += [self._cells(before), Hole(float(before[-1, 0]), float(after[0, 0]))]
            # Start again at the first cell that lies wholly after the hole.
            self._next = int(np.ceil((after[0, 0] - self._origin) / self.period_s - 1e-9))
        out.append(self._cells(rows[cuts[-1] + 1 :] if cuts.size else rows, keep=True))
        return [item for item in out if isinstance(item, Hole) or len(item)]

    def _cells(self, rows: np.ndarray, keep: bool = False) -> Cells:
        """The cells that `rows` cover completely; with `keep`, hold what later cells need."""
        assert self._origin is not None
        period, first = self.period_s, self._next
        t = rows[:, 0]
        # Cell k is complete once a sample lies at or past its end.
        last = int(np.floor((t[-1] - self._origin) / period + 1e-9)) - 1
        count = max(last - first + 1, 0)
        edges = self._origin + period * np.arange(first, first + count + 1)
        values = _cell_means(t, rows[:, 1:7], edges) if count else np.empty((0, 6))
        cells = Cells(
            first,
            edges[:-1] + period / 2,
            values[:, :3],
            values[:, 3:],
            _cell_force(t, rows[:, 7:9], edges),
            _cell_clipped(t, rows[:, 9] > 0, edges),
        )
        self._next = first + count
        if keep:
            start = self._origin + period * self._next
            self._kept = rows[max(int(np.searchsorted(t, start, side="right")) - 1, 0) :]
        return cells


def _rows(chunk: Chunk, clipped: np.ndarray) -> np.ndarray:
    force = chunk.force_n if chunk.force_n is not None else np.full((len(chunk), 2), np.nan)
    return np.column_stack([chunk.t, chunk.accel_mps2, chunk.gyro_radps, force, clipped])


def _cell_means(t: np.ndarray, x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean over each cell [edges[j], edges[j+1]) of the linear interpolant of x(t).

    The sample intervals are cut at the cell edges; each piece is a trapezoid, and a cell's
    pieces are summed in time order by reduceat, the same whichever chunk brought them.
    """
    # Samples strictly inside a cell: one on an edge is the edge's own value, and taking it
    # as a knot too would add a zero piece to one chunking's sum and not another's.
    nearest_edge = edges[np.minimum(np.searchsorted(edges, t), len(edges) - 1)]
    inside = (t > edges[0]) & (t < edges[-1]) & (t != nearest_edge)
    knots = np.concatenate([edges, t[inside]])
    order = np.argsort(knots, kind="stable")
    knots = knots[order]
    values = np.column_stack([np.interp(knots, t, x[:, i]) for i in range(x.shape[1])])
    pieces = (values[1:] + values[:-1]) / 2 * np.diff(knots)[:, None]
    is_edge = order < len(edges)
    starts = np.flatnonzero(is_edge)[:-1]  # each cell's first piece begins at its left edge
    return np.add.reduceat(pieces, starts, axis=0) / np.diff(edges)[:, None]


def _cell_clipped(t: np.ndarray, clipped: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cells whose interpolant a clipped sample reaches: from its neighbour before to the one
    after, since every cell between them is drawn from it."""
    hit = np.flatnonzero(clipped)
    before = t[np.maximum(hit - 1, 0)]
    after = t[np.minimum(hit + 1, len(t) - 1)]
    cells = len(edges) - 1
    lo = np.clip(np.searchsorted(edges, before, side="right") - 1, 0, cells)
    hi = np.clip(np.searchsorted(edges, after, side="left"), 0, cells)
    marks = np.zeros(cells + 1, dtype=int)
    np.add.at(marks, lo, 1)
    np.add.at(marks, hi, -1)
    return np.cumsum(marks)[:cells] > 0


def _cell_force(t: np.ndarray, force: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of the load-cell readings that fall in each cell; NaN where none did."""
    cell = np.searchsorted(edges, t, side="right") - 1
    inside = (cell >= 0) & (cell < len(edges) - 1) & ~np.isnan(force).any(axis=1)
    sums = np.zeros((len(edges) - 1, 2))
    counts = np.zeros(len(edges) - 1)
    np.add.at(sums, cell[inside], force[inside])
    np.add.at(counts, cell[inside], 1)
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]
