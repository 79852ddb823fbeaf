"""A randomized world of sets: a SimSpec drawn from a seed under a named condition.

Analysis tuned to one simulator setting found no reps on real bars
(../shared/data/real/README.md), so every figure is drawn over ranges: each condition widens one
part of the world (the sensor, the pauses, the handling, the timing) and `everything` widens them
all at once. Every condition draws the set itself the same way: any lift, 40–100 % 1RM, athletes
of 80–200 kg 1RM, never more reps than Epley's relation allows, a form fault on a third of the
sets. docs/simulator.md gives each range and its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from contract.errors import InputError
from contract.lifts import LIFTS
from hardware.faults import EFFECTS
from hardware.simulate import SimSpec

WORLD_STREAM = 2  # the spec's draws; simulate() uses the seed itself and [seed, 1]
CONDITIONS_STREAM = 3  # draw_conditions' own
RATE_BANDS_HZ = ((25.0, 100.0), (200.0, 1000.0))  # other devices' rates, and the ICM-42688-P's
ONE_RM_KG = (80.0, 200.0)
LOAD_FRACTION = (0.4, 1.0)
REPS = (3, 10)
FAULTY_SHARE = 1 / 3

Draw = Callable[[np.random.Generator], dict[str, Any]]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _rate(rng: np.random.Generator) -> dict[str, Any]:
    """A rate from either band, log-uniform within it."""
    low, high = RATE_BANDS_HZ[int(rng.integers(len(RATE_BANDS_HZ)))]
    return {"rate_hz": round(_log_uniform(rng, low, high), 1)}


def _low_rate(rng: np.random.Generator) -> dict[str, Any]:
    return {"rate_hz": round(_log_uniform(rng, *RATE_BANDS_HZ[0]), 1)}


def _range_within(rng: np.random.Generator, high: float) -> tuple[float, float]:
    """A lifter's own range of pauses within [0, high]: some hold long, some not at all."""
    a, b = sorted(rng.uniform(0, high, 2))
    return (round(float(a), 2), round(float(b), 2))


def _cheap_imu(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "gyro_offset_dps": round(float(rng.uniform(0, 10)), 2),
        "accel_offset_g": round(float(rng.uniform(0, 0.1)), 3),
        "noise": round(float(rng.uniform(1, 5)), 2),
    }


def _touch_and_go(rng: np.random.Generator) -> dict[str, Any]:
    return {"top_hold_s": _range_within(rng, 0.5), "bottom_pause_s": (0.0, 0.0)}


def _swaying_holds(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "top_hold_s": _range_within(rng, 3.0),
        "bottom_pause_s": _range_within(rng, 3.0),
        "sway_m": round(float(rng.uniform(0.002, 0.02)), 4),
        "settle_m": round(float(rng.uniform(0, 0.03)), 4),
    }


def _hand_held(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "hand_held": True,
        "top_hold_s": _range_within(rng, 1.0),
        "bottom_pause_s": _range_within(rng, 0.5),
        "sway_m": round(float(rng.uniform(0.005, 0.02)), 4),
        "settle_m": round(float(rng.uniform(0, 0.03)), 4),
    }


def _yaw_roll(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "yaw_deg": round(float(rng.uniform(0, 45)), 1),
        "roll_deg": round(float(rng.uniform(0, 30)), 1),
    }


def _bluetooth(rng: np.random.Generator) -> dict[str, Any]:
    """A clip-on BLE sensor, as in the real corpus: low rate, no load cells."""
    return {**_low_rate(rng), "timing": "bluetooth", "force_sps": None}


def _everything(rng: np.random.Generator) -> dict[str, Any]:
    """All at once: a cheap IMU, any of the lifters' habits, yaw and roll, and a Bluetooth link
    for half of the low-rate sets."""
    habit = (_touch_and_go, _swaying_holds, _hand_held)[int(rng.integers(3))]
    drawn = {**_rate(rng), **_cheap_imu(rng), **habit(rng), **_yaw_roll(rng)}
    if drawn["rate_hz"] <= RATE_BANDS_HZ[0][1] and rng.random() < 0.5:
        drawn.update(timing="bluetooth", force_sps=None)
    return drawn


CONDITIONS: dict[str, Draw] = {
    "baseline": lambda rng: {},  # the datasheet sensor, the set-up, the lifts' own holds
    "cheap_imu": _cheap_imu,
    "touch_and_go": _touch_and_go,
    "swaying_holds": _swaying_holds,
    "hand_held": _hand_held,
    "yaw_roll": _yaw_roll,
    "low_rate": _low_rate,
    "bluetooth": _bluetooth,
    "everything": _everything,
}


def draw_spec(condition: str, seed: int, lift: str | None = None) -> SimSpec:
    """The set drawn for `seed` under `condition`; `lift` fixes the lift instead of drawing it."""
    _known(condition)
    rng = np.random.default_rng([seed, WORLD_STREAM])
    drawn_lift = str(rng.choice(LIFTS))
    one_rm = round(float(rng.uniform(*ONE_RM_KG)), 1)
    fraction = float(rng.uniform(*LOAD_FRACTION))
    # No more reps than a lifter can do at this load (Epley): a set asked beyond failure
    # would be grinding at a speed no accelerometer can tell from standing still.
    possible = max(1, int(30 * (1 / fraction - 1)) + 1)
    reps = min(int(rng.integers(REPS[0], REPS[1] + 1)), possible)
    faults: tuple[str, ...] = ()
    if rng.random() < FAULTY_SHARE:
        faults = (f"{rng.choice(sorted(EFFECTS))}:{rng.uniform(0, 1):.2f}",)
    return SimSpec(
        lift=lift or drawn_lift,
        reps=reps,
        load_kg=round(one_rm * fraction, 1),
        one_rm_kg=one_rm,
        seed=seed,
        faults=faults,
        condition=condition,
        **_fields(condition, rng),
    )


def draw_conditions(condition: str, seed: int) -> dict[str, Any]:
    """The rate, sensor, habits and timing `condition` draws for `seed`, as SimSpec fields, for
    a set designed elsewhere (bench/faults.py puts each fault under each condition)."""
    _known(condition)
    return {
        **_fields(condition, np.random.default_rng([seed, CONDITIONS_STREAM])),
        "condition": condition,
    }


def _fields(condition: str, rng: np.random.Generator) -> dict[str, Any]:
    """A rate from either band, and what the condition draws (which may set its own rate)."""
    return {**_rate(rng), **CONDITIONS[condition](rng)}


def _known(condition: str) -> None:
    if condition not in CONDITIONS:
        raise InputError(f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}")
