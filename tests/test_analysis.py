"""The edge analysis against the simulator's ground truth (never against its own output).

Small sets on seeds far from bench/'s; the accuracy figures over the randomized world come from
bench/accuracy.py (docs/accuracy.md), and the real recordings' from test_real_recordings.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.lifts import LIFTS
from contract.recording import Chunk
from edge.analysis import AnalysisSettings, Event, Rep, RepAnalysis, SensorIssue, SetEnd
from edge.analysis.offset import Offset
from edge.analysis.phases import Phase
from edge.analysis.reps import RepAssembler
from edge.analysis.stillness import Stillness, _SortedWindow
from edge.analysis.strokes import Boundary, Stroke, StrokeFinder
from edge.analysis.track import Track
from edge.analysis.units import G
from hardware.simulate import RepTruth, SimSpec, Simulation, simulate
from hardware.world import CONDITIONS, draw_spec


def analyse(sim: Simulation, lift: str, chunk: int = 50) -> list[Event]:
    analysis = RepAnalysis(AnalysisSettings(lift=lift, load_kg=sim.truth.spec.load_kg))
    events: list[Event] = []
    for piece in sim.recording.split(chunk):
        events += analysis.feed(piece)
    return events + analysis.finish()


def reps_of(events: list[Event]) -> list[Rep]:
    return [e for e in events if isinstance(e, Rep)]


def paired(reps: list[Rep], truth: list[RepTruth]) -> list[tuple[Rep, RepTruth]]:
    """Each measured rep with the true rep whose concentric it overlaps most."""
    pairs = []
    for rep in reps:
        overlaps = [
            min(rep.t_concentric_end, t.t_concentric_end)
            - max(rep.t_concentric_start, t.t_concentric_start)
            for t in truth
        ]
        best = int(np.argmax(overlaps))
        assert overlaps[best] > 0, f"rep at {rep.t_concentric_start:.2f} s matches no true rep"
        pairs.append((rep, truth[best]))
    return pairs


def two_sets(lift: str) -> Simulation:
    return simulate(SimSpec(lift=lift, reps=5, sets=2, load_kg=95, one_rm_kg=150, seed=31))


@pytest.mark.parametrize("lift", LIFTS)
def test_every_rep_is_found_with_set_up_motion_around_it(lift: str) -> None:
    sim = two_sets(lift)
    events = analyse(sim, lift)
    reps = reps_of(events)
    assert len(reps) == len(sim.truth.reps) == 10  # none missed, no ghosts from the set-up
    assert len({id(t) for _, t in paired(reps, sim.truth.reps)}) == 10
    assert [s.reps for s in events if isinstance(s, SetEnd)] == [5, 5]


def test_reps_are_measured_as_the_truth_has_them() -> None:
    """Every lift's two sets together (bench/ has the corpus figures): mean errors, and the
    worst rep's, so that one bad rep shows as well as a drift in all of them."""
    errors: dict[str, list[float]] = {}
    for lift in LIFTS:
        sim = two_sets(lift)
        for rep, true in paired(reps_of(analyse(sim, lift)), sim.truth.reps):
            for key, error in {
                "mcv": rep.mean_velocity_mps - true.mean_velocity_mps,
                "peak": rep.peak_velocity_mps - true.peak_velocity_mps,
                "rom": rep.rom_m - true.rom_m,
                "start": rep.t_concentric_start - true.t_concentric_start,
                "end": rep.t_concentric_end - true.t_concentric_end,
                "hold": rep.lockout_hold_s - true.lockout_hold_s,
            }.items():
                errors.setdefault(key, []).append(abs(error))
    mean = {key: float(np.mean(values)) for key, values in errors.items()}
    worst = {key: float(np.max(values)) for key, values in errors.items()}
    assert mean["mcv"] < 0.02 and worst["mcv"] < 0.06
    assert mean["peak"] < 0.03 and worst["peak"] < 0.1
    assert mean["rom"] < 0.01 and worst["rom"] < 0.06
    assert mean["start"] < 0.02 and mean["end"] < 0.02
    assert mean["hold"] < 0.1


# Mean |MCV error| by rate, over three sets of six reps. At 25 Hz a hip thrust's 0.3 s
# concentric is seven samples, and where it starts and ends is only known to a sample's
# spacing: about 0.05 m/s, not the 0.035 asked (docs/accuracy.md).
MCV_BOUND_BY_RATE = {25.0: 0.07, 50.0: 0.035, 100.0: 0.035, 200.0: 0.02, 1000.0: 0.02}


