"""Streaming rep analysis: recording chunks in (as FIFO drains arrive), reps and sets out.

orientation → stillness → track (velocity, end-point corrected at each rest) → phases → reps →
metrics. Pure: no clocks, files or network, so replay, the daemon and the benchmarks share it.
Bad data (NaN, clipped, gaps) is reported as a SensorIssue and taints the motion it falls in:
no velocity is ever derived from it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from contract.lifts import CONCENTRIC_FIRST
from contract.messages import Fault
from contract.recording import Chunk
from edge.faults import CONCENTRIC_CODES, Judgement, Thresholds, judge, thresholds_for
from edge.metrics import RepMetrics, measure
from edge.orientation import DEG_PER_RAD, G, Orientation, OrientationSettings
from edge.path import RepPath, downsample
from edge.phases import Phase, PhaseSettings, split
from edge.reference import Reference
from edge.reps import RepAssembler, RepSettings
from edge.stillness import Stillness, StillnessSettings
from edge.track import FL, FR, REST, Segment, T, Track, TrackSettings

ACCEL_RANGE_MPS2 = 16 * G  # the IMU's full scale: readings at the rail are clipped
GYRO_RANGE_RADPS = 2000 / DEG_PER_RAD
# The load is the median of the cells' readings over the latest WEIGH_S at rest, once the bar
# has rested that long, from at least MIN_WEIGHINGS of them. Time, not a count of readings: the
# simulator gives every conversion (320 a second), a real bar one a drain (20 a second).
WEIGH_S = 0.5
MIN_WEIGHINGS = 5


@dataclass(frozen=True)
class AnalysisSettings:
    lift: str = "auto"
    load_kg: float | None = None  # for power when there are no load cells
    set_gap_s: float = 8.0  # this long without a rep ends the set
    # A hole in the timestamps longer than both of these breaks the motion; shorter ones are
    # the few samples a FIFO drain loses now and then, and are integrated across.
    gap_s: float = 0.1
    gap_periods: float = 8.0
    orientation: OrientationSettings = field(default_factory=OrientationSettings)
    stillness: StillnessSettings = field(default_factory=StillnessSettings)
    track: TrackSettings = field(default_factory=TrackSettings)
    phases: PhaseSettings = field(default_factory=PhaseSettings)
    reps: RepSettings = field(default_factory=RepSettings)
    thresholds: Thresholds | None = None  # None: the lift's defaults
    reference: Reference | None = None  # a stored profile to start from; None: learn it
    path_rate_hz: float = 50.0  # each rep's bar path is resampled to this for the wire


@dataclass(frozen=True)
class Rep(RepMetrics):
    set_index: int = 0
    rep_index: int = 0
    velocity_loss_pct: float = 0.0  # against the set's best rep so far
    faults: tuple[Fault, ...] = ()
    unjudged: tuple[str, ...] = ()  # rules with no reference yet
    path: RepPath | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SetEnd:
    set_index: int
    reps: int
    t_start: float
    t_end: float
    best_mean_velocity_mps: float
    last_mean_velocity_mps: float
    velocity_loss_pct: float
    fault_counts: dict[str, int]


@dataclass(frozen=True)
class SensorIssue:
    kind: str  # "saturated", "nan" or "gap"
    t: float
    samples: int


@dataclass(frozen=True)
class Cue:
    """Faults to signal on the bar now: at the concentric's end, not the rep's."""

    t: float
    faults: tuple[Fault, ...]

    @property
    def severity(self) -> str:
        return "critical" if any(f.severity == "critical" for f in self.faults) else "warn"


Event = Rep | SetEnd | SensorIssue | Cue


def first_direction(lift: str) -> int | None:
    if lift == "auto":
        return None
    return 1 if lift in CONCENTRIC_FIRST else -1


class RepAnalysis:
    """Feed chunks in time order; each call returns the events completed by that chunk."""

    def __init__(self, settings: AnalysisSettings | None = None) -> None:
        s = self.settings = settings or AnalysisSettings()
        self._orientation = Orientation(s.orientation)
        self._stillness = Stillness(s.stillness)
        self._track = Track(s.track)
        self._reps = RepAssembler(first_direction(s.lift), s.reps)
        self._last_t: float | None = None
        self._last_stop_t = 0.0  # when the bar last came to a stop: a rest or a turnaround
        self._pause_before: dict[int, float] = {}
        self._done = 0  # samples before this global index have been cut into phases
        self._levelled = False  # the attitude has been re-levelled during this rest
        # The latest load-cell forces (left, right) of the current rest: plates can go on or
        # come off while the bar rests, so the load is what the cells read lately.
        self.restart_weighing()
        self._set_index = 0
        self._set_reps: list[Rep] = []
        self._thresholds = s.thresholds or thresholds_for(s.lift)
        self._cued: set[str] = set()  # fault codes already signalled for the rep in progress
        self._reference = s.reference or Reference()

    def feed(self, chunk: Chunk) -> list[Event]:
        events: list[Event] = []
        if len(chunk) == 0:  # an empty FIFO drain
            return events
        chunk = self._screen(chunk, events)
        if len(chunk) == 0:
            return events
        t = chunk.t
        previous = t[0] - 1e-3 if self._last_t is None else self._last_t
        dt = np.diff(t, prepend=previous)
        period = float(dt.mean())
        if dt.max() > 1.5 * period:  # a dropped sample or a gap: the median is the period
            period = float(np.median(dt))
        limit = max(self.settings.gap_s, self.settings.gap_periods * period)
        if dt.max() > limit:
            hole = int(np.argmax(dt > limit))
            events.append(SensorIssue("gap", float(t[hole] - dt[hole]), 0))
            self._break()
        dt = np.minimum(dt, 4 * period)  # the AHRS must not integrate the gyro across a hole
        self._last_t = float(t[-1])
        attitude = self._orientation.update(chunk.accel_mps2, chunk.gyro_radps, dt, period)
        accel_norm = np.linalg.norm(chunk.accel_mps2, axis=1)
        gyro_norm = np.linalg.norm(chunk.gyro_radps, axis=1)
        quiet = self._stillness.update(
            chunk.accel_mps2,
            accel_norm,
            gyro_norm,
            attitude.accel_mps2[:, 1:],
            period,
            self._track.rest_g_mps2,
            self._track.turned_rad,
        )
        force = chunk.force_n if chunk.force_n is not None else np.full((len(chunk), 2), np.nan)
        segments = self._track.append(
            t,
            attitude.accel_mps2,
            accel_norm,
            gyro_norm,
            attitude.tilt_deg,
            force,
            quiet,
            self._stillness.window,
        )
        rows = self._track.rows(self._track.end - len(chunk), self._track.end)
        at_rest = rows[:, REST] == 1.0
        self._weigh(rows, at_rest)
        if at_rest.any():  # only a confirmed rest: a slow roll can pass the stillness test
            self._orientation.learn_gyro_bias(chunk.gyro_radps[at_rest])
            if at_rest[-1] and not self._levelled:  # once a rest: its first chunk will do
                self._orientation.relevel(chunk.accel_mps2[at_rest])
                self._levelled = True
        if not self._track.resting:
            self._levelled = False
        for segment in segments:
            events += self._closed(segment)
        handling = self._track.turned_rad > self.settings.track.handling_rad
        if not self._track.resting and not self._track.tainted and not handling:
            events += self._reversals()
        if self._track.resting:
            self._reps.expire(float(t[-1]))
        events += self._maybe_end_set(float(t[-1]))
        self._track.trim(self._keep_from())
        if self._track.span_s > self.settings.track.longest_motion_s:
            self._give_up()
        return events

    @property
    def resting_force_n(self) -> np.ndarray | None:
        """Force on each cell (left, right) while the bar rests, once they have had a moment of
        it: the median of the latest readings; None while it moves, or with no load cells."""
        weighed = self._weighed
        if len(weighed) < MIN_WEIGHINGS or weighed[-1, 0] - self._resting_since < WEIGH_S:
            return None
        return np.median(weighed[:, 1:], axis=0)

    @property
    def resting_load_kg(self) -> float | None:
        """The load on the cells (plates and bar) while the bar rests; see resting_force_n."""
        force = self.resting_force_n
        return None if force is None else float(force.sum()) / G

    def restart_weighing(self) -> None:
        """Forget this rest's weighings: the cells were zeroed, so the old ones no longer hold."""
        self._weighed = np.empty((0, 3))  # t, left N, right N
        self._resting_since = np.inf

    @property
    def held_s(self) -> float:
        """How much of the stream the analysis holds, s: the open motion, or the pending phase
        of a rep. Bounded by `track.longest_motion_s`, however long the daemon runs."""
        return self._track.span_s

    def _weigh(self, rows: np.ndarray, at_rest: np.ndarray) -> None:
        if not at_rest.all():
            self.restart_weighing()  # the bar moved: start again at the next rest
        readings = rows[at_rest][:, [T, FL, FR]]
        readings = readings[~np.isnan(readings[:, 1:]).any(axis=1)]
        if len(readings):
            self._resting_since = min(self._resting_since, float(readings[0, 0]))
            weighed = np.concatenate([self._weighed, readings])
            self._weighed = weighed[weighed[:, 0] >= weighed[-1, 0] - WEIGH_S]

    def finish(self) -> list[Event]:
        """Close the open set (at the end of the stream, or when told the set is over)."""
        return self._end_set()

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

    def _closed(self, segment: Segment) -> list[Event]:
        """A segment ended at a rest: its velocity is corrected, so its last phases are final."""
        start = max(segment.start, self._done)
        self._done = segment.stop
        rows = self._track.rows(start, segment.stop + 1)
        events: list[Event] = []
        if segment.tainted or segment.turned_rad > self.settings.track.handling_rad:
            self._reps.interrupt()
        else:
            for phase in split(rows, start, self.settings.phases, from_rest=start == segment.start):
                events += self._phase(phase)
        self._last_stop_t = float(rows[-1, 0])  # the bar comes to rest here
        return events

    def _reversals(self) -> list[Event]:
        """In a segment still moving, a phase the bar has clearly turned back from is over.

        Touch-and-go reps (no pause at the top or the bottom) would otherwise wait for the next
        rest; these phases keep their uncorrected, rest-anchored velocity.
        """
        start = max(self._track.segment_start, self._done)
        rows = self._track.rows(start, self._track.end)
        phases = split(
            rows,
            start,
            self.settings.phases,
            from_rest=start == self._track.segment_start,
            to_rest=False,
        )
        events: list[Event] = []
        for phase in phases[:-1]:  # the newest may still be growing
            events += self._phase(phase)
            self._done = phase.stop
        return events

    def _screen(self, chunk: Chunk, events: list[Event]) -> Chunk:
        """Report and remove NaN rows; report clipped ones. Both break the motion."""
        # The common case in two reductions: a NaN makes the max NaN, and NaN < x is False.
        if (
            np.abs(chunk.accel_mps2).max() < ACCEL_RANGE_MPS2 * 0.998
            and np.abs(chunk.gyro_radps).max() < GYRO_RANGE_RADPS * 0.998
        ):
            return chunk
        broken = ~np.isfinite(chunk.accel_mps2).all(axis=1) | ~np.isfinite(chunk.gyro_radps).all(
            axis=1
        )
        clipped = (np.abs(chunk.accel_mps2) >= ACCEL_RANGE_MPS2 * 0.998).any(axis=1)
        clipped |= (np.abs(chunk.gyro_radps) >= GYRO_RANGE_RADPS * 0.998).any(axis=1)
        clipped &= ~broken
        for kind, mask in (("nan", broken), ("saturated", clipped)):
            if mask.any():
                events.append(SensorIssue(kind, float(chunk.t[mask][0]), int(mask.sum())))
                self._break()
        return chunk[~broken] if broken.any() else chunk

    def _break(self) -> None:
        """Nothing measured across bad data: taint the motion and start the attitude afresh."""
        self._track.taint()
        self._reps.interrupt()
        self._cued = set()
        self._orientation.reset()
        self._stillness.reset()

    def _give_up(self) -> None:
        """A rep or a motion that has lasted this long is not lifting: forget it, so what is
        kept stays bounded however long the bar is carried or a phase waits for its return."""
        self._track.give_up()
        self._reps.interrupt()
        self._cued = set()
        self._track.trim(self._keep_from())

    def _phase(self, phase: Phase) -> list[Event]:
        # The pause before each phase, by its first sample (a joined phase keeps its first).
        self._pause_before = {
            **{k: v for k, v in self._pause_before.items() if k >= self._track.first},
            phase.start: max(0.0, phase.t_start - self._last_stop_t),
        }
        self._last_stop_t = phase.t_stop
        pair = self._reps.add(phase)
        if pair is None:
            return self._concentric_cue(phase)
        first, second = pair
        # The lockout hold: between up and down in a concentric-first rep, else the pause at
        # the top before the rep began.
        hold = (
            second.t_start - first.t_stop
            if first.direction > 0
            else self._pause_before[first.start]
        )
        metrics = measure(self._track, first, second, max(hold, 0.0), self.settings.load_kg)
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
        fresh = tuple(f for f in rep.faults if f.code not in self._cued)
        self._cued = set()
        return [rep, Cue(rep.t_end, fresh)] if fresh else [rep]

    def _concentric_cue(self, phase: Phase) -> list[Event]:
        """A concentric that opens a rep (hip lifts, deadlift) is over long before the rep:
        judge what it alone shows, so the lifter hears about it at lockout. A concentric split
        by a stall (hips shooting) is judged whole: the assembler has joined its parts."""
        pending = self._reps.pending
        if phase.direction < 0 or pending is None or pending.stop != phase.stop:
            return []
        metrics = measure(self._track, pending, pending, float("inf"), self.settings.load_kg)
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
        idle = self._reps.pending is None  # not in the middle of a (slow) rep
        if idle and self._set_reps and now - self._set_reps[-1].t_end >= self.settings.set_gap_s:
            return self._end_set()
        return []

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
        pending = self._reps.pending
        return pending.start if pending is not None else self._track.end
