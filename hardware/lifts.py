"""How each lift moves the bar: range of motion, load–velocity, tempo and bar path.

Every figure is from the velocity-based-training literature; docs/simulator.md gives the source
of each. Velocities are mean concentric velocities (MCV) in m/s.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.lifts import CONCENTRIC_FIRST


@dataclass(frozen=True)
class LiftProfile:
    name: str
    rom_m: tuple[float, float]  # concentric vertical travel, range across lifters
    v1rm_mps: float  # MCV of a 1RM rep (the minimal velocity threshold)
    v40_mps: float  # MCV at 40 % 1RM; the load–velocity relation is linear between the two
    eccentric_s: tuple[float, float]  # self-paced lowering time, light to heavy
    top_pause_s: tuple[float, float]  # lockout hold between reps
    bottom_pause_s: tuple[float, float]  # rest at the bottom (0 = touch-and-go)
    drift_ap_m: tuple[float, float]  # horizontal travel toward the lifter's face during a rep
    rest_height_m: float  # bar height when it rests before and after the set
    concentric_first: bool

    def mcv_at(self, fraction_1rm: float) -> float:
        """MCV at a load given as a fraction of 1RM (linear load–velocity profile)."""
        slope = (self.v40_mps - self.v1rm_mps) / 0.6
        return self.v1rm_mps + slope * (1.0 - fraction_1rm)


def _profile(name: str, **values: object) -> LiftProfile:
    return LiftProfile(name=name, concentric_first=name in CONCENTRIC_FIRST, **values)  # type: ignore[arg-type]


PROFILES: dict[str, LiftProfile] = {
    p.name: p
    for p in (
        _profile(
            "hip_thrust",
            rom_m=(0.20, 0.32),
            v1rm_mps=0.25,
            v40_mps=0.95,
            eccentric_s=(0.9, 1.4),
            top_pause_s=(0.3, 1.0),
            bottom_pause_s=(0.2, 0.6),
            drift_ap_m=(0.0, 0.02),
            rest_height_m=0.23,
        ),
        _profile(
            "glute_bridge",
            rom_m=(0.12, 0.20),
            v1rm_mps=0.22,
            v40_mps=0.80,
            eccentric_s=(0.8, 1.2),
            top_pause_s=(0.4, 1.2),
            bottom_pause_s=(0.2, 0.6),
            drift_ap_m=(0.0, 0.015),
            rest_height_m=0.23,
        ),
        _profile(
            "rdl",
            rom_m=(0.35, 0.50),
            v1rm_mps=0.30,
            v40_mps=0.90,
            eccentric_s=(1.4, 2.2),
            top_pause_s=(0.3, 0.8),
            bottom_pause_s=(0.0, 0.2),
            drift_ap_m=(0.0, 0.03),
            rest_height_m=0.72,
        ),
        _profile(
            "deadlift",
            rom_m=(0.45, 0.60),
            v1rm_mps=0.15,
            v40_mps=0.95,
            eccentric_s=(0.9, 1.4),
            top_pause_s=(0.3, 0.8),
            bottom_pause_s=(0.4, 1.0),
            drift_ap_m=(0.0, 0.03),
            rest_height_m=0.225,
        ),
        _profile(
            "squat",
            rom_m=(0.45, 0.65),
            v1rm_mps=0.32,
            v40_mps=1.13,
            eccentric_s=(1.0, 1.6),
            top_pause_s=(0.5, 1.2),
            bottom_pause_s=(0.0, 0.1),
            drift_ap_m=(0.0, 0.03),
            rest_height_m=1.45,
        ),
        _profile(
            "bench",
            rom_m=(0.30, 0.45),
            v1rm_mps=0.17,
            v40_mps=1.13,
            eccentric_s=(0.9, 1.5),
            top_pause_s=(0.4, 1.0),
            bottom_pause_s=(0.0, 0.3),
            drift_ap_m=(0.05, 0.12),
            rest_height_m=0.95,
        ),
    )
}
