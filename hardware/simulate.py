"""The simulated bar: a session plan read through a sensor model, with its ground truth.

`simulate(spec)` is deterministic by seed. Its recording is what a real bar would have written;
its truth is what actually happened, the oracle for every accuracy figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import msgspec
import numpy as np

from contract.errors import InputError
from contract.recording import Chunk, Header
from hardware.bluetooth import LinkTruth, deliver
from hardware.choreography import CHANNELS, Athlete, Plan, PlannedRep, plan_session
from hardware.faults import FaultSpec
from hardware.handling import Handling
from hardware.imu_model import DEG, G, ImuModel, random_direction
from hardware.lifts import PROFILES
from hardware.motion import evaluate_all
from hardware.sensor_events import SensorEvent, add_shocks, corrupt

BAR_KG = 20.0


class SimSpec(msgspec.Struct, kw_only=True, frozen=True):
    lift: str = "hip_thrust"
    sets: int = 1
    reps: int = 5
    load_kg: float = 100.0  # bar included
    set_loads_kg: tuple[float, ...] = ()  # a load per set (a warm-up ramp); empty: all load_kg
    one_rm_kg: float = 160.0  # the athlete's strength
    # The athlete's and the day's velocity against the population profile (≈1, their v1RM
    # scales with it); drawn from the seed when None, given to keep one athlete across sets.
    velocity_scale: float | None = None
    seed: int = 0
    rate_hz: float = 1000.0
    noise: float = 1.0  # scales every sensor error; 0 is a perfect sensor
    force_sps: float | None = 320.0  # NAU7802 rate (320 or 80); None: no load cells
    athlete: str = "sim"
    rest_s: float = 10.0  # between sets
    faults: tuple[str, ...] = ()  # `code[:magnitude][@rep,…]`, see hardware/faults.py
    jitter: float = 0.02  # sample-time jitter, fraction of the period
    drop_rate: float = 0.0005  # chance that a FIFO read loses a short burst of samples
    min_duration_s: float = 0.0  # pad the end with rest up to this length
    setup: bool = True  # unrack, walk out, roll onto the hips… before and after each set
    events: tuple[str, ...] = ()  # sensor faults `kind:t_s[:duration_s]`, see sensor_events.py
    # The world's conditions (hardware/world.py, docs/simulator.md); the defaults are the
    # datasheet sensor and a tidy lifter, and draw nothing, so seeds keep their recordings.
    condition: str = ""  # the world condition this spec was drawn from: a label for binning
    gyro_offset_dps: float | None = None  # |zero-rate offset|, random direction; None: datasheet
    accel_offset_g: float | None = None  # |zero-g offset|, random direction; None: datasheet
    top_hold_s: tuple[float, float] | None = None  # lockout holds drawn here; None: the lift's
    bottom_pause_s: tuple[float, float] | None = None  # bottom pauses; 0: touch-and-go
    sway_m: float = 0.0  # sway in holds and pauses, up to this per direction
    settle_m: float = 0.0  # the bar sinks up to this after its set-up
    hand_held: bool = False  # never still in the set: handling runs into and out of the reps
    yaw_deg: float = 0.0  # slow turns of the bar's heading over a set, within ±this
    roll_deg: float = 0.0  # extra roll of the bar in the hands during each rep, up to this
    timing: Literal["steady", "bluetooth"] = "steady"  # bluetooth: rows stamped on arrival


class RepTruth(msgspec.Struct, kw_only=True):
    set_index: int
    rep_index: int
    t_start: float
    t_concentric_start: float
    t_concentric_end: float
    t_end: float
    rom_m: float
    mean_velocity_mps: float
    peak_velocity_mps: float
    mean_propulsive_velocity_mps: float
    lockout_hold_s: float
    tilt_max_deg: float
    drift_ap_m: float
    drift_lateral_m: float
    asymmetry_pct: float
    faults: dict[str, float] = msgspec.field(default_factory=dict)  # code → magnitude 0–1
    clean: bool = True  # no fault of any kind: the label the false-alarm figures count on

    def __post_init__(self) -> None:
        self.clean = not self.faults


class SensorTruth(msgspec.Struct, kw_only=True, frozen=True):
    """The sensor's drawn errors, whether asked for or from the datasheet model."""

    gyro_offset_dps: float  # magnitude of the zero-rate offset vector
    accel_offset_g: float  # magnitude of the zero-g offset vector
    mount_roll_deg: float