@pytest.mark.parametrize("rate_hz", list(MCV_BOUND_BY_RATE))
@pytest.mark.parametrize("lift", ["hip_thrust", "squat"])
def test_works_from_25_hz_to_1_khz(rate_hz: float, lift: str) -> None:
    mcv, rom = [], []
    for seed in (32, 33, 34):
        sim = simulate(SimSpec(lift=lift, reps=6, load_kg=100, seed=seed, rate_hz=rate_hz))
        reps = reps_of(analyse(sim, lift, chunk=max(2, round(0.05 * rate_hz))))
        assert len(reps) == 6
        for rep, true in paired(reps, sim.truth.reps):
            mcv.append(abs(rep.mean_velocity_mps - true.mean_velocity_mps))
            rom.append(abs(rep.rom_m - true.rom_m))
    assert np.mean(mcv) < MCV_BOUND_BY_RATE[rate_hz]
    assert np.mean(rom) < 0.015


# What each condition of the world must at least keep doing, out of four sets of small seeds:
# a floor under the figures bench/accuracy.py prints per condition (docs/accuracy.md), which
# fall short of the 99 % asked for the hand-held and swaying sets.
WORLD_FLOOR = {
    "baseline": 4,
    "cheap_imu": 3,
    "touch_and_go": 4,
    "swaying_holds": 2,
    "hand_held": 1,
    "yaw_roll": 3,
    "low_rate": 4,
    "bluetooth": 3,
    "everything": 1,
}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_the_randomized_world_condition_by_condition(condition: str) -> None:
    exact, ghosts = 0, 0
    for seed in range(4):
        spec = draw_spec(condition, seed)
        sim = simulate(spec)
        reps = reps_of(analyse(sim, spec.lift, chunk=max(2, round(0.05 * spec.rate_hz))))
        matched = len({id(t) for _, t in paired(reps, sim.truth.reps)}) if reps else 0
        exact += len(reps) == len(sim.truth.reps) == matched
        ghosts += len(reps) - matched
    assert exact >= WORLD_FLOOR[condition]
    assert ghosts <= 1


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=30), seed=st.integers(0, 1))
def test_the_same_reps_come_out_however_the_samples_are_chunked(
    sizes: list[int], seed: int
) -> None:
    sim = simulate(draw_spec("everything", seed, lift="rdl"))
    whole = analyse(sim, "rdl", chunk=len(sim.recording))
    analysis = RepAnalysis(AnalysisSettings(lift="rdl", load_kg=sim.truth.spec.load_kg))
    chunked: list[Event] = []
    start, i = 0, 0
    while start < len(sim.recording):
        size = sizes[i % len(sizes)]
        chunked += analysis.feed(sim.recording[start : start + size])
        start, i = start + size, i + 1
    chunked += analysis.finish()
    assert comparable(chunked) == comparable(whole)


def comparable(events: list[Event]) -> list[tuple[object, ...]]:
    """Reps and set ends as plain tuples, a rep's path arrays as lists so `==` compares them."""
    out = []
    for event in events:
        if isinstance(event, Rep | SetEnd):
            fields = dataclasses.asdict(event)
            path = fields.pop("path", None)
            paths = tuple(np.asarray(v).tolist() for v in path.values()) if path else ()
            out.append((type(event).__name__, tuple(fields.items()), paths))
    return out


# Not the RDL: its pick-up from the floor is a concentric that the first descent brings back,
# as a deadlift's is, so only the named lift tells the two apart.
@pytest.mark.parametrize("lift", ["hip_thrust", "bench", "deadlift", "squat"])
def test_auto_finds_which_way_the_reps_go(lift: str) -> None:
    sim = simulate(SimSpec(lift=lift, reps=5, seed=35))
    reps = reps_of(analyse(sim, "auto"))
    assert len(reps) == 5
    for rep, true in paired(reps, sim.truth.reps):  # each rep's own up and down, in order
        assert rep.t_start == pytest.approx(true.t_start, abs=0.1)
        assert rep.t_concentric_start == pytest.approx(true.t_concentric_start, abs=0.1)
        # A descent that settles onto the body ends once it is slower than a hold (5 cm/s),
        # 0.1 to 0.15 s before the bar is quite still: still a tenth of the rep's length.
        assert rep.t_end == pytest.approx(true.t_end, abs=0.15)


def test_velocity_loss_is_against_the_sets_best_rep() -> None:
    sim = simulate(SimSpec(lift="squat", reps=6, seed=36, faults=("velocity_loss:1",)))
    events = analyse(sim, "squat")
    reps = reps_of(events)
    assert len(reps) == 6
    best = max(t.mean_velocity_mps for t in sim.truth.reps)
    true_loss = 100 * (1 - sim.truth.reps[-1].mean_velocity_mps / best)
    assert true_loss > 40
    assert reps[-1].velocity_loss_pct == pytest.approx(true_loss, abs=5)
    [set_end] = [e for e in events if isinstance(e, SetEnd)]
    assert set_end.velocity_loss_pct == pytest.approx(true_loss, abs=5)


