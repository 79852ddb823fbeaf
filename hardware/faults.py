"""Form faults injected into simulated reps, each with a magnitude from subtle (0) to obvious (1).

A fault spec reads `code[:magnitude][@rep,rep,…]`, e.g. `bar_tilt:0.5@3,4`. Without `@` a fault
hits every rep from the third on, so the athlete's reference can be learned from two good reps
first. The effect at each magnitude is interpolated between the SUBTLE and OBVIOUS columns below;
docs/simulator.md explains each choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.errors import InputError

# code: (what changes, subtle value, obvious value)
EFFECTS: dict[str, tuple[str, float, float]] = {
    "partial_lockout": ("ROM short of the athlete's lockout, fraction", 0.06, 0.25),
    "overextension": ("bar above the athlete's lockout, m", 0.02, 0.07),
    "no_lockout_hold": ("lockout hold, s", 0.15, 0.0),
    "momentum": ("concentric start sharpness: peak velocity over MCV", 2.2, 2.6),
    "hip_shoot": ("stall time mid-concentric, s, with forward drift", 0.15, 0.5),
    "bar_tilt": ("tilt at lockout, degrees", 4.0, 10.0),
    "load_asymmetry": ("left-right force difference, % of total", 8.0, 25.0),
    "bar_drift": ("extra horizontal bar travel, m", 0.05, 0.14),
    # Uncontrolled descent: lowering from lockout almost as fast as the bar would fall freely.
    "fast_eccentric": ("eccentric time over free-fall time from lockout", 2.2, 1.3),
    "velocity_loss": ("MCV loss over the set, fraction", 0.25, 0.5),
    "grinding": ("MCV over the lift's v1RM", 1.3, 1.02),
}
SET_LEVEL = frozenset({"velocity_loss", "grinding"})
FIRST_FAULTY_REP = 2


def magnitude_of(code: str, value: float) -> float:
    """The magnitude (0 subtle to 1 obvious, clipped) of a fault whose effect measured `value`."""
    _, subtle, obvious = EFFECTS[code]
    return min(max((value - subtle) / (obvious - subtle), 0.0), 1.0)


@dataclass(frozen=True)
class FaultSpec:
    code: str
    magnitude: float = 1.0
    reps: tuple[int, ...] | None = None  # 0-based; None: from FIRST_FAULTY_REP on

    def value(self) -> float:
        """The physical effect at this magnitude (units as in EFFECTS)."""
        _, subtle, obvious = EFFECTS[self.code]
        return subtle + (obvious - subtle) * self.magnitude

    def hits(self, rep_index: int, reps_in_set: int) -> bool:
        if self.reps is not None:
            return rep_index in self.reps
        return rep_index >= min(FIRST_FAULTY_REP, reps_in_set - 1)

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        head, _, at = text.strip().partition("@")
        code, _, magnitude = head.partition(":")
        if code not in EFFECTS:
            raise InputError(f"unknown fault {code!r}; choose from {', '.join(EFFECTS)}")
        try:
            value = float(magnitude) if magnitude else 1.0
            reps = tuple(int(r) - 1 for r in at.split(",")) if at else None
        except ValueError:
            raise InputError(f"fault {text!r} must look like code:0.5@2,3") from None
        if not 0.0 <= value <= 1.0:
            raise InputError(f"fault {text!r}: magnitude must be from 0 (subtle) to 1 (obvious)")
        if reps is not None and min(reps) < 0:
            raise InputError(f"fault {text!r}: reps count from 1")
        return cls(code, value, reps)
