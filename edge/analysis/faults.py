"""Form faults (SPEC section 1): each rule reads one signal of a rep and compares it with a per-lift
threshold. docs/faults.md gives, for each, the article's words, the signal, the default and why.

A rule that needs the athlete's reference (ROM, bar path) and has none yet does not guess: it
names itself in `unjudged` instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.faults import FaultCode
from contract.lifts import VELOCITY_AT_1RM_MPS as V1RM
from contract.messages import Fault, Severity
from edge.analysis.metrics import RepMetrics
from edge.analysis.reference import Reference
from edge.analysis.units import G

Positive = Annotated[float, Meta(gt=0)]


class Thresholds(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Where each fault starts (warn); a rule's `critical` level is set from it."""

    partial_lockout_frac: Annotated[float, Meta(gt=0, lt=1)] = 0.05  # ROM short of reference
    overextension_m: Positive = 0.02  # bar above the reference lockout
    lockout_hold_s: Positive | None = None  # shorter hold at the top (None: not judged)
    momentum_sharpness: Annotated[float, Meta(gt=1)] = 1.92  # see edge/metrics.py, sharpness
    hip_shoot_stall_s: Positive | None = None  # stall inside the pull (hinge lifts)
    bar_tilt_deg: Positive = 3.0  # change in tilt during the rep
    load_asymmetry_pct: Positive = 6.0  # left − right share of the load
    bar_drift_m: Positive = 0.035  # horizontal travel beyond the athlete's own path
    fast_eccentric_ratio: Positive | None = 2.5  # eccentric time / free fall from lockout
    velocity_loss_pct: Annotated[float, Meta(gt=0, le=100)] = 20.0  # against the set's best
    grinding_ratio: Annotated[float, Meta(ge=1)] = 1.3  # MCV / v1RM
    v1rm_mps: Annotated[float, Meta(gt=0, lt=1.5)] = 0.25  # MCV of a 1RM rep for this lift


# v1RM from contract.lifts; the hold at the top is the hip lifts' squeeze, and no fault
# elsewhere (a squat or a bench may pause at the top or not: a config opts in); hinge lifts
# judge hips shooting; lowering a deadlift fast is accepted technique, so its eccentric is not
# judged; the ROM of long lifts is measured to a centimetre, so their overextension starts
# higher.
DEFAULTS: dict[str, Thresholds] = {
    "hip_thrust": Thresholds(v1rm_mps=V1RM["hip_thrust"], lockout_hold_s=0.25),
    "glute_bridge": Thresholds(v1rm_mps=V1RM["glute_bridge"], lockout_hold_s=0.25),
    "rdl": Thresholds(v1rm_mps=V1RM["rdl"], hip_shoot_stall_s=0.1, overextension_m=0.025),
    "deadlift": Thresholds(
        v1rm_mps=V1RM["deadlift"],
        hip_shoot_stall_s=0.1,
        fast_eccentric_ratio=None,
        overextension_m=0.03,
    ),
    "squat": Thresholds(v1rm_mps=V1RM["squat"], overextension_m=0.03),
    "bench": Thresholds(v1rm_mps=V1RM["bench"], bar_drift_m=0.05, overextension_m=0.025),
}
AUTO = Thresholds()


@dataclass(frozen=True)
class Rule:
    code: FaultCode
    measure: Callable[[RepMetrics, float, Reference, Thresholds], float | None]
    threshold: Callable[[Thresholds], float | None]
    worse: Literal["above", "below"]
    critical: Callable[[float], float]  # the critical level, from the threshold
    needs_reference: bool = False


def free_fall_s(height_m: float) -> float:
    """How long a bar dropped from this height takes to land."""
    return math.sqrt(2 * max(height_m, 0.0) / G)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