def test_tilt_drift_and_asymmetry_follow_the_truth() -> None:
    sim = simulate(
        SimSpec(lift="hip_thrust", reps=4, seed=37, faults=("bar_tilt:1@3", "load_asymmetry:1@4"))
    )
    reps = reps_of(analyse(sim, "hip_thrust"))
    truth = {t.rep_index: r for r, t in paired(reps, sim.truth.reps)}
    true = sim.truth.reps
    assert truth[2].tilt_max_deg == pytest.approx(true[2].tilt_max_deg, abs=2.0)
    assert truth[2].tilt_max_deg > truth[0].tilt_max_deg + 5
    # Load cells are read a cell (10 ms) at a time: the share peaks a little lower.
    assert truth[3].asymmetry_pct == pytest.approx(true[3].asymmetry_pct, rel=0.25)
    assert abs(truth[0].asymmetry_pct or 0) < 5
    for rep, t in zip(reps, true, strict=True):
        assert rep.drift_ap_m == pytest.approx(t.drift_ap_m, abs=0.03)


def test_a_cheap_gyros_offset_is_learned_without_a_rest() -> None:
    """8 °/s, as in the real corpus, on a bar held in the hands all set (it sways, never rests)."""
    for seed in (3, 4):
        spec = SimSpec(lift="squat", reps=5, seed=seed, gyro_offset_dps=8.0, hand_held=True,
                       sway_m=0.01)  # fmt: skip
        sim = simulate(spec)
        analysis = RepAnalysis(AnalysisSettings(lift="squat"))
        for piece in sim.recording.split(50):
            analysis.feed(piece)
        learned = np.linalg.norm(analysis.diagnostics.gyro_offset_dps)
        assert learned == pytest.approx(sim.truth.sensor.gyro_offset_dps, abs=0.5)
        assert analysis.diagnostics.frame_problem is None


def test_rests_after_rolling_the_bar_onto_the_hips_are_read_not_outvoted() -> None:
    """A bar lying on the rack, then rolled 60° onto the hips to lie there: the accelerometer's
    offset is read along the new vertical at the new rests, though more readings were taken
    along the old one (they were dropped as strays, and the offset was 0.4 m/s² off)."""
    period = 0.01
    offset = Offset(period)
    true_vector = np.array([0.0, 0.5, 0.1])
    racked, on_hips = np.array([0.0, 0.0, 1.0]), np.array([0.0, -np.sin(1.05), np.cos(1.05)])
    for up, readings in ((racked, 9), (on_hips, 3)):
        for _ in range(readings * round(0.3 / period)):
            offset.observe(float(up @ true_vector), up)
            offset.still(float(up @ true_vector), lying=True)
    assert offset.at(on_hips) == pytest.approx(on_hips @ true_vector, abs=0.1)
    assert offset.at(racked) == pytest.approx(racked @ true_vector, abs=0.05)


def test_the_offset_knows_when_it_was_not_read_along_the_bars_vertical() -> None:
    """Rolled 60° onto the hips, the bar's offset along its new vertical is an extrapolation
    until the bar rests there once: it is not trusted to integrate a stroke by (readings that
    agree, all along the old vertical, say nothing of the new one; a swaying glute bridge set
    read 0.5 m/s² off there), and a rest there is not judged by the velocity it gives."""
    period = 0.01
    offset = Offset(period)
    racked, on_hips = np.array([0.0, 0.0, 1.0]), np.array([0.0, -np.sin(1.05), np.cos(1.05)])

    def rest(up: np.ndarray, seconds: float) -> None:
        for _ in range(round(seconds / period)):
            offset.observe(0.1, up)
            offset.still(0.1, lying=True)

    rest(racked, 1.2)
    assert offset.pinned_here and offset.trusted
    offset.observe(0.1, on_hips)
    assert not offset.pinned_here and not offset.trusted
    rest(on_hips, 0.3)
    assert offset.pinned_here and offset.trusted


def test_a_smooth_steady_acceleration_is_not_a_pause() -> None:
    """A 30 Hz Bluetooth IMU, interpolated onto the grid, lowers a bar at a steady 1.5 m/s² as
    smoothly as it rests: only |a| against gravity tells them apart."""
    period = 0.01
    rng = np.random.default_rng(5)
    t = np.arange(0.0, 6.0, period)
    lowering = (t >= 3.0) & (t < 3.6)
    vertical = G - 1.5 * lowering + rng.normal(0, 0.003, len(t))
    accel = np.column_stack([np.zeros(len(t)), 0.4 * np.ones(len(t)), vertical])  # a tilt
    gyro = np.full((len(t), 3), np.radians(8.0)) + rng.normal(0, 0.0005, (len(t), 3))
    still = Stillness(period).update(0, accel, gyro)
    settled = lowering & (t >= 3.25)  # once the window lies wholly in it
    assert not still.quiet[settled].any()
    assert still.quiet[(t > 1.0) & (t < 3.0)].all()
    assert still.quiet[t > 4.5].all()  # the reference follows the latest calm windows back


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(0.0, 1.0) | st.sampled_from([0.0, 0.25, 0.5]), min_size=1,
                    max_size=400),
    size=st.integers(1, 300),
    q=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]),
)  # fmt: skip
def test_the_stillness_floor_reads_its_window_as_numpy_would(
    values: list[float], size: int, q: float
) -> None:
    """The floor keeps its window sorted instead of sorting it every time: the same quantile,
    to the last bit, as np.quantile of the latest `size` values."""
    window = _SortedWindow(size)
    for i, value in enumerate(values):
        window.add(value)
        latest = values[max(0, i + 1 - size) : i + 1]
        assert window.quantile(q) == float(np.quantile(latest, q))


