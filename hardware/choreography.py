"""The plan of a session: rests, reps and set boundaries as moves of the bar's six channels.

The bar frame is x along the bar (to the lifter's right), y toward the lifter's face (AP), z up.
Angles: roll about the bar's own axis, tilt (one side lower) and yaw, in radians.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hardware.lifts import LiftProfile
from hardware.motion import BetaShape, Channel, Move

CHANNELS = ("x", "y", "z", "roll", "tilt", "yaw")


@dataclass(frozen=True)
class Athlete:
    one_rm_kg: float
    rom_m: float  # this athlete's full concentric travel
    velocity_scale: float  # this athlete against the population profile (≈1)


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
    faults: dict[str, float] = field(default_factory=dict)  # code → magnitude (0–1)


@dataclass
class Plan:
    channels: dict[str, Channel]
    reps: list[PlannedRep]
    sets: list[tuple[float, float]]  # (t_start, t_end) per set
    duration_s: float


def plan_session(
    profile: LiftProfile,
    athlete: Athlete,
    load_kg: float,
    reps_per_set: int,
    sets: int,
    rng: np.random.Generator,
    lead_in_s: float = 2.0,
    rest_s: float = 10.0,
) -> Plan:
    channels = {name: Channel() for name in CHANNELS}
    channels["z"].start = profile.rest_height_m
    fraction = min(load_kg / athlete.one_rm_kg, 1.05)
    heavy = float(np.clip((fraction - 0.4) / 0.6, 0.0, 1.0))  # 0 at 40 % 1RM, 1 at 100 %
    # Reps to failure at this load (Epley), so velocity falls to v1RM on the last possible rep.
    reps_to_failure = max(1.0, 30.0 * (1.0 / fraction - 1.0) + 1.0)
    first_mcv = profile.mcv_at(fraction) * athlete.velocity_scale
    reps: list[PlannedRep] = []
    set_bounds: list[tuple[float, float]] = []
    t = lead_in_s
    for set_index in range(sets):
        set_start = t
        for rep_index in range(reps_per_set):
            progress = min(rep_index / reps_to_failure, 1.0)
            mcv = first_mcv - (first_mcv - profile.v1rm_mps) * progress**1.6
            mcv = max(mcv * (1 + rng.normal(0, 0.02)), 0.6 * profile.v1rm_mps)
            rom = athlete.rom_m * (1 + rng.normal(0, 0.015))
            rep = _add_rep(channels, profile, rng, t, mcv, rom, heavy, set_index, rep_index)
            reps.append(rep)
            t = rep.t_end + _between(profile, rng, heavy)
        set_bounds.append((set_start, t))
        t += rest_s
    return Plan(channels, reps, set_bounds, t)


def _between(profile: LiftProfile, rng: np.random.Generator, heavy: float) -> float:
    """The pause that separates reps: at the bottom for concentric-first lifts, else at the top."""
    low, high = profile.bottom_pause_s if profile.concentric_first else profile.top_pause_s
    return float(low + (high - low) * rng.uniform(0.3, 1.0) * (0.5 + heavy / 2))


def _add_rep(
    channels: dict[str, Channel],
    profile: LiftProfile,
    rng: np.random.Generator,
    t0: float,
    mcv: float,
    rom: float,
    heavy: float,
    set_index: int,
    rep_index: int,
) -> PlannedRep:
    concentric_s = rom / mcv
    # Light loads peak early and brake long; heavy ones are flatter (docs/simulator.md).
    up = BetaShape(a=1.3 + 0.3 * heavy, b=2.0 - 0.6 * heavy)
    down = BetaShape(a=1.6, b=1.3)
    low, high = profile.eccentric_s
    eccentric_s = (low + (high - low) * heavy) * rng.uniform(0.9, 1.1)
    hold = float(rng.uniform(*profile.top_pause_s))
    drift = float(rng.uniform(*profile.drift_ap_m))
    roll = float(rng.normal(0, np.radians(4)))
    z, y, r = channels["z"], channels["y"], channels["roll"]
    if profile.concentric_first:
        c0 = t0
        c1 = c0 + concentric_s
        e0 = c1 + hold
        end = e0 + eccentric_s
    else:
        e0 = t0
        c0 = e0 + eccentric_s + float(rng.uniform(*profile.bottom_pause_s))
        c1 = c0 + concentric_s
        end = c1
    z.add(Move(c0, concentric_s, rom, up))
    z.add(Move(e0, eccentric_s, -rom, down))
    # The bar path bows toward the face and back, and the bar rolls a little in the hands.
    sign = 1.0 if profile.concentric_first else -1.0
    y.add(Move(c0, concentric_s, sign * drift))
    y.add(Move(e0, eccentric_s, -sign * drift))
    r.add(Move(c0, concentric_s, roll))
    r.add(Move(e0, eccentric_s, -roll))
    return PlannedRep(
        set_index=set_index,
        rep_index=rep_index,
        t_start=t0,
        t_concentric_start=c0,
        t_concentric_end=c1,
        t_end=end,
        rom_m=rom,
        lockout_hold_s=hold,
    )
