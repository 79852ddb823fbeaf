"""The plan of a session: set-up, reps and rests as moves of the bar's channels.

The bar frame is x along the bar (to the lifter's right), y horizontal toward the lifter's head
(anterior-posterior), z up. Angles in radians: roll about the bar's own axis, tilt (the right
end lower for positive values) and yaw. `asymmetry` is the left-minus-right share of the load in
percent of the total, read by the load cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from hardware.faults import SET_LEVEL, FaultSpec, magnitude_of
from hardware.handling import Handling, Hold, Support, settle
from hardware.imu_model import G
from hardware.lifts import PLATE_RADIUS_M, LiftProfile
from hardware.motion import BetaShape, Channel, Move, Wobble

CHANNELS = ("x", "y", "z", "roll", "tilt", "yaw", "asymmetry")
HAND_HELD_LEAD_S = (0.1, 0.5)  # hand-held: the hands are on the bar as the recording starts
HAND_HELD_BRACE_S = (0.2, 0.5)  # no still brace before the first rep
HAND_HELD_GAP_S = (0.0, 0.3)  # the put-away starts right after the last rep
FATIGUE_EXPONENT = 2.5  # velocity falls slowly at first and fast near failure
VELOCITY_LOSS_LABEL = 0.20  # true loss against the set's best rep that labels velocity_loss
GRINDING_LABEL = 1.3  # true MCV under this multiple of v1RM labels grinding


@dataclass(frozen=True)
class Athlete:
    one_rm_kg: float
    rom_m: float  # this athlete's full concentric travel
    velocity_scale: float  # this athlete and day against the population profile (≈1)
    drift_ap_m: float  # this athlete's own bar path: lifters repeat it rep after rep


@dataclass
class RepPlan:
    """What one rep will be, before it becomes moves; faults edit it."""

    set_index: int
    rep_index: int
    mcv_mps: float
    rom_m: float
    eccentric_s: float
    hold_s: float  # lockout: after the concentric, or before the rep in eccentric-first lifts
    pause_s: float  # after the rep, at the bottom (concentric-first lifts only)
    bottom_s: float  # inside the rep, at the bottom (eccentric-first lifts only)
    shape: BetaShape
    sticking: bool  # a heavy rep's two-peak concentric with a slow middle
    stall_s: float = 0.0  # hips shooting: a stall inside the concentric
    drift_ap_m: float = 0.0
    drift_lateral_m: float = 0.0
    tilt_rad: float = 0.0
    roll_rad: float = 0.0
    asymmetry_pct: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)


@dataclass
class PlannedRep:
    set_index: int
    rep_index: int
    t_start: float
    t_concentric_start: float
    t_concentric_end: float
    t_end: float
    rom_m: float
    lockout_hold_s: float
    faults: dict[str, float]


@dataclass
class Plan:
    channels: dict[str, Channel]
    reps: list[PlannedRep]
    sets: list[tuple[float, float]]  # (t_start, t_end) of each set's reps
    duration_s: float
    # The load on the bar from each time on: (t, kg), the first at 0; plates change in a rest.
    loads: list[tuple[float, float]]
    holds: list[Hold] = field(default_factory=list)  # where handling may move the bar

    def load_at(self, t: np.ndarray) -> np.ndarray:
        """The load (kg, bar included) on the bar at each time."""
        times, kilos = zip(*self.loads, strict=True)
        return np.asarray(kilos)[np.searchsorted(times, t, side="right") - 1]


def plan_session(
    profile: LiftProfile,
    athlete: Athlete,
    loads_kg: Sequence[float],
    reps_per_set: int,
    rng: np.random.Generator,
    faults: tuple[FaultSpec, ...] = (),
    rest_s: float = 10.0,
    lead_in_s: float = 2.0,
    setup: bool = True,
    handling: Handling | None = None,
) -> Plan:
    """One set per entry of `loads_kg` (kg, bar included): the load of each set."""
    handling = handling or Handling()
    profile = handling.profile(profile)
    channels = {name: Channel() for name in CHANNELS}
    channels["z"].start = profile.rest_height_m
    reps: list[PlannedRep] = []
    bounds: list[tuple[float, float]] = []
    holds: list[Hold] = []
    spans: list[tuple[float, float]] = []
    loads = [(0.0, loads_kg[0])]
    t, still_since = lead_in_s, 0.0
    if handling.hand_held:  # the recording starts with the hands already on the bar
        t = float(handling.rng.uniform(*HAND_HELD_LEAD_S))
        holds.append(Hold(0.0, t, _resting(profile)))
    sets = len(loads_kg)
    for set_index, load_kg in enumerate(loads_kg):
        span_start = t
        if setup:
            still_since = _set_up(channels, profile, rng, t)
            holds.append(Hold(t, still_since, _carried(profile)))
            brace_s = float(rng.uniform(1.0, 2.0))
            t = _brace(channels, profile, handling, still_since, brace_s, holds)
        first = len(reps)
        plans = _rep_plans(profile, athlete, load_kg, reps_per_set, set_index, rng, faults)
        for plan in plans:
            plan.roll_rad += handling.roll_in_hands()
            if handling.bottom_pause_s and not profile.concentric_first:
                plan.bottom_s = handling.bottom_pause()
            if not profile.concentric_first and plan.rep_index > 0:
                t = still_since + plan.hold_s  # the lockout is the pause at the top before it
                holds.append(Hold(still_since, t, "held"))
            rep = _add_rep(channels, profile, plan, t)
            rep.lockout_hold_s = plan.hold_s if profile.concentric_first else t - still_since
            _label_short_hold(rep)
            holds.append(_hold_inside(profile, plan, rep))
            reps.append(rep)
            t = still_since = rep.t_end
            t += plan.pause_s
            if plan.rep_index < len(plans) - 1 and plan.pause_s:
                holds.append(Hold(rep.t_end, t, _support(channels, profile, rep.t_end)))
        bounds.append((reps[first].t_start, reps[-1].t_end))
        gap_s = float(rng.uniform(0.5, 1.5))
        if handling.hand_held:  # the set ends with handling right after the last rep
            gap_s = float(handling.rng.uniform(*HAND_HELD_GAP_S))
        end = reps[-1].t_end
        holds.append(Hold(end, end + gap_s, _support(channels, profile, end)))
        t = end + gap_s
        if setup:
            put_away = _put_away(channels, profile, rng, t)
            holds.append(Hold(t, put_away, _carried(profile)))
            t = put_away
        spans.append((span_start, t))
        if set_index < sets - 1:
            # Plates change early in the rest, so the bar rests loaded before the next set.
            loads.append((t + 0.3 * rest_s, loads_kg[set_index + 1]))
            t += rest_s
        elif handling.hand_held:  # and the recording stops while the hands are still on it
            lead_out_s = float(handling.rng.uniform(*HAND_HELD_LEAD_S))
            holds.append(Hold(t, t + lead_out_s, _resting(profile)))
            t += lead_out_s
        else:
            t += lead_in_s
    handling.disturb(channels, holds, spans)
    return Plan(channels, reps, bounds, t, loads, holds)


def _brace(
    channels: dict[str, Channel],
    profile: LiftProfile,
    handling: Handling,
    t0: float,
    drawn_s: float,
    holds: list[Hold],
) -> float:
    """After the set-up the bar settles and the lifter braces (hand-held: only for a moment);
    returns when the first rep starts."""
    support = _support(channels, profile, t0)
    settled = t0
    if handling.settle_m and support == "held":  # a bar on the floor has nothing to sink into
        settled = settle(channels["z"], t0, handling.settle_m, handling.rng)
    end = t0 + drawn_s
    if handling.hand_held:
        end = settled + float(handling.rng.uniform(*HAND_HELD_BRACE_S))
    holds.append(Hold(t0, end, support))
    return end


def _hold_inside(profile: LiftProfile, plan: RepPlan, rep: PlannedRep) -> Hold:
    """The pause inside a rep: the lockout hold, or an eccentric-first lift's bottom pause."""
    if profile.concentric_first:
        return Hold(rep.t_concentric_end, rep.t_concentric_end + plan.hold_s, "held")
    return Hold(rep.t_start + plan.eccentric_s, rep.t_concentric_start, "held")