def test_a_gyro_that_turns_the_wrong_way_is_reported() -> None:
    """A mirrored gyro axis (a left-handed frame) disagrees with how gravity turns."""
    sim = simulate(SimSpec(lift="hip_thrust", reps=4, seed=42))  # rolled onto the hips
    mirrored = Chunk(
        sim.recording.t,
        sim.recording.accel_mps2,
        sim.recording.gyro_radps * np.array([-1.0, 1.0, 1.0]),
        sim.recording.force_n,
    )
    analysis = RepAnalysis(AnalysisSettings(lift="hip_thrust"))
    for piece in mirrored.split(50):
        analysis.feed(piece)
    assert analysis.diagnostics.frame_problem is not None
    assert "other way" in analysis.diagnostics.frame_problem


def test_a_drop_is_reported_and_no_velocity_comes_from_clipped_data() -> None:
    clean = simulate(SimSpec(lift="deadlift", reps=4, seed=38))
    third = clean.truth.reps[2]
    impact = f"impact:{(third.t_concentric_start + third.t_concentric_end) / 2:.3f}"
    sim = simulate(SimSpec(lift="deadlift", reps=4, seed=38, events=(impact,)))
    events = analyse(sim, "deadlift")
    issues = [e for e in events if isinstance(e, SensorIssue)]
    assert [i.kind for i in issues] == ["saturated"]
    reps = reps_of(events)
    assert all(not (r.t_start <= float(impact.split(":")[1]) <= r.t_end) for r in reps)
    assert len(reps) >= 2  # the reps before the drop are still there


@pytest.mark.parametrize("event, kind", [("nan:6.0", "nan"), ("gone:6.0:0.8", "gap")])
def test_broken_readings_are_reported_not_crashed_on(event: str, kind: str) -> None:
    sim = simulate(SimSpec(lift="squat", reps=5, seed=39, events=(event,)))
    events = analyse(sim, "squat")
    assert kind in {e.kind for e in events if isinstance(e, SensorIssue)}
    reps = reps_of(events)
    assert 3 <= len(reps) <= 5
    mcv = [abs(rep.mean_velocity_mps - true.mean_velocity_mps)
           for rep, true in paired(reps, sim.truth.reps)]  # fmt: skip
    assert np.mean(mcv) < 0.03


@pytest.mark.parametrize("gone_s", [0.3, 0.58])
def test_a_short_hole_is_bridged_and_loses_no_rep(gone_s: float) -> None:
    """A radio link drops a few hundred ms now and then: the motion goes on across it. Half a
    second of interference leaves a gap of up to a connection interval (50 ms) more each side."""
    truth = simulate(SimSpec(lift="squat", reps=5, seed=43)).truth
    between = (truth.reps[1].t_end + truth.reps[2].t_start) / 2
    gone = f"gone:{between:.2f}:{gone_s}"
    sim = simulate(SimSpec(lift="squat", reps=5, seed=43, events=(gone,)))
    events = analyse(sim, "squat")
    assert not [e for e in events if isinstance(e, SensorIssue)]
    assert len(reps_of(events)) == 5


@pytest.mark.parametrize("seed", [60, 61])
def test_a_rep_held_back_at_a_stall_is_kept_when_the_link_drops(seed: int) -> None:
    """Hips shoot in an RDL's second rep and the radio is gone for 0.8 s from the stall: the
    rep waiting for the rest of its concentric is reported as it was, not lost (nor crashed on:
    the analysis keeps no cells across a hole)."""
    spec = {"lift": "rdl", "reps": 4, "seed": seed, "faults": ("hip_shoot:1@2",)}
    stalled = simulate(SimSpec(**spec)).truth.reps[1]
    stall = (stalled.t_concentric_start + stalled.t_concentric_end) / 2
    sim = simulate(SimSpec(**spec, events=(f"gone:{stall:.2f}:0.8",)))
    events = analyse(sim, "rdl")
    assert [e.kind for e in events if isinstance(e, SensorIssue)] == ["gap"]
    reps = reps_of(events)
    assert len(reps) == 4
    assert reps[1].t_concentric_start < stalled.t_concentric_end
    assert reps[1].t_concentric_end > stalled.t_concentric_start


def _track(vertical_mps2: np.ndarray, period: float) -> Track:
    """A track of a bar held level, moving only up and down with this acceleration."""
    n = len(vertical_mps2)
    track = Track(period)
    track.append(
        0, np.arange(n) * period, np.column_stack([vertical_mps2, np.zeros((n, 2))]),
        np.zeros(n), np.tile([0.0, 0.0, 1.0], (n, 1)), np.zeros((n, 2)),
        np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
    )  # fmt: skip
    return track


