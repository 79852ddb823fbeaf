"""The simulator's ground truth is self-consistent: it is the oracle for every accuracy figure."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy.integrate import cumulative_trapezoid

from contract.errors import InputError
from contract.lifts import LIFTS
from contract.recording import read_recording, write_recording
from hardware.choreography import CHANNELS
from hardware.faults import EFFECTS, FaultSpec
from hardware.handling import HAND_HELD_SWAY_M
from hardware.imu_model import G, is_saturated
from hardware.motion import evaluate_all
from hardware.simulate import SimSpec, Simulation, simulate
from hardware.world import CONDITIONS, draw_conditions, draw_spec

specs = st.builds(
    SimSpec,
    lift=st.sampled_from(LIFTS),
    reps=st.integers(1, 4),
    load_kg=st.floats(40, 100),
    one_rm_kg=st.just(100.0),
    seed=st.integers(0, 2**31),
    faults=st.lists(st.sampled_from(sorted(EFFECTS)), max_size=2, unique=True).map(tuple),
    rest_s=st.just(3.0),
)
property_settings = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@property_settings
@given(specs)
def test_double_integrated_vertical_acceleration_gives_the_rom(spec: SimSpec) -> None:
    sim = simulate(spec)
    for rep in sim.truth.reps:
        t = np.arange(rep.t_concentric_start, rep.t_concentric_end, 1e-3)
        t = np.append(t, rep.t_concentric_end)
        _, velocity, accel = sim.kinematics(t)
        assert abs(velocity[0, 2]) < 1e-9  # every concentric starts from standstill
        v = cumulative_trapezoid(accel[:, 2], t, initial=0.0)
        z = cumulative_trapezoid(v, t, initial=0.0)
        assert abs(z[-1] - rep.rom_m) < 1e-3


@property_settings
@given(specs)
def test_rep_truth_is_consistent(spec: SimSpec) -> None:
    sim = simulate(spec)
    assert len(sim.truth.reps) == spec.reps
    for rep in sim.truth.reps:
        concentric_s = rep.t_concentric_end - rep.t_concentric_start
        assert rep.mean_velocity_mps == pytest.approx(rep.rom_m / concentric_s, rel=1e-12)
        assert rep.t_start <= rep.t_concentric_start < rep.t_concentric_end <= rep.t_end
        assert rep.peak_velocity_mps > rep.mean_velocity_mps
        assert rep.mean_propulsive_velocity_mps >= rep.mean_velocity_mps - 1e-9
        assert set(rep.faults) <= set(EFFECTS)
        assert all(0.0 <= m <= 1.0 for m in rep.faults.values())
    starts = [r.t_start for r in sim.truth.reps]
    assert starts == sorted(starts)


def test_the_same_seed_gives_the_same_recording() -> None:
    spec = SimSpec(lift="rdl", reps=3, seed=99, faults=("hip_shoot:0.5",))
    a, b = simulate(spec), simulate(spec)
    np.testing.assert_array_equal(a.recording.accel_mps2, b.recording.accel_mps2)
    np.testing.assert_array_equal(a.recording.t, b.recording.t)
    assert a.truth == b.truth
    assert simulate(SimSpec(lift="rdl", reps=3, seed=100)).truth != a.truth


def test_faults_land_on_the_reps_asked_for_and_clean_reps_are_clean() -> None:
    sim = simulate(SimSpec(reps=5, seed=5, faults=("bar_tilt:1@4", "partial_lockout:0.5")))
    labels = [sorted(r.faults) for r in sim.truth.reps]
    assert labels == [
        [],
        [],
        ["partial_lockout"],
        ["bar_tilt", "partial_lockout"],
        ["partial_lockout"],
    ]
    assert [r.clean for r in sim.truth.reps] == [True, True, False, False, False]
    tilted = sim.truth.reps[3]
    assert tilted.tilt_max_deg == pytest.approx(FaultSpec("bar_tilt", 1.0).value(), rel=1e-6)
    short = sim.truth.reps[2].rom_m / np.mean([r.rom_m for r in sim.truth.reps[:2]])
    assert 0.80 < short < 0.90  # half-way between subtle (6 %) and obvious (25 %) short


def test_the_sensor_reads_gravity_and_saturates_like_the_datasheet() -> None:
    sim = simulate(SimSpec(reps=1, seed=8))
    still = sim.recording.accel_mps2[:500]
    assert np.linalg.norm(still, axis=1).mean() == pytest.approx(9.80665, abs=0.6)
    lsb = 16 * 9.80665 / 32768
    counts = sim.recording.accel_mps2 / lsb
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)  # 16-bit quantisation
    assert np.abs(sim.recording.accel_mps2).max() < 16 * 9.80665


@pytest.mark.parametrize("text", ["wobble", "bar_tilt:2", "bar_tilt:x", "bar_tilt@0"])
def test_bad_fault_specs_are_clear_errors(text: str) -> None:
    with pytest.raises(InputError, match="fault"):
        simulate(SimSpec(faults=(text,)))


def test_staged_sensor_faults_look_like_the_real_ones_and_are_labelled() -> None:
    sim = simulate(SimSpec(reps=2, seed=6, events=("impact:3.0", "nan:4.0", "gone:5.0:0.5")))
    t, accel, gyro = sim.recording.t, sim.recording.accel_mps2, sim.recording.gyro_radps
    assert [e.kind for e in sim.truth.events] == ["impact", "nan", "gone"]
    during_impact = (t >= 3.0) & (t < 3.02)
    assert is_saturated(accel[during_impact], 16 * G).any()
    assert is_saturated(gyro[during_impact], np.radians(2000)).any()
    assert not is_saturated(accel[t < 2.9], 16 * G).any()
    broken = np.isnan(accel).any(axis=1)
    assert broken.any() and (t[broken] >= 4.0).all() and (t[broken] < 4.01).all()
    assert not ((t >= 5.0) & (t < 5.5)).any()  # no rows while the device was gone
    assert np.diff(t).max() > 0.49


@pytest.mark.parametrize("text", ["drop:3", "impact", "gone:x", "nan:-1"])
def test_bad_sensor_events_are_clear_errors(text: str) -> None:
    with pytest.raises(InputError, match="sensor event"):
        simulate(SimSpec(events=(text,)))


# The randomized world: every condition's draws keep the truth an exact oracle.


def world_sims(condition: str) -> list[Simulation]:
    """Every lift once under `condition`, on small seeds (bench/accuracy.py's are large)."""
    return [simulate(draw_spec(condition, seed, lift)) for seed, lift in enumerate(LIFTS)]


@pytest.fixture(scope="module", params=list(CONDITIONS))
def condition_sims(request: pytest.FixtureRequest) -> list[Simulation]:
    return world_sims(request.param)


def test_every_concentric_is_the_planned_rom_from_standstill_to_standstill(
    condition_sims: list[Simulation],
) -> None:
    for sim in condition_sims:
        for rep in sim.truth.reps:
            t = np.append(
                np.arange(rep.t_concentric_start, rep.t_concentric_end, 1e-3), rep.t_concentric_end
            )
            _, velocity, accel = sim.kinematics(t)
            assert np.abs(velocity[[0, -1], 2]).max() < 1e-9
            v = cumulative_trapezoid(accel[:, 2], t, initial=0.0)
            z = cumulative_trapezoid(v, t, initial=0.0)
            assert abs(z[-1] - rep.rom_m) < 1e-3
            assert velocity[:, 2].max() == pytest.approx(rep.peak_velocity_mps, rel=1e-3)


def test_reps_are_ordered_and_handling_leaves_each_where_it_began(
    condition_sims: list[Simulation],
) -> None:
    """Sway and settles stay outside the reps or fade to nothing at their ends: a rep ends
    where it started, at rest, and no rep overlaps another."""
    for sim in condition_sims:
        reps = sim.truth.reps
        assert len(reps) == sim.truth.spec.reps
        for rep in reps:
            assert rep.t_start <= rep.t_concentric_start < rep.t_concentric_end <= rep.t_end
            ends = np.array([rep.t_start, rep.t_concentric_start, rep.t_concentric_end, rep.t_end])
            position, velocity, _ = sim.kinematics(ends)
            np.testing.assert_allclose(velocity[:, 2], 0.0, atol=1e-9)
            assert position[-1, 2] == pytest.approx(position[0, 2], abs=1e-9)
        assert all(a.t_end <= b.t_start for a, b in itertools.pairwise(reps))


def test_sway_stays_within_its_amplitude_and_settles_within_theirs(
    condition_sims: list[Simulation],
) -> None:
    for sim in condition_sims:
        spec = sim.truth.spec
        reach = max(spec.sway_m, HAND_HELD_SWAY_M if spec.hand_held else 0.0) + spec.settle_m
        for hold in sim.plan.holds:
            if hold.support != "held" or hold.t1 <= hold.t0:
                continue
            t = np.linspace(hold.t0, hold.t1, 200)
            height = sim.kinematics(t)[0][:, 2]
            assert np.abs(height - height[0]).max() <= reach + 1e-9


def test_a_swaying_hold_sways_by_millimetres_to_centimetres() -> None:
    spec = SimSpec(lift="rdl", reps=3, seed=3, top_hold_s=(2.0, 3.0), sway_m=0.02)
    sim = simulate(spec)
    holds = [h for h in sim.plan.holds if h.support == "held" and h.t1 - h.t0 >= 2.0]
    assert holds
    for hold in holds:
        position = sim.kinematics(np.linspace(hold.t0, hold.t1, 400))[0]
        sway = np.ptp(position, axis=0)
        assert 0.001 < sway.max() < 2 * 0.02


def test_hand_held_sets_are_never_still() -> None:
    """Around and between the reps the bar always moves: no 0.25 s without acceleration."""
    for i, lift in enumerate(LIFTS):
        sim = simulate(draw_spec("hand_held", seed=i, lift=lift))
        t = np.arange(0.0, sim.plan.duration_s, 0.01)
        _, _, linear = sim.kinematics(t)
        _, _, angular = evaluate_all([sim.plan.channels[c] for c in CHANNELS[3:6]], t)
        moving = np.maximum(np.abs(linear).max(axis=1), np.abs(angular).max(axis=1))
        quietest = sliding_window_view(moving, 25).max(axis=1).min()
        assert quietest > 0.02, lift
    still = simulate(draw_spec("baseline", seed=0, lift="squat"))
    _, _, linear = still.kinematics(np.arange(0.0, 1.0, 0.01))
    assert np.abs(linear).max() == 0.0  # a tidy lifter's bar rests before its set-up


def test_holds_drawn_short_are_labelled_missed_lockouts() -> None:
    sim = simulate(SimSpec(lift="hip_thrust", reps=3, seed=4, top_hold_s=(0.0, 0.0)))
    assert [r.lockout_hold_s for r in sim.truth.reps] == [0.0, 0.0, 0.0]
    assert [r.faults.get("no_lockout_hold") for r in sim.truth.reps] == [1.0, 1.0, 1.0]
    assert not any(r.clean for r in sim.truth.reps)


def test_touch_and_go_reps_follow_each_other_without_a_pause() -> None:
    sim = simulate(SimSpec(lift="deadlift", reps=4, seed=5, bottom_pause_s=(0.0, 0.0)))
    reps = sim.truth.reps
    assert all(a.t_end == b.t_start for a, b in itertools.pairwise(reps))


def test_offsets_have_the_asked_magnitude_in_a_random_direction() -> None:
    offsets = {"gyro_offset_dps": 8.0, "accel_offset_g": 0.05}
    common = {"reps": 1, "seed": 7, "noise": 0.0}
    biased = simulate(SimSpec(**common, **offsets))
    clean = simulate(SimSpec(**common, gyro_offset_dps=0.0, accel_offset_g=0.0))
    assert biased.truth.sensor == msgspec.structs.replace(
        clean.truth.sensor, gyro_offset_dps=8.0, accel_offset_g=0.05
    )
    gyro = biased.recording.gyro_radps - clean.recording.gyro_radps
    accel = biased.recording.accel_mps2 - clean.recording.accel_mps2
    lsb_g, lsb_dps = 16 / 32768, 2000 / 32768
    assert np.degrees(np.linalg.norm(gyro, axis=1)).mean() == pytest.approx(8.0, abs=2 * lsb_dps)
    assert (np.linalg.norm(accel, axis=1) / G).mean() == pytest.approx(0.05, abs=2 * lsb_g)
    other = simulate(SimSpec(**{**common, "seed": 8}, **offsets)).recording
    assert not np.allclose(other.gyro_radps[0], biased.recording.gyro_radps[0], atol=0.01)


def test_the_cheap_imu_condition_draws_offsets_of_up_to_10_dps_and_0_1_g() -> None:
    for seed in range(4):
        sim = simulate(draw_spec("cheap_imu", seed, lift="bench"))
        spec, sensor = sim.truth.spec, sim.truth.sensor
        assert sensor is not None and spec.gyro_offset_dps is not None
        assert (
            sensor.gyro_offset_dps == pytest.approx(spec.gyro_offset_dps)
            and spec.gyro_offset_dps <= 10
        )
        assert (
            sensor.accel_offset_g == pytest.approx(spec.accel_offset_g)
            and sensor.accel_offset_g <= 0.1
        )
        assert 1 <= spec.noise <= 5
        at_rest = sim.recording.t < 1.5
        gyro_dps = np.degrees(sim.recording.gyro_radps[at_rest].mean(axis=0))
        assert np.linalg.norm(gyro_dps) == pytest.approx(spec.gyro_offset_dps, abs=0.3)


def test_bluetooth_rows_come_in_bursts_with_gaps_holes_and_repeats() -> None:
    sim = simulate(draw_spec("bluetooth", seed=1, lift="deadlift"))
    link, t = sim.truth.link, sim.recording.t
    assert link is not None and sim.truth.spec.rate_hz <= 100
    steps = np.diff(t)
    assert (steps >= 0).all()
    assert np.count_nonzero(steps == 0) == link.duplicate_rows > 0
    repeated = np.flatnonzero(steps == 0) + 1
    np.testing.assert_array_equal(
        sim.recording.accel_mps2[repeated], sim.recording.accel_mps2[repeated - 1]
    )
    moving = steps[steps > 0]
    assert np.mean(moving < 0.006) > 0.3  # rows of a packet, parsed a few ms apart
    assert np.mean(moving > 0.015) > 0.2  # then the wait for the next connection event
    assert link.holes > 0 and 0.1 < moving.max() <= 0.6
    same = (np.diff(sim.recording.accel_mps2, axis=0) == 0).all(axis=1) & (steps > 0)
    assert np.count_nonzero(same) >= link.stale_rows > 0  # old values at a new stamp
    assert 0.0 < link.latency_s < 0.2
    assert sim.recording.force_n is None  # a clip-on BLE sensor has no load cells


def test_a_bluetooth_recording_reads_back_without_its_duplicate_rows(tmp_path: Path) -> None:
    sim = simulate(draw_spec("bluetooth", seed=1, lift="deadlift"))
    write_recording(tmp_path / "bt.csv", sim.header, [sim.recording])
    _, read = read_recording(tmp_path / "bt.csv")
    assert link_rows(sim) == len(read) and (np.diff(read.t) > 0).all()


def link_rows(sim: Simulation) -> int:
    assert sim.truth.link is not None
    return len(sim.recording) - sim.truth.link.duplicate_rows


def test_conditions_are_drawn_over_their_ranges_and_carried_in_the_truth() -> None:
    rates = [draw_spec("low_rate", seed).rate_hz for seed in range(20)]
    assert min(rates) >= 25 and max(rates) <= 100 and np.ptp(rates) > 30
    everything = [draw_spec("everything", seed) for seed in range(30)]
    assert {s.timing for s in everything} == {"steady", "bluetooth"}
    assert {s.hand_held for s in everything} == {True, False}
    assert any(s.rate_hz >= 200 for s in everything) and any(s.rate_hz <= 100 for s in everything)
    assert draw_spec("yaw_roll", 3) == draw_spec("yaw_roll", 3) != draw_spec("yaw_roll", 4)
    spec = draw_spec("swaying_holds", 2, lift="squat")
    assert spec.lift == "squat" and spec.condition == "swaying_holds"
    assert simulate(spec).truth.spec == spec
    with pytest.raises(InputError, match="unknown condition"):
        draw_spec("windy", 1)


def test_a_condition_is_drawn_alone_for_a_set_designed_elsewhere() -> None:
    """bench/faults.py designs its sets (a fault, a load) and puts each under a condition."""
    fields = draw_conditions("bluetooth", 5)
    assert fields == draw_conditions("bluetooth", 5) != draw_conditions("bluetooth", 6)
    assert fields["timing"] == "bluetooth" and fields["force_sps"] is None
    assert 25 <= fields["rate_hz"] <= 100 and fields["condition"] == "bluetooth"
    spec = SimSpec(lift="rdl", reps=2, faults=("bar_drift:1",), **draw_conditions("cheap_imu", 1))
    assert spec.gyro_offset_dps is not None and spec.faults == ("bar_drift:1",)
    with pytest.raises(InputError, match="unknown condition"):
        draw_conditions("windy", 1)


def test_yaw_turns_stay_within_the_asked_heading() -> None:
    sim = simulate(SimSpec(lift="squat", reps=3, seed=9, yaw_deg=20.0))
    t = np.arange(0.0, sim.plan.duration_s, 0.01)
    yaw = np.degrees(sim.plan.channels["yaw"].evaluate(t)[0])
    assert 2.0 < np.abs(yaw).max() <= 20.0 + 1e-9


@pytest.mark.parametrize(
    "change",
    [
        {"timing": "radio"},
        {"top_hold_s": (2.0, 1.0)},
        {"bottom_pause_s": (-1.0, 1.0)},
        {"sway_m": -0.01},
        {"gyro_offset_dps": -1.0},
    ],
)
def test_bad_world_settings_are_clear_errors(change: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        simulate(SimSpec(**change))
