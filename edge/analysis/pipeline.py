"""Streaming rep analysis: recording chunks in (as FIFO drains arrive), reps and sets out.

The stages, in order, each a module of this package:
screen (NaN, clipping) → timebase (an even grid) → stillness and attitude (gravity, the gyro's
offset) → strokes (where the bar turned, stopped or rested, with the accelerometer's offset
learned as it goes: offset.py) → track (each stroke measured between zero-velocity ends, and
each rep as a whole) → reps (a stroke and its return) → metrics, faults and the bar path.

Pure: no clocks, files or network, so replay, the daemon and the benchmarks share it. Every
decision is taken at a grid cell, from cells up to it, so the events do not depend on how the
samples were chunked.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from contract.lifts import CONCENTRIC_FIRST
from contract.recording import Chunk
from edge.analysis.attitude import Attitude, AttitudeSettings
from edge.analysis.diagnostics import Diagnostics
from edge.analysis.events import Cue, Event, Rep, SensorIssue, SetEnd
from edge.analysis.faults import CONCENTRIC_CODES, Judgement, Thresholds, judge, thresholds_for
from edge.analysis.metrics import RepMetrics, measure
from edge.analysis.path import downsample
from edge.analysis.phases import Phase
from edge.analysis.reference import Reference
from edge.analysis.reps import RepAssembler, RepSettings
from edge.analysis.screen import screen
from edge.analysis.stillness import Stillness, StillnessSettings
from edge.analysis.strokes import StrokeFinder, StrokeSettings
from edge.analysis.timebase import Cells, Hole, Timebase, TimebaseSettings
from edge.analysis.track import Track, TrackSettings
from edge.analysis.weighing import Weighing


@dataclass(frozen=True)
class AnalysisSettings:
    lift: str = "auto"
    load_kg: float | None = None  # for power when there are no load cells
    set_gap_s: float = 8.0  # this long without a rep ends the set
    longest_pause_s: float = 5.0  # a longer pause between two phases is not within a rep
    timebase: TimebaseSettings = field(default_factory=TimebaseSettings)
    stillness: StillnessSettings = field(default_factory=StillnessSettings)
    attitude: AttitudeSettings = field(default_factory=AttitudeSettings)
    strokes: StrokeSettings = field(default_factory=StrokeSettings)
    track: TrackSettings = field(default_factory=TrackSettings)
    reps: RepSettings = field(default_factory=RepSettings)
    thresholds: Thresholds | None = None  # None: the lift's defaults
    reference: Reference | None = None  # a stored profile to start from; None: learn it
    path_rate_hz: float = 50.0  # each rep's bar path is resampled to this for the wire


def first_direction(lift: str) -> int | None:
    if lift == "auto":
        return None
    return 1 if lift in CONCENTRIC_FIRST else -1


class RepAnalysis:
    """Feed chunks in time order; each call returns the events completed by that chunk."""

    def __init__(self, settings: AnalysisSettings | None = None) -> None:
        s = self.settings = settings or AnalysisSettings()
        self._timebase = Timebase(s.timebase)
        period = self._timebase.period_s
        self._stillness = Stillness(period, s.stillness)
        self._attitude = Attitude(period, s.attitude)
        self._strokes = StrokeFinder(period, s.strokes)
        self._track = Track(period, s.track)
        self._reps = RepAssembler(first_direction(s.lift), s.reps)
        self._weighing = Weighing()
        self._thresholds = s.thresholds or thresholds_for(s.lift)
        self._reference = s.reference or Reference()
        self._last_stop_t: float | None = None  # when the bar last stopped or turned
        self._pause_before: dict[int, float] = {}  # pause before each phase, by its stroke's start
        self._set_index = 0
        self._set_reps: list[Rep] = []
        self._cued: set[str] = set()  # fault codes already signalled for the rep in progress
        self.diagnostics = Diagnostics()

    # The station's view of the analysis.

    def feed(self, chunk: Chunk) -> list[Event]:
        events: list[Event] = []
        if len(chunk) == 0:  # an empty FIFO drain
            return events
        screened = screen(chunk)
        if screened.first_nan_t is not None:
            events.append(SensorIssue("nan", screened.first_nan_t, screened.nan_rows))
        if screened.first_clipped_t is not None:
            count = int(screened.clipped.sum())
            events.append(SensorIssue("saturated", screened.first_clipped_t, count))
        for item in self._timebase.push(screened.chunk, screened.clipped):
            if isinstance(item, Hole):
                events.append(SensorIssue("gap", item.t_from, 0))
                self.diagnostics.holes += 1
                events += self._break(self._track.end)
            else:
                events += self._cells(item)
        self.diagnostics.seen(self._timebase, self._attitude)
        if self._track.end > self._track.first:
            events += self._maybe_end_set(self._track.newest_t)
        return events

    def finish(self) -> list[Event]:
        """Close the open set (at the end of the stream, or when told the set is over); a
        rep held back for the rest of its return is the rep it was."""
        held = self._reps.expire(float("inf"))
        return (self._rep(*held) if held is not None else []) + self._end_set()

    @property
    def resting_force_n(self) -> np.ndarray | None:
        """Force on each cell (left, right) while the bar is still; None while it moves."""
        return self._weighing.force_n

    @property
    def resting_load_kg(self) -> float | None:
        """The load on the cells (plates and bar) while the bar is still."""
        return self._weighing.load_kg

    def restart_weighing(self) -> None:
        """The cells were zeroed: the weighings so far no longer hold."""
        self._weighing.restart()

    @property
    def held_s(self) -> float:
        """How much of the stream the analysis holds, s: bounded by the longest stroke
        (StrokeSettings) and the rep waiting for its return, however long the daemon runs."""
        track = self._track
        if track.end - track.first < 2:
            return 0.0
        return (track.end - 1 - track.first) * self._timebase.period_s

    def use_load(self, load_kg: float | None) -> None:
        """The load changed between sets (for power when there are no load cells)."""
        self.settings = dataclasses.replace(self.settings, load_kg=load_kg)

    @property
    def reference(self) -> Reference:
        """The athlete's profile as learned so far, to carry into their next session."""
        return self._reference

    def use_reference(self, reference: Reference) -> None:
        """Judge from this athlete profile on (learning continues from it)."""
        self._reference = reference

    # The stages.

    def _cells(self, cells: Cells) -> list[Event]:
        """A run of grid cells; a clipped stretch breaks the motion right after it."""
        events: list[Event] = []
        clipped = cells.clipped
        after_clipping = np.flatnonzero(clipped[:-1] & ~clipped[1:]) + 1
        for start, stop in itertools.pairwise([0, *after_clipping.tolist(), len(cells)]):
            events += self._run(_part(cells, start, stop))
            if clipped[stop - 1]:
                events += self._break(cells.first + stop)
        return events

    def _run(self, cells: Cells) -> list[Event]:
        still = self._stillness.update(cells.first, cells.accel_mps2, cells.gyro_radps)
        motion = self._attitude.update(
            cells.first, cells.accel_mps2, cells.gyro_radps, still.quiet, still.gyro_mean_radps
        )
        self._track.append(
            cells.first, cells.t, motion.accel_mps2, motion.tilt_deg, motion.up, cells.force_n,
            cells.clipped, still.quiet,
        )  # fmt: skip
        self._weighing.update(cells.t, cells.force_n, still.quiet)
        events: list[Event] = []
        for stroke in self._strokes.update(
            cells.first, motion.accel_mps2[:, 0], motion.up, still.quiet, still.at_rest
        ):
            # What ended before this stroke began is done first, however the cells came:
            # measuring a stroke rewrites the cells a rep held back would be measured from.
            events += self._maybe_end_set(self._track.t_at(max(stroke.start, self._track.first)))
            phase = self._track.measure(stroke)
            self.diagnostics.stroke(stroke)
            if _rings(phase):
                self.diagnostics.set_aside("the filter ringing, not the bar")
            else:
                events += self._phase(phase)
        self._track.trim(self._keep_from())
        return events

    def _break(self, index: int) -> list[Event]:
        """Bad data or a hole: nothing is measured across it. A rep held back is measured now,
        while its cells are kept (the track starts afresh after a hole)."""
        for stroke in self._strokes.cut(index - 1):
            self.diagnostics.stroke(stroke)
        held = self._reps.interrupt()
        events = self._rep(*held) if held is not None else []
        self._cued = set()
        self._attitude.restart()
        self._stillness.reset()
        self._weighing.restart()
        self._last_stop_t = None
        return events

    def _phase(self, phase: Phase) -> list[Event]:
        # The pause before each phase, by its first cell (a joined phase keeps its first):
        # since the set's last phase, or, before a set's first, how long the bar was still.
        last = self._last_stop_t
        if last is None or phase.t_start - last > self.settings.longest_pause_s:
            before = self._track.still_before(phase.start)
        else:
            before = max(0.0, phase.t_start - last)
        recent = list(self._pause_before.items())[-8:]
        self._pause_before = dict([*recent, (phase.bounds[0], before)])
        self._last_stop_t = phase.t_stop
        pairs = self._reps.add(phase)
        if not pairs:
            if phase.tainted:
                self.diagnostics.set_aside("bad data")
            return self._concentric_cue(phase)
        return [event for pair in pairs for event in self._rep(*pair)]

    def _rep(self, first: Phase, second: Phase) -> list[Event]:
        """A rep from its two phases: measured, judged, and its path."""
        first, second = self._track.across_turn(first, second)
        # The lockout hold: between up and down in a concentric-first rep, else the pause at
        # the top before the rep began.
        hold = (
            second.t_start - first.t_stop
            if first.direction > 0
            else self._pause_before.get(first.bounds[0], 0.0)
        )
        metrics = measure(self._track, first, second, max(hold, 0.0), self.settings.load_kg)
        if metrics.rom_m <= 0 or metrics.mean_velocity_mps <= 0:
            self.diagnostics.set_aside("no rise in the measured concentric")
            return []
        loss, verdict = self._judge(metrics)
        self._reference.learn(metrics.rom_m, metrics.drift_ap_m, {f.code for f in verdict.faults})
        rep = Rep(
            **vars(metrics),
            set_index=self._set_index,
            rep_index=len(self._set_reps),
            velocity_loss_pct=loss,
            faults=verdict.faults,
            unjudged=verdict.unjudged,
            path=downsample(
                self._track.rows(first.start, second.stop + 1),
                metrics.t_start,
                metrics.t_end,
                self.settings.path_rate_hz,
            ),
        )
        self._set_reps.append(rep)
        self.diagnostics.reps += 1
        self.diagnostics.unconfirmed += not (first.anchored and second.anchored)
        fresh = tuple(f for f in rep.faults if f.code not in self._cued)
        self._cued = set()
        return [rep, Cue(rep.t_end, fresh)] if fresh else [rep]

    def _concentric_cue(self, phase: Phase) -> list[Event]:
        """A concentric that opens a rep (hip lifts, deadlift) is over long before the rep:
        judge what it alone shows, so the lifter hears about it at lockout."""
        pending = self._reps.pending
        if phase.direction < 0 or pending is None or pending.stop != phase.stop:
            return []
        metrics = measure(self._track, pending, pending, float("inf"), self.settings.load_kg)
        if metrics.rom_m <= 0 or metrics.mean_velocity_mps <= 0:
            return []
        reference = self._reference.rom_m
        if phase.held and reference is not None and metrics.rom_m < STALL_SHARE * reference:
            return []  # stopped well short: a stall (hips shooting) the bar may push on from
        _, verdict = self._judge(metrics)
        faults = tuple(f for f in verdict.faults if f.code in CONCENTRIC_CODES)
        self._cued = {f.code for f in faults}
        return [Cue(phase.t_stop, faults)] if faults else []

    def _judge(self, metrics: RepMetrics) -> tuple[float, Judgement]:
        """The velocity loss from the set's best rep so far, and the form judgement."""
        best = max([r.mean_velocity_mps for r in self._set_reps] + [metrics.mean_velocity_mps])
        loss = 100 * (1 - metrics.mean_velocity_mps / best)
        return loss, judge(metrics, loss, self._reference, self._thresholds)

    def _maybe_end_set(self, now: float) -> list[Event]:
        """Forget a first phase left without its return, and end the set after a long enough
        idle spell; both judged up to `now`, or to the earliest cell the next stroke may yet
        be found to begin at (a slow phase that began in time is not given up while it lasts,
        and the judgement does not depend on how far the cells have come)."""
        since = self._strokes.undecided_since
        if since < self._track.end:
            now = min(now, self._track.t_at(max(since, self._track.first)))
        events = [] if (held := self._reps.expire(now)) is None else self._rep(*held)
        # Not in the middle of a (slow) rep, nor holding one back.
        idle = self._reps.pending is None and self._reps.stalled is None
        if idle and self._set_reps and now - self._set_reps[-1].t_end >= self.settings.set_gap_s:
            return events + self._end_set()
        return events

    def _end_set(self) -> list[Event]:
        if not self._set_reps:
            return []
        reps = self._set_reps
        best = max(r.mean_velocity_mps for r in reps)
        event = SetEnd(
            set_index=self._set_index,
            reps=len(reps),
            t_start=reps[0].t_start,
            t_end=reps[-1].t_end,
            best_mean_velocity_mps=best,
            last_mean_velocity_mps=reps[-1].mean_velocity_mps,
            velocity_loss_pct=100 * (1 - reps[-1].mean_velocity_mps / best),
            fault_counts=dict(Counter(f.code for r in reps for f in r.faults)),
        )
        self._set_index += 1
        self._set_reps = []
        self._cued = set()
        self._reps.new_set()
        return [event]

    def _keep_from(self) -> int:
        firsts = [self._strokes.open_since]
        if self._reps.pending is not None:
            firsts.append(self._reps.pending.bounds[0])
        if self._reps.stalled is not None:
            firsts.append(self._reps.stalled[0].bounds[0])
        return min(firsts)


# A concentric that stops this far short of the athlete's lockout may go on after a stall: it
# is not cued at its stop, but with the whole concentric (or with the rep).
STALL_SHARE = 0.7

# A stroke the high-passed motion made but the bar did not: after a fast stroke stopped dead,
# the filter swings back; integrated, the bar hardly moved.
RINGING_SHARE, RINGING_M = 0.2, 0.03


def _rings(phase: Phase) -> bool:
    travel = abs(phase.travel_m)
    return travel < RINGING_M and travel < RINGING_SHARE * abs(phase.excursion_m)


def _part(cells: Cells, start: int, stop: int) -> Cells:
    return Cells(
        cells.first + start,
        cells.t[start:stop],
        cells.accel_mps2[start:stop],
        cells.gyro_radps[start:stop],
        cells.force_n[start:stop],
        cells.clipped[start:stop],
    )


__all__ = ["AnalysisSettings", "RepAnalysis"]