def test_a_stroke_the_bar_did_not_make_is_measured_without_a_crash() -> None:
    """The high-passed motion can call a stroke down where the bar's own integral rose (set-up
    motion that turned the bar, in a randomized world with holes): it measures as no travel."""
    period, n = 0.01, 40
    vertical = np.zeros(n)
    # Up to 8 cm/s and back to rest, 1.0005 cm up: past the 1 cm band only at the last cell.
    vertical[1:5], vertical[5:25] = 2.14, -2.14 / 5
    track = _track(vertical, period)
    down = Stroke(-1, 0, 24, Boundary.REST, Boundary.REST, -0.05, 30, (0.0, 0.0, 0.0))
    phase = track.measure(down)
    assert phase.start <= phase.stop <= 24
    assert phase.travel_m * phase.direction <= 0


def _measured_drive(before: np.ndarray, anchored: bool) -> Phase:
    """An up stroke as the track measures it (0.01 s cells, no offset): the bar's velocity
    `before` over its first 0.5 s, then a drive of 15 cm in 0.3 s (1 m/s · sin²) and a hold."""
    period = 0.01
    t = np.arange(0.0, 1.2, period)
    velocity = np.where((t >= 0.5) & (t < 0.8), np.sin(np.pi * (t - 0.5) / 0.3) ** 2, 0.0)
    velocity[: len(before)] += before
    n = len(t)
    track = _track(np.gradient(velocity, period), period)
    offset = (0.0, 0.0, 0.0)
    return track.measure(Stroke(1, 0, n - 1, Boundary.TURN, Boundary.HOLD, 0.15, n - 1, offset,
                                anchored))  # fmt: skip


def test_a_drive_after_a_swaying_pause_is_timed_from_where_the_bar_set_off() -> None:
    """Held in the hands, the offset is not trusted, so a stroke starts at the high-passed turn,
    before the bar's: the bar is still lowering there, and the stroke's integral, zero at its
    start, reads the pause after it as a slow rise, swaying by a centimetre. The drive is timed
    from where the bar set off, not from the stroke's start."""
    t = np.arange(0.0, 0.5, 0.01)
    lowering = np.where(t < 0.1, -0.05 * np.cos(np.pi * t / 0.2) ** 2, 0.0)
    window = np.where(t >= 0.1, np.sin(np.pi * (t - 0.1) / 0.4) ** 2, 0.0)
    sway = 0.01 * window * np.sin(3 * np.pi * t)  # 1 cm at 1.5 Hz
    drive = _measured_drive(lowering + np.gradient(sway, 0.01), anchored=False)
    assert drive.t_start == pytest.approx(0.5, abs=0.03)
    assert drive.travel_m / drive.duration_s == pytest.approx(0.5, rel=0.1)


def test_a_drive_is_measured_from_the_bottom_when_its_stroke_began_above_it() -> None:
    """The stroke began at a turn, and the bar sank 3 cm more before it paused and drove: the
    drive's travel is from the bottom, not from where it passed the stroke's start height."""
    t = np.arange(0.0, 0.5, 0.01)
    drive = _measured_drive(np.where(t < 0.2, -0.3 * np.sin(np.pi * t / 0.2) ** 2, 0.0), True)
    assert drive.t_start == pytest.approx(0.5, abs=0.03)
    assert drive.travel_m == pytest.approx(0.15, abs=0.01)


def test_a_slow_lockout_is_measured_to_the_top_though_its_stroke_ended_early() -> None:
    """A pull eased into lockout over a second: its stroke ended at the high-passed turn, 0.6 s
    before the bar stopped, and the lowering's stroke began there. Measured again as one rep,
    the pull reaches the top: its travel is the whole 48 cm, not what its own stroke held."""
    period = 0.01
    t = np.arange(0.0, 2.6, period)
    velocity = np.where(t < 1.6, 0.6 * np.sin(np.pi * t / 1.6) ** 2, 0.0)
    velocity -= np.where(t >= 1.6, 0.96 * np.sin(np.pi * (t - 1.6) / 1.0) ** 2, 0.0)
    n = len(t)
    track = _track(np.gradient(velocity, period), period)
    offset = (0.0, 0.0, 0.0)
    up = track.measure(Stroke(1, 0, 100, Boundary.REST, Boundary.TURN, 0.3, 130, offset))
    down = track.measure(Stroke(-1, 100, n - 1, Boundary.TURN, Boundary.REST, -0.3, n - 1, offset))
    up, down = track.across_turn(up, down)
    assert up.travel_m == pytest.approx(0.48, abs=0.02)
    assert up.t_stop == pytest.approx(1.6, abs=0.1)


