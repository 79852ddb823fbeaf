"""Next-session load advice from an athlete's load–velocity profile (docs/advice.md).

Each set's fastest clean rep gives one (load, mean concentric velocity) point. A straight line
through the recent points is the athlete's profile for the lift; where it reaches the lift's
velocity at 1RM is the estimated 1RM (e1RM); a share of that, rounded down to the plate step, is
the next session's load. Form faults in the last session hold the load where it was.

The server runs as identical processes with no shared state, so the advice is a pure function
of the history stored in InfluxDB up to the set that asks for it, and of the settings: any
process, and any redelivery of the set, gives the same answer.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from statistics import median
from typing import Any, Literal, Protocol

import msgspec

from contract.config import Section
from contract.lifts import LIFTS, VELOCITY_AT_1RM_MPS
from contract.messages import AdviceMessage, RepMessage, SetMessage, Severity
from server.influxql import quoted
from server.points import from_point

KG_PER_LB = 0.45359237
DAY_S = 86_400.0
LOAD_GRAIN_KG = 0.5  # loads closer than this are one load (load cells read a little apart)


class AdviceSettings(Section):
    """How advice is made; every default is argued in docs/advice.md."""

    units: Literal["kg", "lb"] = "kg"
    step: float = 2.5  # the smallest change of load, in `units`: a pair of the smallest plates
    target_pct_1rm: float = 80.0  # next session's load as a share of e1RM
    # Per lift, aim at this mean concentric velocity instead of target_pct_1rm.
    target_velocity_mps: dict[str, float] = msgspec.field(default_factory=dict)
    v1rm_mps: dict[str, float] = msgspec.field(default_factory=dict)  # per lift, over the table
    window_days: float = 28.0  # history older than this, before the set, is not used
    max_sessions: int = 6  # nor more than this many of the latest sessions
    min_loads: int = 3  # distinct loads the profile needs
    min_velocity_spread_mps: float = 0.25  # between its fastest and slowest load
    min_r2: float = 0.85  # how straight the points must lie
    max_increase_pct: float = 10.0  # over the last session's top load, whatever e1RM says
    hold_on_critical: bool = True  # any critical form fault last session holds the load
    hold_warn_pct: float = 20.0  # so does a form fault on more than this share of its reps
    # Effort, not form: a hard set is meant to slow down, and says nothing against more load.
    ignore_codes: list[str] = msgspec.field(default_factory=lambda: ["velocity_loss", "grinding"])
    # Another server process may still be writing some of the set's reps: wait this long for them.
    wait_for_reps_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.step <= 50:
            raise ValueError(f"advice.step {self.step} must be above 0 and at most 50")
        if not 0 < self.target_pct_1rm <= 100:
            raise ValueError("advice.target_pct_1rm must be above 0 and at most 100")
        for name, table in (("target_velocity_mps", self.target_velocity_mps),
                            ("v1rm_mps", self.v1rm_mps)):  # fmt: skip
            for lift, velocity in table.items():
                if lift not in LIFTS:
                    raise ValueError(f"advice.{name}: unknown lift {lift!r}")
                if not 0 < velocity < 3:
                    raise ValueError(f"advice.{name}.{lift} must be between 0 and 3 m/s")
        if self.window_days <= 0 or self.max_sessions < 1:
            raise ValueError("advice.window_days and advice.max_sessions must be positive")
        if self.min_loads < 2:
            raise ValueError("advice.min_loads must be at least 2: a line needs two loads")
        if not 0 <= self.min_r2 <= 1 or self.min_velocity_spread_mps < 0:
            raise ValueError("advice.min_r2 must be within 0–1 and the spread not negative")
        if self.max_increase_pct < 0 or not 0 <= self.hold_warn_pct <= 100:
            raise ValueError("advice.max_increase_pct and hold_warn_pct must be percentages")
        if not 0 <= self.wait_for_reps_s <= 30:
            raise ValueError("advice.wait_for_reps_s must be within 0–30 s")

    @property
    def step_kg(self) -> float:
        return self.step * (KG_PER_LB if self.units == "lb" else 1.0)

    def v1rm_for(self, lift: str) -> float:
        return self.v1rm_mps.get(lift, VELOCITY_AT_1RM_MPS[lift])

    def in_units(self, load_kg: float) -> str:
        """A load in words as the coach counts it: '102.5 kg', '225 lb'."""
        value = load_kg / KG_PER_LB if self.units == "lb" else load_kg
        return f"{value:.1f}".removesuffix(".0") + f" {self.units}"


@dataclass(frozen=True)
class RepRecord:
    """What advice needs of one stored rep."""

    msg_id: str
    session_id: str
    set_index: int
    t_s: float  # concentric end, UTC epoch seconds
    load_kg: float | None
    velocity_mps: float | None  # mean concentric velocity
    faults: tuple[tuple[str, Severity], ...] = ()  # (code, severity)
    fault_count: int = 0  # as its rep point says: fewer faults found are still being written

    @classmethod
    def of(cls, rep: RepMessage) -> RepRecord:
        return cls(
            rep.msg_id,
            rep.session_id,
            rep.set_index,
            rep.t_concentric_end,
            rep.load_kg,
            rep.mean_velocity_mps,
            tuple((f.code, f.severity) for f in rep.faults),
            len(rep.faults),
        )


@dataclass(frozen=True)
class Profile:
    """Mean concentric velocity as a straight line in load: v = intercept + slope × load."""

    intercept_mps: float
    slope_mps_per_kg: float  # negative: heavier is slower
    r2: float
    loads: int  # distinct loads fitted
    spread_mps: float  # fastest minus slowest load's velocity

    def load_at(self, velocity_mps: float) -> float:
        return (velocity_mps - self.intercept_mps) / self.slope_mps_per_kg


def profile(points: Sequence[tuple[float, float]]) -> Profile | None:
    """The load–velocity line through (load_kg, velocity_mps) points; None under two loads.

    Sets at one load become their median velocity, so repeats do not outweigh other loads and
    one odd set among them does not move the line. The slope is the Theil–Sen estimate (the
    median of the slopes between loads), so one odd load among three or more does not either.
    """
    by_load: dict[float, list[float]] = defaultdict(list)
    for load_kg, velocity_mps in points:
        by_load[_grain(load_kg)].append(velocity_mps)
    if len(by_load) < 2:
        return None
    loads = sorted(by_load)
    velocities = [median(by_load[load]) for load in loads]
    slope = median(
        (v2 - v1) / (x2 - x1)
        for (x1, v1), (x2, v2) in combinations(zip(loads, velocities, strict=True), 2)
    )
    intercept = median(v - slope * x for x, v in zip(loads, velocities, strict=True))
    mean_v = sum(velocities) / len(velocities)
    total = sum((v - mean_v) ** 2 for v in velocities)
    residual = sum((v - intercept - slope * x) ** 2 for x, v in zip(loads, velocities, strict=True))
    return Profile(
        intercept_mps=intercept,
        slope_mps_per_kg=slope,
        r2=1 - residual / total if total > 0 else 0.0,
        loads=len(loads),
        spread_mps=max(velocities) - min(velocities),
    )


def _grain(load_kg: float) -> float:
    return round(load_kg / LOAD_GRAIN_KG) * LOAD_GRAIN_KG


def e1rm(fitted: Profile, v1rm_mps: float) -> float:
    """Estimated 1RM (kg): the load the profile puts at the lift's velocity at 1RM."""
    return fitted.load_at(v1rm_mps)


