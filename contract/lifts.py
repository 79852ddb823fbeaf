"""Lift names (SPEC section 3)."""

from __future__ import annotations

from typing import Literal, get_args

Lift = Literal["hip_thrust", "glute_bridge", "rdl", "deadlift", "squat", "bench"]
LiftOrAuto = Literal["hip_thrust", "glute_bridge", "rdl", "deadlift", "squat", "bench", "auto"]

LIFTS: tuple[str, ...] = get_args(Lift)

# The hip lifts of the founding article start each rep by raising the bar; the others lower it
# first (a deadlift starts from the floor, so it rises first too).
CONCENTRIC_FIRST: frozenset[str] = frozenset({"hip_thrust", "glute_bridge", "deadlift"})

# Mean concentric velocity of a one-repetition maximum (m/s): the load–velocity profile's end.
# Sources in docs/simulator.md; the hip lifts' figures are estimates.
VELOCITY_AT_1RM_MPS: dict[str, float] = {
    "hip_thrust": 0.25,
    "glute_bridge": 0.25,
    "rdl": 0.20,
    "deadlift": 0.15,
    "squat": 0.32,
    "bench": 0.17,
}