def test_a_stroke_stopped_dead_ends_at_its_hold_though_its_velocity_reads_a_little_off() -> None:
    """A fast pull stopped dead into a lockout hold, read with an offset a little off (the bar
    tilted since the rest it was learned at): the integrated velocity levels off at 7 % of the
    peak instead of zero, and the high-passed one rings on. The stroke ends where the bar
    stopped, known at once, not when the ringing turns: the rep reaches the lifter in time."""
    period = 0.01
    t = np.arange(0.0, 5.0, period)
    pull = (t >= 2.0) & (t < 2.6)
    # Velocity 1 m/s · sin²(π s / 0.6 s): up 30 cm, from rest to rest.
    phase = np.pi * (t - 2.0) / 0.6
    accel = np.where(pull, np.pi / 0.6 * np.sin(2 * phase), 0.0)
    accel += np.where(t >= 2.0, 0.12, 0.0)  # the offset after the rest it was learned at
    at_rest, holding = t < 2.0, t >= 2.62
    finder = StrokeFinder(period)
    strokes = finder.update(0, accel, np.tile([0.0, 0.0, 1.0], (len(t), 1)), at_rest | holding,
                            at_rest)  # fmt: skip
    up = [s for s in strokes if s.direction > 0]
    assert len(up) == 1
    assert up[0].ends in (Boundary.HOLD, Boundary.REST)  # not a turn of the ringing
    assert abs(up[0].stop * period - 2.6) < 0.05
    assert up[0].confirmed * period - 2.6 < 0.15


def test_a_turn_ends_where_the_bars_velocity_levels_off_though_not_at_zero() -> None:
    """A pull of 45 cm eased into lockout over 1.5 s, read 0.15 m/s² off while it moved (the
    attitude off in motion): the high-passed motion turns before the bar stops, and the bar's
    own velocity then levels off at a third of its peak instead of reaching zero. The stroke
    ends where it levelled, known soon after, not when the turn gives up waiting."""
    period = 0.01
    t = np.arange(0.0, 5.0, period)
    pull = (t >= 2.0) & (t < 3.5)
    accel = np.where(pull, 0.6 * np.pi / 1.5 * np.sin(2 * np.pi * (t - 2.0) / 1.5) + 0.15, 0.0)
    at_rest = t < 2.0
    finder = StrokeFinder(period)
    strokes = finder.update(0, accel, np.tile([0.0, 0.0, 1.0], (len(t), 1)), at_rest, at_rest)
    up = [s for s in strokes if s.direction > 0]
    assert len(up) == 1
    assert abs(up[0].stop * period - 3.5) < 0.1
    assert up[0].confirmed * period - 3.5 < 0.15


@pytest.mark.parametrize(("depth_m", "seconds"), [(0.08, 1.0), (0.12, 1.3)])
def test_a_slow_lowering_that_reads_as_still_is_a_stroke_down(
    depth_m: float, seconds: float
) -> None:
    """A bar held in the hands, lowered slowly and smoothly: the stillness test passes every
    window whose |a| is within 0.4 m/s² of gravity, so most of the lowering reads as still. The
    bar came to rest where it was held before, not at each of those windows: it is one stroke
    down, found, and not taken for a stroke up."""
    period = 0.01
    t = np.arange(0.0, 6.0, period)
    share = np.clip((t - 2.0) / seconds, 0.0, 1.0)
    top_mps = 2 * depth_m / seconds  # velocity −top · sin²(π s / seconds)
    accel = -top_mps * np.pi / seconds * np.sin(2 * np.pi * share) * (share > 0) * (share < 1)
    held = np.zeros(len(t), dtype=bool)
    strokes = StrokeFinder(period).update(
        0, accel, np.tile([0.0, 0.0, 1.0], (len(t), 1)), np.abs(accel) < 0.4, held
    )
    [down] = strokes
    assert down.direction < 0
    assert abs(t[down.start] - 2.0) < 0.2


def test_a_grind_of_seconds_is_one_stroke_from_the_floor_to_lockout() -> None:
    """A pull near the lifter's max, 56 cm in 4.5 s: it breaks off the floor slowly, and its
    velocity is integrated over longer than the filter is run again. It is one stroke, from
    where the bar left the floor (it lay still there) to most of the way up."""
    period, seconds, top_mps = 0.01, 4.5, 0.25
    t = np.arange(0.0, 10.0, period)
    # Velocity top · sin²(π s / 4.5 s) from 2 s on: from rest to rest.
    share = np.clip((t - 2.0) / seconds, 0.0, 1.0)
    accel = top_mps * np.pi / seconds * np.sin(2 * np.pi * share) * (share < 1) * (share > 0)
    lying = (t < 2.0) | (t >= 2.2 + seconds)
    strokes = StrokeFinder(period).update(
        0, accel, np.tile([0.0, 0.0, 1.0], (len(t), 1)), lying, lying
    )
    [up] = [s for s in strokes if s.direction > 0]

    def risen(index: int) -> float:  # the share of the pull's height reached by then
        x = share[index]
        return float(x - np.sin(2 * np.pi * x) / (2 * np.pi))

    assert abs(t[up.start] - 2.0) < 0.3
    assert risen(up.stop) - risen(up.start) > 0.9