def _support(channels: dict[str, Channel], profile: LiftProfile, t: float) -> Support:
    """Held, or lying on the floor: a deadlift's bar between reps."""
    on_floor = abs(channels["z"].value_at(t) - profile.rest_height_m) < 1e-6
    return "on_floor" if profile.setup == "floor" and on_floor else "held"


def _carried(profile: LiftProfile) -> Support:
    """How the set-up and put-away move the bar: rolled along the thighs or the floor, or
    carried (lifted from the floor or the hooks)."""
    rolled = profile.setup == "roll_onto_hips" or (
        profile.setup == "floor" and profile.concentric_first
    )
    return "on_floor" if rolled else "carried"


def _resting(profile: LiftProfile) -> Support:
    """Where the bar rests before its set-up and after its put-away."""
    return "on_hooks" if profile.setup == "rack" else "on_floor"


def _label_short_hold(rep: PlannedRep) -> None:
    """A lockout held too briefly is a fault whether drawn or injected: label what happened."""
    code = "no_lockout_hold"
    if code not in rep.faults and rep.lockout_hold_s <= FaultSpec(code, 0.0).value():
        rep.faults[code] = magnitude_of(code, rep.lockout_hold_s)


def _rep_plans(
    profile: LiftProfile,
    athlete: Athlete,
    load_kg: float,
    count: int,
    set_index: int,
    rng: np.random.Generator,
    faults: tuple[FaultSpec, ...],
) -> list[RepPlan]:
    fraction = min(load_kg / athlete.one_rm_kg, 1.0)
    heavy = float(np.clip((fraction - 0.4) / 0.6, 0.0, 1.0))  # 0 at 40 % 1RM, 1 at 100 %
    v1rm = profile.v1rm_mps * athlete.velocity_scale
    first = max(profile.mcv_at(fraction) * athlete.velocity_scale, v1rm)
    # Reps to failure at this load (Epley's relation), where velocity reaches v1RM.
    to_failure = max(1.0, 30.0 * (1.0 / fraction - 1.0) + 1.0)
    by_code = {f.code: f for f in faults}
    loss = by_code.get("velocity_loss")
    final_loss = loss.value() if loss else 1.0 - v1rm / first
    span = (count - 1) if loss else to_failure - 1
    ecc_low, ecc_high = profile.eccentric_s
    plans = []
    for i in range(count):
        progress = min(i / span, 1.0) if span > 0 else 0.0
        mcv = max(first * (1 - final_loss * progress**FATIGUE_EXPONENT), v1rm * 0.9)
        plans.append(
            RepPlan(
                set_index=set_index,
                rep_index=i,
                mcv_mps=mcv * (1 + rng.normal(0, 0.02)),
                rom_m=athlete.rom_m * (1 + rng.normal(0, 0.01)),
                eccentric_s=(ecc_low + (ecc_high - ecc_low) * heavy) * rng.uniform(0.9, 1.1),
                hold_s=float(rng.uniform(*profile.top_pause_s)),
                pause_s=float(rng.uniform(*profile.bottom_pause_s))
                if profile.concentric_first
                else 0.0,
                bottom_s=0.0
                if profile.concentric_first
                else float(np.mean(profile.bottom_pause_s)),
                shape=BetaShape(a=2.0, b=2.6 - 0.6 * heavy),
                sticking=fraction >= 0.85,
                drift_ap_m=athlete.drift_ap_m * float(rng.normal(1.0, 0.1)),
                drift_lateral_m=float(rng.normal(0, 0.005)),
                tilt_rad=float(rng.normal(0, np.radians(0.7))),
                roll_rad=float(rng.normal(0, np.radians(4))),
                asymmetry_pct=float(rng.normal(0, 1.5)),
            )
        )
    for plan in plans:
        for fault in faults:
            if fault.code not in SET_LEVEL and fault.hits(plan.rep_index, count):
                _inject(plan, fault, profile)
    if (grinding := by_code.get("grinding")) is not None:
        targets = grinding.reps if grinding.reps is not None else (count - 1,)
        for plan in plans:
            if plan.rep_index in targets:
                plan.mcv_mps = v1rm * grinding.value()
    _label_set_faults(plans, v1rm)
    return plans


