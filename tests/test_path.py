"""Each rep's bar path: against the simulator's true motion, on the wire, and at the server.

The end-to-end path (station → Mosquitto → server → InfluxDB) is in test_pipeline.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from contract.lifts import LIFTS
from contract.messages import PathMessage, RepMessage, SetMessage, decode, encode
from edge.analysis import AnalysisSettings, RepAnalysis
from edge.session import Outgoing, Session, SessionInfo
from hardware.simulate import SimSpec, Simulation, simulate
from server.config import IngestSettings
from server.points import lines_for
from server.validation import Refused, validate
from tests.test_analysis import analyse, paired, reps_of

EPOCH_S = 1_800_000_000.0  # a live session's time base


def rms(error: np.ndarray) -> float:
    return float(np.sqrt(np.mean(error**2)))


@pytest.mark.parametrize("lift", LIFTS)
def test_the_path_follows_the_true_bar(lift: str) -> None:
    """Per-rep RMS errors; bench/accuracy.py has the corpus figures (docs/accuracy.md)."""
    sim = simulate(SimSpec(lift=lift, reps=4, load_kg=90, one_rm_kg=140, seed=51))
    reps = reps_of(analyse(sim, lift))
    assert len(reps) == 4
    errors: dict[str, list[float]] = {}
    for rep, true in paired(reps, sim.truth.reps):
        path = rep.path
        assert path is not None
        # From the rep's start to its end, on an even grid of about 50 Hz.
        assert path.t_s[0] == 0.0
        assert path.t_s[-1] == pytest.approx(rep.t_end - rep.t_start)
        assert np.diff(path.t_s) == pytest.approx(0.02, abs=0.001)
        assert path.height_m[0] == path.ap_m[0] == path.lateral_m[0] == 0.0
        t = rep.t_start + path.t_s
        position, velocity, _ = sim.kinematics(t)
        position -= position[0]
        # The simulator's tilt is + right end down; the absolute angle carries the
        # accelerometer's zero-g offset (about 1°), its change through the rep does not.
        true_tilt = -np.degrees(sim.plan.channels["tilt"].evaluate(t)[0])
        for name, error in {
            "height_m": path.height_m - position[:, 2],
            "velocity_mps": path.velocity_mps - velocity[:, 2],
            "ap_m": path.ap_m - position[:, 1],
            "lateral_m": path.lateral_m - position[:, 0],
            "tilt_deg": path.tilt_deg - true_tilt,
            "tilt_change_deg": (path.tilt_deg - path.tilt_deg[0]) - (true_tilt - true_tilt[0]),
        }.items():
            errors.setdefault(name, []).append(rms(error))
        assert np.ptp(path.height_m) == pytest.approx(true.rom_m, abs=0.02)
    # A touch-and-go rep keeps its uncorrected velocity (docs/accuracy.md): a centimetre or two.
    worst = {name: max(values) for name, values in errors.items()}
    typical = {name: float(np.mean(values)) for name, values in errors.items()}
    assert worst["height_m"] < 0.02 and typical["height_m"] < 0.01
    assert worst["velocity_mps"] < 0.03
    # Horizontal position is what the analysis achieves for drift: a little worse.
    assert worst["ap_m"] < 0.025 and typical["ap_m"] < 0.015
    assert worst["lateral_m"] < 0.015
    assert worst["tilt_deg"] < 2.5 and worst["tilt_change_deg"] < 0.3


def test_a_drifting_bar_path_shows_the_drift() -> None:
    """A lifter who lets the bar wander 8 cm forward: the path shows where and how far."""
    sim = simulate(SimSpec(lift="deadlift", reps=3, seed=52, faults=("bar_drift:0.8",)))
    for rep, true in paired(reps_of(analyse(sim, "deadlift")), sim.truth.reps):
        assert rep.path is not None
        assert np.ptp(rep.path.ap_m) == pytest.approx(true.drift_ap_m, abs=0.01)
        position = sim.kinematics(rep.t_start + rep.path.t_s)[0][:, 1]
        assert np.corrcoef(rep.path.ap_m, position)[0, 1] > 0.95


def session_messages(sim: Simulation, info: SessionInfo) -> list[Outgoing]:
    analysis = RepAnalysis(AnalysisSettings(lift=info.lift, load_kg=info.load_kg))
    session = Session(info)
    out: list[Outgoing] = []
    for chunk in sim.recording.split(50):
        out += session.messages(analysis.feed(chunk))
    return out + session.messages(analysis.finish())


@pytest.mark.parametrize("epoch_offset_s", [0.0, EPOCH_S])
def test_each_rep_is_followed_by_its_path_in_the_sessions_time_base(
    epoch_offset_s: float,
) -> None:
    sim = simulate(SimSpec(lift="squat", reps=3, seed=53))
    info = SessionInfo("g1", "bar1", "s1", "squat", "ana", 100.0, epoch_offset_s)
    messages = session_messages(sim, info)
    kinds = [type(m) for m in messages]
    assert kinds == [RepMessage, PathMessage] * 3 + [SetMessage]
    max_bytes = IngestSettings().max_payload_bytes
    for rep, path in zip(messages[0:6:2], messages[1:6:2], strict=True):
        assert isinstance(rep, RepMessage) and isinstance(path, PathMessage)
        assert path.msg_id == rep.msg_id + "/path"
        assert (path.set_index, path.rep_index, path.athlete) == (0, rep.rep_index, "ana")
        assert path.t_start == rep.t_start  # recording seconds in replay, epoch live
        true = sim.truth.reps[rep.rep_index]
        # A slow set-off from a still top is seen late by up to a tenth of a second or so.
        assert path.t_start - epoch_offset_s == pytest.approx(true.t_start, abs=0.15)
        assert path.t_s[-1] == pytest.approx(rep.t_end - rep.t_start, abs=1e-4)
        lengths = {len(getattr(path, name)) for name in ("t_s", "height_m", "ap_m")}
        lengths |= {len(getattr(path, n)) for n in ("lateral_m", "tilt_deg", "velocity_mps")}
        assert len(lengths) == 1  # on the wire the times are rounded: a sample either way
        assert abs(lengths.pop() - (50 * (rep.t_end - rep.t_start) + 1)) <= 1
        payload = encode(path)
        assert decode(payload) == path
        assert len(payload) < max_bytes / 10
        assert np.ptp(path.height_m) == pytest.approx(rep.rom_m, abs=0.01)


def _path(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "schema": "barbell.path/1",
        "msg_id": "g1/bar1/s1/s0/r2/path",
        "gym": "g1",
        "station": "bar1",
        "session_id": "s1",
        "lift": "rdl",
        "set_index": 0,
        "athlete": "ana",
        "rep_index": 2,
        "t_start": EPOCH_S,
        "t_s": [0.0, 0.02, 0.04],
        "height_m": [0.0, -0.01, -0.03],
        "ap_m": [0.0, 0.001, 0.002],
        "lateral_m": [0.0, 0.0, -0.001],
        "tilt_deg": [0.4, 0.5, 0.5],
        "velocity_mps": [0.0, -0.6, -0.9],
    }
    return body | changes


def _validate(body: dict[str, object], topic: str = "barbell/v1/g1/bar1/path") -> object:
    return validate(topic, json.dumps(body).encode(), EPOCH_S + 10, 256 * 1024, (86400.0, 3600.0))


def test_the_server_takes_a_path_on_its_topic_and_refuses_a_broken_one() -> None:
    assert isinstance(_validate(_path()), PathMessage)
    with pytest.raises(Refused, match="one entry per sample"):
        _validate(_path(tilt_deg=[0.4, 0.5]))
    with pytest.raises(Refused, match="must rise"):
        _validate(_path(t_s=[0.0, 0.04, 0.02]))
    with pytest.raises(Refused, match="PathMessage on a rep topic"):
        _validate(_path(), "barbell/v1/g1/bar1/rep")
    with pytest.raises(Refused, match="came on g1/bar2"):
        _validate(_path(), "barbell/v1/g1/bar2/path")
    # Only the last sample is in the future: the clock is judged by the latest point written.
    with pytest.raises(Refused, match="in the future"):
        _validate(_path(t_s=[0.0, 0.02, 4000.0]))


def test_a_path_is_one_point_per_sample_tied_to_its_rep() -> None:
    path = _validate(_path())
    assert isinstance(path, PathMessage)
    lines = lines_for(path)
    assert len(lines) == 3
    tags, fields, stamp = lines[1].split(" ")
    assert tags == "path,athlete=ana,gym=g1,lift=rdl,station=bar1"
    assert dict(f.split("=", 1) for f in fields.split(",")) == {
        "rep_msg_id": '"g1/bar1/s1/s0/r2"',
        "session_id": '"s1"',
        "set_index": "0i",
        "rep_index": "2i",
        "height_m": "-0.01",
        "ap_m": "0.001",
        "lateral_m": "0",  # a float: integers carry an i
        "tilt_deg": "0.5",
        "velocity_mps": "-0.6",
    }
    assert int(stamp) == 1_800_000_000_020_000_000  # t_start + t_s: a resend overwrites