def round_down(load_kg: float, step_kg: float) -> float:
    """The heaviest multiple of the plate step not above the load (a hair of float slack, so
    225 lb in kilograms stays 225 lb)."""
    return math.floor(load_kg / step_kg + 1e-9) * step_kg


def in_plates(measured_kg: float, step_kg: float) -> float:
    """The load on the bar as plates make it. The load cells read within LOAD_GRAIN_KG of it,
    so 225 lb, weighed as 102.0 kg, is 225 lb again and not 220 lb once rounded down."""
    nearest = round(measured_kg / step_kg) * step_kg
    return nearest if abs(nearest - measured_kg) <= LOAD_GRAIN_KG else measured_kg


def next_load(
    target_kg: float, last_load_kg: float, settings: AdviceSettings, held_back: bool
) -> float:
    """The target in plate steps, never above the last load when held back, nor more than
    max_increase_pct over it."""
    ceiling = last_load_kg if held_back else last_load_kg * (1 + settings.max_increase_pct / 100)
    return round_down(min(target_kg, ceiling), settings.step_kg)


def set_points(reps: Sequence[RepRecord], settings: AdviceSettings) -> list[tuple[float, float]]:
    """Per set, (load_kg, velocity_mps) of its fastest rep without a form fault.

    The fastest rep is the least fatigued, as in the incremental tests the profile comes from
    (González-Badillo & Sánchez-Medina 2010); a rep with a form fault (a bounce, a short lockout)
    did not move the bar the way the load alone would have.
    """
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for rep in reps:
        if rep.load_kg is None or rep.velocity_mps is None or form_faults(rep, settings):
            continue
        key = (rep.session_id, rep.set_index)
        if key not in best or rep.velocity_mps > best[key][1]:
            best[key] = (rep.load_kg, rep.velocity_mps)
    return list(best.values())


def form_faults(rep: RepRecord, settings: AdviceSettings) -> list[tuple[str, Severity]]:
    return [(code, severity) for code, severity in rep.faults if code not in settings.ignore_codes]