def _inject(plan: RepPlan, fault: FaultSpec, profile: LiftProfile) -> None:
    """Change one rep as the fault would; record the fault's magnitude as its label."""
    value = fault.value()
    code = fault.code
    if code == "partial_lockout":
        plan.rom_m *= 1 - value
    elif code == "overextension":
        plan.rom_m += value
    elif code == "no_lockout_hold":
        plan.hold_s = value
    elif code == "momentum":
        plan.shape = _shape_with_peak(value)
        plan.sticking = False
        if profile.concentric_first:
            plan.pause_s = 0.0  # a bounce out of the bottom
    elif code == "hip_shoot":
        if not profile.hinge:
            return
        plan.stall_s = value
    elif code == "bar_tilt":
        plan.tilt_rad = np.radians(value) * np.sign(plan.tilt_rad or 1.0)
    elif code == "load_asymmetry":
        plan.asymmetry_pct = value * np.sign(plan.asymmetry_pct or 1.0)
    elif code == "bar_drift":
        plan.drift_ap_m += value
    elif code == "fast_eccentric":
        plan.eccentric_s = value * np.sqrt(2 * plan.rom_m / G)
    plan.faults[code] = fault.magnitude


def _label_set_faults(plans: list[RepPlan], v1rm: float) -> None:
    """Velocity loss and grinding are what happened, injected or not: label them by truth."""
    best = 0.0
    for plan in plans:
        mcv = plan.rom_m / (plan.rom_m / plan.mcv_mps + plan.stall_s)  # a stall slows the rep
        best = max(best, mcv)
        loss = 1 - mcv / best
        if loss >= VELOCITY_LOSS_LABEL:
            plan.faults["velocity_loss"] = float(np.clip((loss - 0.25) / 0.25, 0, 1))
        if mcv <= GRINDING_LABEL * v1rm:
            plan.faults["grinding"] = float(np.clip((1.3 - mcv / v1rm) / 0.28, 0, 1))