def test_a_heavy_rdls_slow_smooth_lowering_is_not_a_rest() -> None:
    """At 87 % 1RM an RDL is lowered over two seconds, so smoothly that the sensor reads it as
    still (lying still, even). The bar's own velocity is not steady there, so it is no rest, and
    every rep is found (two of five were, on one of these sets)."""
    for seed in range(1, 5):
        sim = simulate(SimSpec(lift="rdl", reps=5, seed=seed, load_kg=91.0, one_rm_kg=105.0))
        reps = reps_of(analyse(sim, "rdl"))
        assert len(reps) == len(sim.truth.reps)
        for rep, true in zip(reps, sim.truth.reps, strict=True):
            assert rep.rom_m == pytest.approx(true.rom_m, abs=0.03)


@pytest.mark.parametrize("lift", ["glute_bridge", "hip_thrust"])
def test_a_hip_lifts_drive_is_timed_from_where_the_bar_left_the_floor(lift: str) -> None:
    """A lowering that lands and lies still a moment (a bottom pause of a few tenths) is at
    rest there, though its velocity, read a little off, has not come back to zero; the drive
    after it is timed from where the bar left the floor, not from before the landing."""
    for seed in range(15, 19):
        sim = simulate(SimSpec(lift=lift, reps=5, seed=seed, load_kg=90.0, one_rm_kg=135.0))
        reps = reps_of(analyse(sim, lift))
        assert len(reps) == len(sim.truth.reps)
        for rep, true in zip(reps, sim.truth.reps, strict=True):
            assert rep.mean_velocity_mps == pytest.approx(true.mean_velocity_mps, rel=0.15)


@pytest.mark.parametrize("lift", LIFTS)
def test_each_rep_is_out_within_a_fifth_of_a_second_of_its_end(lift: str) -> None:
    """The cue on the bar comes at lockout: a rep is known by the drain after its true end,
    though the bar stops dead, rings the high-passed motion, and reads a little off zero."""
    for seed in range(1, 5):
        spec = SimSpec(lift=lift, reps=4, seed=seed, rate_hz=250.0, gyro_offset_dps=3.0,
                       accel_offset_g=0.03)  # fmt: skip
        sim = simulate(spec)
        analysis = RepAnalysis(AnalysisSettings(lift=lift))
        out = []
        for piece in sim.recording.split(12):  # 50 ms drains
            out += [(e, float(piece.t[-1])) for e in analysis.feed(piece) if isinstance(e, Rep)]
        assert len(out) == spec.reps
        for rep, known_at in out:
            [(_, true)] = paired([rep], sim.truth.reps)
            assert known_at - true.t_end < 0.2, f"seed {seed}: rep at {true.t_end:.2f} s"


def phase_at(
    direction: int,
    start: float,
    stop: float,
    travel: float,
    held: bool = False,
    turned: float = 0.0,
) -> Phase:
    """A phase between two times (s, cells of 10 ms) that travelled `travel` (m)."""
    cells = (round(start * 100), round(stop * 100))
    return Phase(direction, *cells, cells, start, stop, travel, travel, held=held,
                 turned_deg=turned)  # fmt: skip


def test_a_short_lowering_is_a_rep_at_once_and_a_short_drive_waits_for_the_rest() -> None:
    """A hip thrust's lowering read 40 % short of its drive (a sensor's timing, a lifter who
    stops above the floor) is its rep, sent when it ends; a squat's drive that stops that short
    and holds may be a stall, so it waits for the rest of the drive."""
    hip_thrust = RepAssembler(first_direction=+1)
    assert hip_thrust.add(phase_at(+1, 1.0, 1.6, 0.30, held=True)) == []
    assert len(hip_thrust.add(phase_at(-1, 2.0, 3.0, -0.18, held=True))) == 1
    squat = RepAssembler(first_direction=-1)
    assert squat.add(phase_at(-1, 1.0, 2.0, -0.50, held=True)) == []
    assert squat.add(phase_at(+1, 2.2, 2.8, 0.30, held=True)) == []
    assert squat.stalled is not None
    [(_, up)] = squat.add(phase_at(+1, 3.2, 3.6, 0.20, held=True))
    assert up.travel_m == pytest.approx(0.50)


