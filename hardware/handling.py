"""What the lifter's hands do to the bar outside the reps: sway in holds, a settle after the
set-up, a bar rolled on the floor, slow turning, and the bar rolled in the hands during reps.

Real sets are not still between reps (../shared/data/real/README.md): bars sway in holds,
settle into the hip crease, and hand-held bars never stop. Every sway is a sum of sinusoids
under a Hann window that spans its hold exactly, so position, velocity and acceleration are zero
at the hold's ends: the reps beside it start and end as planned, and the rep truth stays exact.
Amplitudes and frequencies are estimates (docs/simulator.md, "Handling").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from hardware.lifts import PLATE_RADIUS_M, LiftProfile
from hardware.motion import Channel, Move, Wobble

# Where the bar is during a hold decides how the hands can move it:
# held: in the hands or on the body, it sways in every direction and rotates;
# carried: being set up or put away (hand-held sets only), it sways but not vertically, so it
#   never dips into the floor or the hooks it leaves;
# on_floor: lying on its plates (or the thighs), it can only roll, travelling R·angle;
# on_hooks: in the rack, it can only turn about its own axis.
Support = Literal["held", "carried", "on_floor", "on_hooks"]

SWAY_HZ = (0.3, 2.0)  # breathing, balance and the hands' tremor
SWAY_COMPONENTS = 3
SWAY_ACCEL_MPS2 = 1.0  # a hold's sway stays gentle: short holds get small sways
MIN_SWAY_S = 0.1  # shorter gaps between moves have no room for a sway
HAND_HELD_SWAY_M = 0.005  # a hand-held bar is never still: it sways at least this much
# Each direction's share of a held bar's sway, and the lever that turns metres of sway into
# radians of rotation: the hands roll the bar a little, the ends barely tip.
HELD_SHARES = {"x": 0.5, "y": 1.0, "z": 1.0}
LEVER_M = {"roll": 0.3, "tilt": 1.0, "yaw": 1.0}
SETTLE_S = (0.4, 0.8)
SETTLE_WOBBLE = 0.1  # the settle's oscillation, as a share of its depth
SETTLE_HZ = (1.5, 2.5)


@dataclass(frozen=True)
class Hold:
    """A span outside the reps' moving phases (a pause, a hold, handling), and where the bar is."""

    t0: float
    t1: float
    support: Support


@dataclass(frozen=True)
class Handling:
    """How the lifter handles the bar around the reps. The defaults leave the plan unchanged,
    and its draws come from its own generator, so a seed's other draws do not shift."""

    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    top_hold_s: tuple[float, float] | None = None  # overrides the lift's lockout holds
    bottom_pause_s: tuple[float, float] | None = None  # overrides its bottom pauses; 0: bounce
    sway_m: float = 0.0
    settle_m: float = 0.0
    hand_held: bool = False
    yaw_rad: float = 0.0
    roll_rad: float = 0.0

    def profile(self, profile: LiftProfile) -> LiftProfile:
        """The lift with this lifter's pause ranges."""
        return replace(
            profile,
            top_pause_s=self.top_hold_s or profile.top_pause_s,
            bottom_pause_s=self.bottom_pause_s or profile.bottom_pause_s,
        )

    def bottom_pause(self) -> float:
        """An eccentric-first rep's pause at the bottom, from the given range."""
        assert self.bottom_pause_s is not None
        return float(self.rng.uniform(*self.bottom_pause_s))

    def roll_in_hands(self) -> float:
        """Extra roll of the bar in the hands during one rep (rad), out and back."""
        return float(self.rng.uniform(-1, 1)) * self.roll_rad if self.roll_rad else 0.0

    def sway_amplitude_m(self, support: Support) -> float:
        if self.hand_held:
            return max(self.sway_m, HAND_HELD_SWAY_M)
        return self.sway_m if support == "held" else 0.0

    def disturb(
        self, channels: dict[str, Channel], holds: list[Hold], spans: list[tuple[float, float]]
    ) -> None:
        """Sway the bar in its holds and turn it slowly over each set's span."""
        for hold in holds:
            amplitude = self.sway_amplitude_m(hold.support)
            if amplitude > 0 and hold.t1 - hold.t0 >= MIN_SWAY_S:
                sway(channels, hold, amplitude * float(self.rng.uniform(0.3, 1.0)), self.rng)
        if self.yaw_rad:
            for t0, t1 in spans:
                turn(channels["yaw"], t0, t1, self.yaw_rad, self.rng)


