"""Lift names (SPEC section 3)."""

from __future__ import annotations

from typing import Literal, get_args

Lift = Literal["hip_thrust", "glute_bridge", "rdl", "deadlift", "squat", "bench"]
LiftOrAuto = Literal["hip_thrust", "glute_bridge", "rdl", "deadlift", "squat", "bench", "auto"]

LIFTS: tuple[str, ...] = get_args(Lift)

# The hip lifts of the founding article start each rep by raising the bar; the others lower it
# first (a deadlift starts from the floor, so it rises first too).
CONCENTRIC_FIRST: frozenset[str] = frozenset({"hip_thrust", "glute_bridge", "deadlift"})