class EventTruth(msgspec.Struct, frozen=True):
    kind: str
    t_start: float
    t_end: float


class Truth(msgspec.Struct, kw_only=True):
    spec: SimSpec
    reps: list[RepTruth]
    sets: list[tuple[float, float]]
    events: list[EventTruth] = msgspec.field(default_factory=list)
    sensor: SensorTruth | None = None
    link: LinkTruth | None = None  # what a Bluetooth link did to the rows (timing="bluetooth")


@dataclass
class Simulation:
    header: Header
    recording: Chunk
    truth: Truth
    plan: Plan = field(repr=False)
    mount_roll_rad: float = 0.0

    def kinematics(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True world position (m), velocity (m/s) and acceleration (m/s²) at t, n×3 each."""
        pos, vel, acc = evaluate_all([self.plan.channels[c] for c in CHANNELS[:3]], t)
        return pos, vel, acc


def simulate(spec: SimSpec) -> Simulation:
    _check(spec)
    faults = tuple(FaultSpec.parse(text) for text in spec.faults)
    events = tuple(SensorEvent.parse(text) for text in spec.events)
    rng = np.random.default_rng(spec.seed)
    # The world's conditions draw from their own stream, so a seed's other draws stay the same.
    world_rng = np.random.default_rng([spec.seed, 1])
    profile = PROFILES[spec.lift]
    rom_m = float(rng.uniform(*profile.rom_m))
    drawn_scale = float(rng.normal(1.0, 0.06))  # drawn either way, so seeds keep their streams
    athlete = Athlete(
        one_rm_kg=spec.one_rm_kg,
        rom_m=rom_m,
        velocity_scale=drawn_scale if spec.velocity_scale is None else spec.velocity_scale,
        drift_ap_m=float(rng.uniform(*profile.drift_ap_m)),
    )
    plan = plan_session(
        profile,
        athlete,
        spec.set_loads_kg or (spec.load_kg,) * spec.sets,
        spec.reps,
        rng,
        faults,
        spec.rest_s,
        setup=spec.setup,
        handling=_handling(spec, world_rng),
    )
    plan.duration_s = max(plan.duration_s, spec.min_duration_s)
    t = _sample_times(plan.duration_s, spec, rng)
    mount_roll = float(rng.uniform(-np.pi, np.pi))
    specific_force, rate = _body_signals(plan, t, mount_roll)
    add_shocks(events, t, specific_force, rate)
    imu = ImuModel(rng, spec.noise)
    _set_offsets(imu, spec, world_rng)
    accel, gyro = imu.read(t, specific_force, rate, spec.rate_hz)
    force = _load_cells(plan, t, spec, rng) if spec.force_sps else None
    present = corrupt(events, t, accel, gyro)
    recording = Chunk(t, accel, gyro, force)[present]
    link = None
    if spec.timing == "bluetooth":
        recording, link = deliver(recording, world_rng)
    header = Header(
        rate_hz=spec.rate_hz,
        lift=spec.lift,
        athlete=spec.athlete,
        bar_kg=BAR_KG,
        load_kg=spec.load_kg,
        has_force=force is not None,
    )
    truth = Truth(
        spec=spec,
        reps=[_rep_truth(plan, rep) for rep in plan.reps],
        sets=plan.sets,
        events=[EventTruth(e.kind, e.t_s, e.t_end_s) for e in events],
        sensor=SensorTruth(
            gyro_offset_dps=float(np.linalg.norm(imu.gyro_offset_radps) / DEG),
            accel_offset_g=float(np.linalg.norm(imu.accel_offset_mps2) / G),
            mount_roll_deg=float(np.degrees(mount_roll)),
        ),
        link=link,
    )
    return Simulation(header, recording, truth, plan, mount_roll)


def _check(spec: SimSpec) -> None:
    """One clear error for a spec the simulator cannot honour."""
    if spec.lift not in PROFILES:
        raise InputError(f"unknown lift {spec.lift!r}; choose from {', '.join(PROFILES)}")
    for name in ("sets", "reps"):
        if getattr(spec, name) < 1:
            raise InputError(f"{name} {getattr(spec, name)} must be at least 1")
    for name in ("rate_hz", "load_kg", "one_rm_kg"):
        if not getattr(spec, name) > 0:
            raise InputError(f"{name} {getattr(spec, name)} must be above 0")
    if spec.set_loads_kg and len(spec.set_loads_kg) != spec.sets:
        raise InputError(f"{len(spec.set_loads_kg)} set loads for {spec.sets} sets: give one a set")
    if spec.timing not in ("steady", "bluetooth"):
        raise InputError(f"timing {spec.timing!r} must be steady or bluetooth")
    for name in ("top_hold_s", "bottom_pause_s"):
        span = getattr(spec, name)
        if span is not None and not 0 <= span[0] <= span[1]:
            raise InputError(f"{name} {span} must be (low, high) with 0 <= low <= high")
    for name in ("gyro_offset_dps", "accel_offset_g", "sway_m", "settle_m", "yaw_deg", "roll_deg"):
        if (getattr(spec, name) or 0.0) < 0:
            raise InputError(f"{name} must not be negative")


def _handling(spec: SimSpec, rng: np.random.Generator) -> Handling:
    return Handling(
        rng=rng,
        top_hold_s=spec.top_hold_s,
        bottom_pause_s=spec.bottom_pause_s,
        sway_m=spec.sway_m,
        settle_m=spec.settle_m,
        hand_held=spec.hand_held,
        yaw_rad=float(np.radians(spec.yaw_deg)),
        roll_rad=float(np.radians(spec.roll_deg)),
    )


def _set_offsets(imu: ImuModel, spec: SimSpec, rng: np.random.Generator) -> None:
    """Offsets of the asked magnitude in a random direction, in place of the datasheet's."""
    if spec.gyro_offset_dps is not None:
        imu.gyro_offset_radps = random_direction(rng) * spec.gyro_offset_dps * DEG
    if spec.accel_offset_g is not None:
        imu.accel_offset_mps2 = random_direction(rng) * spec.accel_offset_g * G


def _sample_times(duration_s: float, spec: SimSpec, rng: np.random.Generator) -> np.ndarray:
    """The IMU's sample instants: a slightly off clock, jitter, and lost bursts."""
    period = 1.0 / spec.rate_hz
    clock = 1.0 + rng.normal(0, 0.002) * spec.noise  # ODR error of the internal oscillator
    t = np.arange(0.0, duration_s, period) * clock
    t += rng.uniform(-0.5, 0.5, t.size) * spec.jitter * period
    t[0] = 0.0
    keep = np.ones(t.size, dtype=bool)
    for start in np.flatnonzero(rng.random(t.size) < spec.drop_rate):
        keep[start : start + int(rng.integers(1, 6))] = False
    keep[0] = True
    return t[keep]


def _body_signals(plan: Plan, t: np.ndarray, mount_roll: float) -> tuple[np.ndarray, np.ndarray]:
    """Specific force (m/s²) and angular rate (rad/s) in the sensor frame.

    The bar's attitude is R = Rz(yaw)·Ry(tilt)·Rx(roll); the sensor sits on the bar rolled by
    `mount_roll` about the same x axis, so its roll is simply the sum.
    """
    pos, vel, acc = evaluate_all([plan.channels[c] for c in CHANNELS[:6]], t)
    roll, tilt, yaw = pos[:, 3] + mount_roll, pos[:, 4], pos[:, 5]
    droll, dtilt, dyaw = vel[:, 3], vel[:, 4], vel[:, 5]
    rotation = _rotation(roll, tilt, yaw)
    world_force = acc[:, :3] + np.array([0.0, 0.0, G])
    specific_force = np.einsum("nji,nj->ni", rotation, world_force)  # Rᵀ f
    rate = np.stack(
        [
            droll - dyaw * np.sin(tilt),
            dtilt * np.cos(roll) + dyaw * np.sin(roll) * np.cos(tilt),
            -dtilt * np.sin(roll) + dyaw * np.cos(roll) * np.cos(tilt),
        ],
        axis=1,
    )
    return specific_force, rate


def _rotation(roll: np.ndarray, tilt: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    cr, sr, ct, st, cy, sy = (
        np.cos(roll),
        np.sin(roll),
        np.cos(tilt),
        np.sin(tilt),
        np.cos(yaw),
        np.sin(yaw),
    )
    return np.stack(
        [
            np.stack([cy * ct, cy * st * sr - sy * cr, cy * st * cr + sy * sr], axis=-1),
            np.stack([sy * ct, sy * st * sr + cy * cr, sy * st * cr - cy * sr], axis=-1),
            np.stack([-st, ct * sr, ct * cr], axis=-1),
        ],
        axis=-2,
    )


def _load_cells(plan: Plan, t: np.ndarray, spec: SimSpec, rng: np.random.Generator) -> np.ndarray:
    """Each NAU7802's reading of its side's share of m·(g + a_z), placed on the next IMU row.

    Noise and a slow zero drift per side are estimates for a strain-gauge cell on a bar
    (docs/simulator.md); the IMU rows between ADC samples stay empty.
    """
    assert spec.force_sps is not None
    t_adc = np.arange(t[0], t[-1], 1.0 / spec.force_sps)
    _, _, acc = plan.channels["z"].evaluate(t_adc)
    share, _, _ = plan.channels["asymmetry"].evaluate(t_adc)
    load_kg = plan.load_at(t_adc)
    total = load_kg * (G + acc)
    left = total * (0.5 + share / 200)
    sides = np.stack([left, total - left], axis=1)
    full_scale = load_kg[:, None] * G
    drift = np.cumsum(rng.normal(0, 1, sides.shape), axis=0) * np.sqrt(1 / spec.force_sps)
    sides += (rng.normal(0, 0.5, sides.shape) + drift * 2e-4 * full_scale) * spec.noise
    force = np.full((t.size, 2), np.nan)
    rows = np.minimum(np.searchsorted(t, t_adc), t.size - 1)
    force[rows] = sides  # at low IMU rates a later ADC sample overwrites an earlier one
    return force


def _rep_truth(plan: Plan, rep: PlannedRep) -> RepTruth:
    """Measure the planned rep on a dense 10 kHz grid of the true motion."""
    t = np.arange(rep.t_concentric_start, rep.t_concentric_end, 1e-4)
    _, vz, az = plan.channels["z"].evaluate(t)
    concentric_s = rep.t_concentric_end - rep.t_concentric_start
    braking = np.flatnonzero(az < -G)
    propulsive_end = t[braking[0]] if braking.size else rep.t_concentric_end
    z_prop = plan.channels["z"].evaluate(np.array([rep.t_concentric_start, propulsive_end]))[0]
    t_rep = np.arange(rep.t_start, rep.t_end, 1e-3)
    tilt = plan.channels["tilt"].evaluate(t_rep)[0]
    y = plan.channels["y"].evaluate(t_rep)[0]
    x = plan.channels["x"].evaluate(t_rep)[0]
    asymmetry = plan.channels["asymmetry"].evaluate(t_rep)[0]
    return RepTruth(
        set_index=rep.set_index,
        rep_index=rep.rep_index,
        t_start=rep.t_start,
        t_concentric_start=rep.t_concentric_start,
        t_concentric_end=rep.t_concentric_end,
        t_end=rep.t_end,
        rom_m=rep.rom_m,
        mean_velocity_mps=rep.rom_m / concentric_s,
        peak_velocity_mps=float(vz.max()),
        mean_propulsive_velocity_mps=float(
            (z_prop[1] - z_prop[0]) / (propulsive_end - rep.t_concentric_start)
        ),
        lockout_hold_s=rep.lockout_hold_s,
        tilt_max_deg=float(np.degrees(np.abs(tilt).max())),
        drift_ap_m=float(np.ptp(y)),
        drift_lateral_m=float(np.ptp(x)),
        asymmetry_pct=float(asymmetry[np.abs(asymmetry).argmax()]),
        faults=dict(rep.faults),
    )
