"""The simulator's ground truth is self-consistent: it is the oracle for every accuracy figure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.integrate import cumulative_trapezoid

from contract.errors import InputError
from contract.lifts import LIFTS
from hardware.faults import EFFECTS, FaultSpec
from hardware.imu_model import G, is_saturated
from hardware.simulate import SimSpec, simulate

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