def hold_back(session: Sequence[RepRecord], settings: AdviceSettings) -> str | None:
    """Why the session's form keeps the load where it was, in words; None if it does not."""
    judged = [form_faults(rep, settings) for rep in session]
    faulty = [faults for faults in judged if faults]
    if not faulty:
        return None
    critical = sorted(
        {code for faults in faulty for code, severity in faults if severity == "critical"}
    )
    if settings.hold_on_critical and critical:
        return f"critical {', '.join(critical)} last session"
    share_pct = 100 * len(faulty) / len(session)
    if share_pct > settings.hold_warn_pct:
        counts = Counter(code for faults in faulty for code in {code for code, _ in faults})
        named = ", ".join(f"{code} ×{n}" for code, n in sorted(counts.items()))
        return f"form faults on {len(faulty)} of {len(session)} reps last session ({named})"
    return None


def latest_sessions(reps: Sequence[RepRecord], count: int) -> list[RepRecord]:
    """The reps of the `count` sessions that ended last."""
    ends: dict[str, float] = {}
    for rep in reps:
        ends[rep.session_id] = max(ends.get(rep.session_id, rep.t_s), rep.t_s)
    kept = set(sorted(ends, key=lambda s: (ends[s], s))[-count:])
    return [rep for rep in reps if rep.session_id in kept]


def advise_from(
    done: SetMessage, history: Sequence[RepRecord], settings: AdviceSettings
) -> AdviceMessage:
    """The advice after `done`, from the athlete's history of this lift up to it (pure)."""
    lift, athlete = done.lift, done.athlete
    # Some of the set's reps were lost or are late: the coach should know what this rests on.
    stored = reps_of(done, history)
    missing = lift != "auto" and athlete and stored < done.reps  # (no history is read for those)
    partial = f" (from {stored} of the set's {done.reps} reps)" if missing else ""

    def advice(reason: str, next_load_kg: float | None = None, **numbers: Any) -> AdviceMessage:
        return AdviceMessage(
            gym=done.gym,
            station=done.station,
            athlete=athlete,
            lift=lift,
            t=done.t_end,
            next_load_kg=next_load_kg,
            step_kg=settings.step_kg,
            reason=reason + partial,
            **numbers,
        )

    if lift == "auto":
        return advice("the lift is not named (auto), so it has no velocity at 1RM")
    if not athlete:
        return advice("no athlete named: advice comes from one athlete's own history")
    v1rm = settings.v1rm_for(lift)
    session = [rep for rep in history if rep.session_id == done.session_id]
    loads = [rep.load_kg for rep in session if rep.load_kg is not None]
    top = max(loads) if loads else done.load_kg  # the top set, not a back-off set
    last_load = None if top is None else in_plates(top, settings.step_kg)
    held = hold_back(session, settings)
    known = {"last_load_kg": last_load, "v1rm_mps": v1rm, "held_back": held is not None}
    recent = latest_sessions(history, settings.max_sessions)
    points = set_points(recent, settings)
    fitted = profile(points)
    short = _shortfall(len({_grain(load) for load, _ in points}), fitted, settings)
    if short is not None or fitted is None or last_load is None:
        why = short or "no load was given for this lift"
        return advice(why + (f"; held back: {held}" if held else ""), **known)
    estimate = e1rm(fitted, v1rm)
    target_velocity = settings.target_velocity_mps.get(lift)
    if target_velocity is None:
        target = estimate * settings.target_pct_1rm / 100
        aim = f"{settings.target_pct_1rm:g} % of it"
    else:
        target = fitted.load_at(target_velocity)
        aim = f"the load at {target_velocity:g} m/s"
    chosen = next_load(target, last_load, settings, held is not None)
    sessions = len({rep.session_id for rep in recent})
    words = [
        f"e1RM {settings.in_units(estimate)} at {v1rm:g} m/s from {fitted.loads} loads over "
        f"{sessions} session{'s' * (sessions != 1)} (r² {fitted.r2:.2f}); "
        f"{aim} is {settings.in_units(target)}"
    ]
    if held:
        words.append(f"held back to {settings.in_units(last_load)}: {held}")
    elif round_down(target, settings.step_kg) > chosen:
        words.append(
            f"capped at +{settings.max_increase_pct:g} % of {settings.in_units(last_load)}"
        )
    if chosen <= 0:
        return advice("; ".join([*words, "that is no load at all: check the history"]), **known)
    words.append(f"next {settings.in_units(chosen)}")
    return advice("; ".join(words), **known, next_load_kg=chosen, e1rm_kg=round(estimate, 2))


def _has_history(done: SetMessage) -> bool:
    return bool(done.athlete) and done.lift != "auto"


