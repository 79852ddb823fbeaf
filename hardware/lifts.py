"""How each lift moves the bar: range of motion, load–velocity, tempo, bar path and set-up.

Each figure comes from the velocity-based-training literature or is a marked estimate;
docs/simulator.md gives the source of every one. Velocities are mean concentric velocities
(MCV) in m/s, distances in m, times in s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from contract.lifts import CONCENTRIC_FIRST
from contract.lifts import VELOCITY_AT_1RM_MPS as V1RM

Setup = Literal["rack", "floor", "roll_onto_hips"]
PLATE_RADIUS_M = 0.225  # a 45 cm plate: the bar rolls this far per radian, and rests this high


@dataclass(frozen=True)
class LiftProfile:
    name: str
    rom_m: tuple[float, float]  # concentric vertical travel, range across lifters
    mcv_by_load: tuple[tuple[float, float], ...]  # (fraction of 1RM, MCV) from 40 % to 100 %
    eccentric_s: tuple[float, float]  # self-paced lowering, light to heavy
    top_pause_s: tuple[float, float]  # lockout hold
    bottom_pause_s: tuple[float, float]  # 0 = touch-and-go
    drift_ap_m: tuple[float, float]  # normal horizontal travel during a rep
    setup: Setup
    rest_height_m: float  # bar height on the hooks, the floor or the hips
    hinge: bool = False  # hips-shooting applies to hinge lifts

    @property
    def concentric_first(self) -> bool:
        return self.name in CONCENTRIC_FIRST

    @property
    def v1rm_mps(self) -> float:
        return self.mcv_by_load[-1][1]

    def mcv_at(self, fraction_1rm: float) -> float:
        """MCV at a load given as a fraction of 1RM, linear between the table's points."""
        loads, velocities = zip(*self.mcv_by_load, strict=True)
        if fraction_1rm < loads[0]:  # extend the lightest segment's slope
            slope = (velocities[1] - velocities[0]) / (loads[1] - loads[0])
            return velocities[0] + slope * (fraction_1rm - loads[0])
        return float(np.interp(fraction_1rm, loads, velocities))


def _linear(v40: float, v1rm: float) -> tuple[tuple[float, float], ...]:
    """A linear load–velocity profile through MCV at 40 % and at 100 % 1RM."""
    return tuple((f, v1rm + (v40 - v1rm) * (1 - f) / 0.6) for f in (0.4, 0.6, 0.8, 1.0))


PROFILES: dict[str, LiftProfile] = {
    p.name: p
    for p in (
        LiftProfile(
            "hip_thrust", rom_m=(0.20, 0.35), mcv_by_load=_linear(1.03, V1RM["hip_thrust"]),
            eccentric_s=(1.0, 1.5), top_pause_s=(0.5, 1.0), bottom_pause_s=(0.2, 0.6),
            drift_ap_m=(0.02, 0.05), setup="roll_onto_hips", rest_height_m=0.225,
        ),
        LiftProfile(
            "glute_bridge", rom_m=(0.10, 0.20), mcv_by_load=_linear(0.80, V1RM["glute_bridge"]),
            eccentric_s=(0.8, 1.2), top_pause_s=(0.5, 1.0), bottom_pause_s=(0.2, 0.6),
            drift_ap_m=(0.01, 0.03), setup="roll_onto_hips", rest_height_m=0.225,
        ),
        LiftProfile(
            "rdl", rom_m=(0.30, 0.45), mcv_by_load=_linear(0.85, V1RM["rdl"]),
            eccentric_s=(1.5, 2.5), top_pause_s=(0.5, 1.0), bottom_pause_s=(0.0, 0.2),
            drift_ap_m=(0.01, 0.04), setup="floor", rest_height_m=0.225, hinge=True,
        ),
        LiftProfile(
            "deadlift", rom_m=(0.50, 0.60), mcv_by_load=_linear(0.85, V1RM["deadlift"]),
            eccentric_s=(0.6, 1.2), top_pause_s=(0.3, 1.0), bottom_pause_s=(1.0, 3.0),
            drift_ap_m=(0.01, 0.05), setup="floor", rest_height_m=0.225, hinge=True,
        ),
        LiftProfile(
            "squat", rom_m=(0.50, 0.70),
            mcv_by_load=((0.4, 1.12), (0.6, 0.85), (0.8, 0.59), (1.0, V1RM["squat"])),
            eccentric_s=(1.2, 2.0), top_pause_s=(1.0, 3.0), bottom_pause_s=(0.0, 0.1),
            drift_ap_m=(0.01, 0.05), setup="rack", rest_height_m=1.40,
        ),
        LiftProfile(
            "bench", rom_m=(0.30, 0.45),
            mcv_by_load=((0.4, 1.13), (0.6, 0.78), (0.8, 0.47), (1.0, V1RM["bench"])),
            eccentric_s=(1.0, 1.5), top_pause_s=(0.5, 1.5), bottom_pause_s=(0.0, 0.3),
            drift_ap_m=(0.05, 0.15), setup="rack", rest_height_m=0.95,
        ),
    )
}  # fmt: skip