def sway(
    channels: dict[str, Channel], hold: Hold, amplitude_m: float, rng: np.random.Generator
) -> None:
    """Add a smooth random sway of up to `amplitude_m` per direction over the hold."""
    if hold.support in ("held", "carried"):
        shares = dict(HELD_SHARES)
        if hold.support == "carried":
            del shares["z"]
        for name, share in shares.items():
            channels[name].wobbles += _components(hold, amplitude_m * share, rng)
        for name, lever in LEVER_M.items():
            channels[name].wobbles += _components(hold, amplitude_m / lever, rng, lever)
    elif hold.support == "on_floor":  # rolling: the bar travels R per radian, the same way
        travel = _components(hold, amplitude_m, rng)
        channels["y"].wobbles += travel
        channels["roll"].wobbles += [
            replace(w, amplitude=-w.amplitude / PLATE_RADIUS_M) for w in travel
        ]
    else:
        angle = amplitude_m / PLATE_RADIUS_M
        channels["roll"].wobbles += _components(hold, angle, rng, PLATE_RADIUS_M)


def _components(
    hold: Hold, amplitude: float, rng: np.random.Generator, lever_m: float = 1.0
) -> list[Wobble]:
    """A few windowed sinusoids summing to at most `amplitude`, their acceleration capped.

    A Hann-windowed sinusoid of amplitude A peaks below A·(ω² + 2ωh + 2h²) in acceleration,
    h = π / duration; `lever_m` turns the cap into one on the rotation's arc.
    """
    duration = hold.t1 - hold.t0
    frequency = rng.uniform(*SWAY_HZ, SWAY_COMPONENTS)
    share = rng.dirichlet(np.ones(SWAY_COMPONENTS))
    phase = rng.uniform(0, 2 * np.pi, SWAY_COMPONENTS)
    omega, h = 2 * np.pi * frequency, np.pi / duration
    cap = SWAY_ACCEL_MPS2 / lever_m * share / (omega**2 + 2 * omega * h + 2 * h**2)
    amplitudes = np.minimum(amplitude * share, cap)
    return [
        Wobble(hold.t0, duration, float(a), float(f), float(p))
        for a, f, p in zip(amplitudes, frequency, phase, strict=True)
    ]


def settle(z: Channel, t0: float, depth_m: float, rng: np.random.Generator) -> float:
    """The bar sinks up to `depth_m` (into the hip crease, onto the traps, the arms giving a
    little) with a small oscillation that dies out; returns when it has settled."""
    duration = float(rng.uniform(*SETTLE_S))
    sink = depth_m * float(rng.uniform(0.3, 1.0))
    z.add(Move(t0, duration, -sink))
    z.wobbles.append(Wobble(t0, duration, SETTLE_WOBBLE * sink, float(rng.uniform(*SETTLE_HZ))))
    return t0 + duration


def turn(yaw: Channel, t0: float, t1: float, max_rad: float, rng: np.random.Generator) -> None:
    """Slow random turns of the bar's heading over [t0, t1], never beyond ±max_rad."""
    count = int(rng.integers(2, 4))
    edges = np.linspace(t0, t1, count + 1)
    heading = yaw.value_at(t0)
    for start, end in itertools.pairwise(edges):
        duration = (end - start) * float(rng.uniform(0.5, 0.9))
        begin = start + float(rng.uniform(0, end - start - duration))
        target = float(rng.uniform(-max_rad, max_rad))
        yaw.add(Move(begin, duration, target - heading))
        heading = target