RULES: tuple[Rule, ...] = (
    Rule(
        "partial_lockout",
        lambda m, loss, ref, th: None if ref.rom_m is None else 1 - m.rom_m / ref.rom_m,
        lambda th: th.partial_lockout_frac,
        "above",
        lambda w: 3 * w,
        needs_reference=True,
    ),
    Rule(
        "overextension",
        lambda m, loss, ref, th: None if ref.rom_m is None else m.rom_m - ref.rom_m,
        lambda th: th.overextension_m,
        "above",
        lambda w: 2.5 * w,
        needs_reference=True,
    ),
    Rule(
        "no_lockout_hold",
        lambda m, loss, ref, th: m.lockout_hold_s,
        lambda th: th.lockout_hold_s,
        "below",
        lambda w: 0.2 * w,
    ),
    Rule(
        "momentum",
        # Only an early peak: hips shooting also peak sharply, but late, after the stall.
        lambda m, loss, ref, th: m.sharpness if m.peak_at_frac < 0.55 else 0.0,
        lambda th: th.momentum_sharpness,
        "above",
        lambda w: w + 0.25,
    ),
    Rule(
        "hip_shoot",
        lambda m, loss, ref, th: m.stall_s,
        lambda th: th.hip_shoot_stall_s,
        "above",
        lambda w: 3 * w,
    ),
    Rule(
        "bar_tilt",
        lambda m, loss, ref, th: m.tilt_change_deg,
        lambda th: th.bar_tilt_deg,
        "above",
        lambda w: 2 * w,
    ),
    Rule(
        "load_asymmetry",
        lambda m, loss, ref, th: None if m.asymmetry_pct is None else abs(m.asymmetry_pct),
        lambda th: th.load_asymmetry_pct,
        "above",
        lambda w: 3 * w,
    ),
    Rule(
        "bar_drift",
        lambda m, loss, ref, th: None if ref.drift_ap_m is None else m.drift_ap_m - ref.drift_ap_m,
        lambda th: th.bar_drift_m,
        "above",
        lambda w: 2.5 * w,
        needs_reference=True,
    ),
    Rule(
        "fast_eccentric",
        lambda m, loss, ref, th: _ratio(m.eccentric_s, free_fall_s(m.rom_m)),
        lambda th: th.fast_eccentric_ratio,
        "below",
        lambda w: 0.65 * w,
    ),
    Rule(
        "velocity_loss",
        lambda m, loss, ref, th: loss,
        lambda th: th.velocity_loss_pct,
        "above",
        lambda w: 1.5 * w,
    ),
    Rule(
        "grinding",
        lambda m, loss, ref, th: m.mean_velocity_mps / th.v1rm_mps,
        lambda th: th.grinding_ratio,
        "below",
        lambda w: 1.05,
    ),
)
CODES = tuple(rule.code for rule in RULES)
# What a concentric shows on its own, before the lowering and the hold that follow it.
CONCENTRIC_CODES = frozenset(
    {
        "partial_lockout",
        "overextension",
        "momentum",
        "hip_shoot",
        "bar_tilt",
        "load_asymmetry",
        "bar_drift",
        "velocity_loss",
        "grinding",
    }
)


@dataclass(frozen=True)
class Judgement:
    faults: tuple[Fault, ...]
    unjudged: tuple[FaultCode, ...]  # rules that had no reference yet


def judge(
    metrics: RepMetrics, velocity_loss_pct: float, reference: Reference, thresholds: Thresholds
) -> Judgement:
    faults, unjudged = [], []
    for rule in RULES:
        threshold = rule.threshold(thresholds)
        if threshold is None:
            continue
        value = rule.measure(metrics, velocity_loss_pct, reference, thresholds)
        if value is None:
            if rule.needs_reference:
                unjudged.append(rule.code)
            continue
        above = rule.worse == "above"
        if (value > threshold) if above else (value < threshold):
            critical = rule.critical(threshold)
            worst = (value >= critical) if above else (value <= critical)
            severity: Severity = "critical" if worst else "warn"
            faults.append(Fault(rule.code, severity, round(value, 4), round(threshold, 4)))
    return Judgement(tuple(faults), tuple(unjudged))


def thresholds_for(lift: str, changes: Mapping[str, float | None] | None = None) -> Thresholds:
    """A lift's defaults with the settings' changes, validated (msgspec.ValidationError)."""
    base = DEFAULTS.get(lift, AUTO)
    if not changes:
        return base
    return msgspec.convert({**msgspec.structs.asdict(base), **changes}, Thresholds)