def _whole(done: SetMessage, history: Sequence[RepRecord]) -> bool:
    """Whether the set's reps, and every rep's faults, are all stored."""
    complete = all(len(rep.faults) >= rep.fault_count for rep in history)
    return complete and reps_of(done, history) >= done.reps


def reps_of(done: SetMessage, history: Sequence[RepRecord]) -> int:
    """How many of the set's own reps the history holds."""
    return sum(rep.session_id == done.session_id and rep.set_index == done.set_index
               for rep in history)  # fmt: skip


def _shortfall(loads: int, fitted: Profile | None, settings: AdviceSettings) -> str | None:
    """What the history lacks for a profile worth trusting, in words; None if nothing."""
    if loads < settings.min_loads:
        more = settings.min_loads - loads
        return f"need sets at {more} more load{'s' * (more != 1)}"
    assert fitted is not None
    if fitted.slope_mps_per_kg >= 0:
        return "velocity does not fall as the load rises: no profile to read"
    if fitted.spread_mps < settings.min_velocity_spread_mps:
        return (
            f"need loads further apart: their velocities span {fitted.spread_mps:.3f} m/s, "
            f"{settings.min_velocity_spread_mps:g} needed (a light warm-up set helps)"
        )
    if fitted.r2 < settings.min_r2:
        return (
            f"the points scatter too much for a profile: r² {fitted.r2:.2f}, "
            f"{settings.min_r2:g} needed"
        )
    return None


class Reader(Protocol):
    def query(self, influxql: str) -> list[dict[str, Any]]: ...


class Advisor:
    """Advice after each set, from history in InfluxDB (server.influx.InfluxReader). The
    server stores and publishes it (server/reactions.py). Query failures raise
    server.influx.WriteError, whose `retry` says whether trying again can help."""

    def __init__(self, settings: AdviceSettings, reader: Reader) -> None:
        self.settings = settings
        self._reader = reader

    def advise(self, done: SetMessage) -> AdviceMessage:
        """Advice for the set's athlete and lift, from their history up to the set's end as
        stored now, saying so in the reason if some of the set's reps are not."""
        return advise_from(done, self._history_for(done), self.settings)

    def advise_if_whole(self, done: SetMessage) -> AdviceMessage | None:
        """The advice once the set's reps and their faults are all stored; None until then. On
        the shared subscription they may have gone to other processes, which may not have
        written them yet (server/reactions.py waits for them)."""
        history = self._history_for(done)
        if _has_history(done) and not _whole(done, history):
            return None
        return advise_from(done, history, self.settings)

    def _history_for(self, done: SetMessage) -> list[RepRecord]:
        """No athlete or no lift named: there is no history of theirs to read."""
        return self.history(done) if _has_history(done) else []

    def newest(self, gym: str, station: str) -> AdviceMessage | None:
        """The station's latest stored advice (by its set's end), as it was published: what its
        retained `…/advice` should hold."""
        rows = self._reader.query(
            f'SELECT * FROM "advice" WHERE "gym" = {quoted(gym)} '
            f'AND "station" = {quoted(station)} ORDER BY time DESC LIMIT 1'
        )
        if not rows:
            return None
        # No athlete named, and no load advised yet, are left out of the point.
        return from_point(rows[0], AdviceMessage, athlete="", next_load_kg=None)

    def history(self, done: SetMessage) -> list[RepRecord]:
        """The athlete's reps of this lift in the window before the set's end, at any station
        of the gym (the same name at another gym is another person)."""
        end_ns = round(done.t_end * 1e9)
        start_ns = end_ns - round(self.settings.window_days * DAY_S * 1e9)
        where = (
            f'"gym" = {quoted(done.gym)} AND "athlete" = {quoted(done.athlete)} '
            f'AND "lift" = {quoted(done.lift)} AND time >= {start_ns} AND time <= {end_ns}'
        )
        # Reps first: a rep's faults are written with it, so they are there once it is.
        reps = self._reader.query(
            'SELECT "msg_id", "session_id", "set_index", "t_concentric_end", "load_kg", '
            f'"mean_velocity_mps", "fault_count" FROM "rep" WHERE {where}'
        )
        faults: dict[str, list[tuple[str, Severity]]] = defaultdict(list)
        for row in self._reader.query(
            f'SELECT "msg_id", "code", "severity" FROM "fault" WHERE {where}'
        ):
            faults[row["msg_id"]].append((row["code"], row["severity"]))
        return [
            RepRecord(
                msg_id=row["msg_id"],
                session_id=row["session_id"],
                set_index=int(row["set_index"]),
                t_s=float(row["t_concentric_end"]),
                load_kg=row["load_kg"],
                velocity_mps=row["mean_velocity_mps"],
                faults=tuple(faults.get(row["msg_id"], ())),
                fault_count=int(row["fault_count"] or 0),
            )
            for row in reps
        ]