def _shape_with_peak(peak_to_mean: float) -> BetaShape:
    """A concentric that jerks off the bottom: an early, sharp peak (peak/mean as asked).

    Both exponents stay at 2 or more, as in every rep: force ramps up over some ms (a step in
    acceleration is not something a lifter can produce), and the braking stays near 1 g.
    """
    b = optimize.brentq(lambda b: BetaShape(2.0, b).peak_to_mean - peak_to_mean, 2.0, 40.0)
    return BetaShape(2.0, float(b))


def _add_rep(
    channels: dict[str, Channel], profile: LiftProfile, plan: RepPlan, t0: float
) -> PlannedRep:
    concentric_s = plan.rom_m / plan.mcv_mps + plan.stall_s  # a stall adds to the time
    down = BetaShape(a=2.2, b=2.0)
    if profile.concentric_first:
        c0 = t0
        c1 = c0 + concentric_s
        e0 = c1 + plan.hold_s
        end = e0 + plan.eccentric_s
    else:
        e0 = t0
        c0 = e0 + plan.eccentric_s + plan.bottom_s
        c1 = c0 + concentric_s
        end = c1
    _concentric(channels, plan, c0, concentric_s)
    channels["z"].add(Move(e0, plan.eccentric_s, -plan.rom_m, down))
    # Horizontal path, roll, tilt and load share go out on the way up and back on the way down.
    for name, amount in (
        ("y", plan.drift_ap_m),
        ("x", plan.drift_lateral_m),
        ("roll", plan.roll_rad),
        ("tilt", plan.tilt_rad),
        ("asymmetry", plan.asymmetry_pct),
    ):
        channels[name].add(Move(c0, concentric_s, amount))
        channels[name].add(Move(e0, plan.eccentric_s, -amount))
    return PlannedRep(
        set_index=plan.set_index,
        rep_index=plan.rep_index,
        t_start=t0,
        t_concentric_start=c0,
        t_concentric_end=c1,
        t_end=end,
        rom_m=plan.rom_m,
        lockout_hold_s=plan.hold_s,
        faults=dict(plan.faults),
    )