def test_a_return_that_stops_on_the_way_and_goes_on_is_one_return() -> None:
    """A hip thrust lowered 4 cm, held a moment (the bar swaying in the hands) and lowered the
    rest is a rep; lowered 4 cm and driven up again, it was none, and the new drive may be. The
    joined lowering is measured as its parts were: one placed by the high-passed turn (not
    anchored) makes it so."""
    hitched = RepAssembler(first_direction=+1)
    assert hitched.add(phase_at(+1, 1.0, 1.6, 0.25)) == []
    assert hitched.add(phase_at(-1, 2.0, 2.5, -0.04, held=True)) == []
    rest = dataclasses.replace(phase_at(-1, 2.6, 3.4, -0.15, held=True), anchored=False)
    [(up, down)] = hitched.add(rest)
    assert (up.travel_m, down.travel_m) == pytest.approx((0.25, -0.19))
    assert not down.anchored
    turned_back = RepAssembler(first_direction=+1)
    assert turned_back.add(phase_at(+1, 1.0, 1.6, 0.25)) == []
    assert turned_back.add(phase_at(-1, 2.0, 2.5, -0.04, held=True)) == []
    assert turned_back.add(phase_at(+1, 2.6, 3.0, 0.05)) == []
    [(up, _)] = turned_back.add(phase_at(-1, 3.4, 4.0, -0.05))
    assert up.t_start == 2.6


def test_rolling_the_bar_onto_the_hips_is_not_half_of_a_stalled_drive() -> None:
    """Two rises 0.6 s apart are one drive with a stall in it (hips shooting), unless the first
    turned the bar: rolled over the thighs onto the hips, it is set-up, and the rep is the
    second rise and its lowering."""
    for set_up_turned, rep_rise in ((3.0, 0.30), (80.0, 0.18)):
        reps = RepAssembler(first_direction=+1)
        assert reps.add(phase_at(+1, 1.0, 1.4, 0.12, turned=set_up_turned)) == []
        assert reps.add(phase_at(+1, 2.0, 2.4, 0.18, turned=2.0)) == []
        [(up, _)] = reps.add(phase_at(-1, 3.0, 4.0, -rep_rise, turned=2.0))
        assert up.travel_m == pytest.approx(rep_rise)


def test_repeated_stamps_are_dropped_and_counted() -> None:
    sim = simulate(SimSpec(lift="deadlift", reps=3, seed=44))
    rec = sim.recording
    doubled = Chunk.concat([rec[:3000], rec[2990:]])  # ten rows sent twice
    analysis = RepAnalysis(AnalysisSettings(lift="deadlift"))
    reps = [e for piece in doubled.split(50) for e in analysis.feed(piece) if isinstance(e, Rep)]
    assert analysis.diagnostics.duplicates == 10
    assert len(reps) == 3


def test_a_recording_without_reps_says_why() -> None:
    analysis = RepAnalysis()
    t = np.arange(0, 10, 0.01)
    gravity = np.tile([0.0, 0.0, G], (t.size, 1))
    assert reps_of(analysis.feed(Chunk(t, gravity, np.zeros_like(gravity)))) == []
    reason = analysis.diagnostics.no_reps_reason()
    assert "never moved" in reason and "10.0 s" in reason and "100 Hz" in reason


def test_reps_measured_with_an_offset_no_rest_confirmed_are_named() -> None:
    """A bar that rests between reps has its accelerometer's offset read there; one held in the
    hands all set never does, and the summary says how many reps that leaves less sure."""
    for condition, seed in (("baseline", 3), ("hand_held", 3)):
        spec = draw_spec(condition, seed, lift="squat")
        analysis = RepAnalysis(AnalysisSettings(lift="squat"))
        for piece in simulate(spec).recording.split(50):
            analysis.feed(piece)
        analysis.finish()
        seen = analysis.diagnostics
        assert seen.reps > 0
        if condition == "baseline":
            assert seen.unconfirmed == 0 and "less sure" not in seen.summary()
        else:
            assert 0 < seen.unconfirmed <= seen.reps
            assert f"{seen.unconfirmed} measured with an accelerometer offset" in seen.summary()


def test_an_empty_drain_is_nothing_to_report() -> None:
    empty = simulate(SimSpec(reps=1, seed=40)).recording[:0]
    assert RepAnalysis().feed(empty) == []


def test_a_bar_left_at_rest_for_minutes_holds_no_history() -> None:
    sim = simulate(SimSpec(lift="squat", reps=3, seed=41, min_duration_s=200.0))
    analysis = RepAnalysis(AnalysisSettings(lift="squat"))
    held, reps = [], 0
    for piece in sim.recording.split(50):
        reps += len(reps_of(analysis.feed(piece)))
        if piece.t[0] > sim.truth.sets[-1][1] + 30:  # the bar is back on the rack
            held.append(analysis.held_s)
    assert reps == 3
    assert held and max(held) < 1.0


def test_motion_that_never_stops_is_given_up_not_kept() -> None:
    """A bar rolled about for minutes: no rep, and memory stays bounded."""
    analysis = RepAnalysis()
    limit = analysis.settings.strokes.longest_stroke_s
    n = 50
    gravity, rolling = np.tile([0.0, 0.0, G], (n, 1)), np.tile([0.3, 0.0, 0.0], (n, 1))
    held = []
    for k in range(int(2.5 * limit * 1000 / n)):
        t = (k * n + np.arange(n)) / 1000.0
        assert reps_of(analysis.feed(Chunk(t, gravity, rolling))) == []
        held.append(analysis.held_s)
    assert max(held) <= limit + 0.05