def _concentric(channels: dict[str, Channel], plan: RepPlan, c0: float, duration: float) -> None:
    z = channels["z"]
    if plan.stall_s > 0:
        # Hips shoot: the bar leaves the floor, stalls while the hips rise and the bar swings
        # forward off the line, then surges to lockout.
        moving = duration - plan.stall_s
        first, rest = 0.3 * plan.rom_m, 0.7 * plan.rom_m
        z.add(Move(c0, 0.35 * moving, first))
        z.add(Move(c0 + 0.35 * moving + plan.stall_s, 0.65 * moving, rest))
        swing = 0.03 + 0.05 * plan.faults.get("hip_shoot", 0.0)
        channels["y"].add(Move(c0 + 0.2 * moving, plan.stall_s + 0.15 * moving, swing))
        channels["y"].add(Move(c0 + 0.35 * moving + plan.stall_s, 0.65 * moving, -swing))
    elif plan.sticking:
        # Near 1RM the bar slows in the middle (the sticking region) between two peaks.
        z.add(Move(c0, 0.6 * duration, 0.5 * plan.rom_m))
        z.add(Move(c0 + 0.4 * duration, 0.6 * duration, 0.5 * plan.rom_m))
    else:
        z.add(Move(c0, duration, plan.rom_m, plan.shape))


def _set_up(
    channels: dict[str, Channel], profile: LiftProfile, rng: np.random.Generator, t: float
) -> float:
    """Get the bar from where it rests to where the reps start; returns when it is still."""
    z, y, roll = channels["z"], channels["y"], channels["roll"]
    if profile.setup == "roll_onto_hips":
        # Seated, the lifter rolls the bar along the thighs into the hip crease.
        distance = float(rng.uniform(0.3, 0.5))
        duration = float(rng.uniform(2.0, 3.0))
        y.add(Move(t, duration, distance))
        roll.add(Move(t, duration, -distance / PLATE_RADIUS_M))
        z.add(Move(t, duration, float(rng.uniform(0.0, 0.03))))
        t += duration
    elif profile.setup == "rack":
        t = _unrack(channels, profile, rng, t)
    elif not profile.concentric_first:  # an RDL starts standing: deadlift it off the floor
        lift = float(rng.uniform(0.45, 0.55))
        roll.add(Move(t, 1.0, float(rng.normal(0, np.radians(8)))))
        z.add(Move(t + 1.0, 1.2, lift))
        t += 2.2
    else:  # grip a bar on the floor: the hands roll it a little
        roll.add(Move(t, 1.0, float(rng.normal(0, np.radians(8)))))
        t += 1.0
    return t


def _put_away(
    channels: dict[str, Channel], profile: LiftProfile, rng: np.random.Generator, t: float
) -> float:
    """Undo the set-up: roll the bar off, re-rack, or set it down; returns the time after."""
    z, y, roll = channels["z"], channels["y"], channels["roll"]
    if profile.setup == "roll_onto_hips":
        back = -(y.value_at(t) - y.start)
        duration = float(rng.uniform(1.5, 2.5))
        y.add(Move(t, duration, back))
        roll.add(Move(t, duration, -back / PLATE_RADIUS_M))
        z.add(Move(t, duration, profile.rest_height_m - z.value_at(t)))
        return t + duration
    if profile.setup == "rack":
        return _rerack(channels, profile, t)
    drop = profile.rest_height_m - z.value_at(t)
    if abs(drop) > 1e-6:  # an RDL ends standing: set the bar down
        z.add(Move(t, 1.5, drop))
        t += 1.5
    return t


def _unrack(
    channels: dict[str, Channel], profile: LiftProfile, rng: np.random.Generator, t: float
) -> float:
    """Lift off the hooks, then step back (squat) or swing over the shoulders (bench)."""
    z, y = channels["z"], channels["y"]
    z.add(Move(t, 0.6, 0.05))
    back = -float(rng.uniform(0.3, 0.5)) if profile.name == "squat" else 0.15
    return _walk(z, y, profile, t + 0.6, back)


def _rerack(channels: dict[str, Channel], profile: LiftProfile, t: float) -> float:
    """Walk the bar back over the hooks and set it down on them."""
    z, y = channels["z"], channels["y"]
    t = _walk(z, y, profile, t, y.start - y.value_at(t))
    z.add(Move(t, 0.6, profile.rest_height_m - z.value_at(t)))
    return t + 0.6


def _walk(z: Channel, y: Channel, profile: LiftProfile, t: float, distance: float) -> float:
    walk = 2.0 if profile.name == "squat" else 0.8
    y.add(Move(t, walk, distance))
    if profile.name == "squat":  # the bar bobs with each step
        z.wobbles.append(Wobble(t, walk, 0.008, 1.8))
    return t + walk
