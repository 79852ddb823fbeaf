"""The `barbell` command as a user runs it: simulate, replay, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from contract.messages import RepMessage, SetMessage, decode
from edge.tare import Tare


def barbell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "barbell.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_simulate_then_replay_json_prints_one_rep_payload_per_line(tmp_path: Path) -> None:
    recording = tmp_path / "ht.csv"
    made = barbell("simulate", str(recording), "--reps", "4", "--seed", "21")
    assert made.returncode == 0, made.stderr
    truth = json.loads(recording.with_suffix(".truth.json").read_text())

    replayed = barbell("replay", str(recording), "--json")
    assert replayed.returncode == 0, replayed.stderr
    messages = [decode(line.encode()) for line in replayed.stdout.splitlines()]
    reps = [m for m in messages if isinstance(m, RepMessage)]
    sets = [m for m in messages if isinstance(m, SetMessage)]
    assert len(reps) == len(truth["reps"]) == 4
    assert messages == reps + sets and len(sets) == 1  # reps first, then the set
    assert all(
        json.loads(line)["schema"] == "barbell.rep/1" for line in replayed.stdout.splitlines()[:4]
    )
    for rep, true_rep in zip(reps, truth["reps"], strict=True):
        assert rep.lift == "hip_thrust"
        assert abs(rep.t_concentric_start - true_rep["t_concentric_start"]) < 0.15
        assert abs(rep.rom_m - true_rep["rom_m"]) < 0.03


def test_a_bad_recording_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,oops,4,5,6\n")
    result = barbell("replay", str(bad), "--json")
    assert result.returncode == 2
    assert result.stderr.strip() == f"barbell replay: {bad}:2:7: az 'oops' is not a number"
    assert result.stdout == ""


def test_replay_takes_a_folder_of_sessions_on_all_cores(tmp_path: Path) -> None:
    """A season: every recording in the folder and below it, in name order, each line naming
    its file and otherwise the payload replaying that file alone prints; a bad file is named
    with its error, the others still come out, and the exit code says one failed."""
    season = tmp_path / "season"
    (season / "march").mkdir(parents=True)
    names = [season / "a.csv", season / "march" / "b.csv", season / "march" / "c.csv"]
    for seed, name in enumerate(names, start=30):
        made = barbell("simulate", str(name), "--reps", "3", "--seed", str(seed), "--lift", "rdl")
        assert made.returncode == 0, made.stderr
    bad = season / "march" / "bad.csv"
    bad.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,oops,4,5,6\n")

    replayed = barbell("replay", str(season), "--json", "--jobs", "2")
    assert replayed.returncode == 2
    assert replayed.stderr.strip() == f"barbell replay: {bad}:2:7: az 'oops' is not a number"
    lines = [json.loads(line) for line in replayed.stdout.splitlines()]
    files = [line.pop("file") for line in lines]
    assert files == sorted(files) and set(files) == {str(name) for name in names}
    for name in names:
        alone = barbell("replay", str(name), "--json").stdout.splitlines()
        named = [line for line, file in zip(lines, files, strict=True) if file == str(name)]
        assert named == [json.loads(line) for line in alone] and len(alone) == 3 + 1

    table = barbell("replay", str(names[0]), str(season / "march" / "b.csv"))
    assert table.returncode == 0, table.stderr
    assert "2 recordings" in table.stdout and table.stdout.count("rdl") == 2


def test_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = barbell("replay", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "nope.csv" in result.stderr


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text('[sim]\nreps = "many"\n')
    result = barbell("edge", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "sim.reps" in result.stderr


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--reps", "-1"], "reps -1 must be at least 1"),
        (["--sets", "0"], "sets 0 must be at least 1"),
        (["--rate", "0"], "rate_hz 0.0 must be above 0"),
    ],
)
def test_a_simulation_that_cannot_be_is_one_line_and_exit_2(
    tmp_path: Path, argv: list[str], words: str
) -> None:
    result = barbell("simulate", str(tmp_path / "sim.csv"), *argv)
    assert (result.returncode, result.stderr.strip()) == (2, f"barbell simulate: {words}")


def test_files_that_cannot_be_written_or_read_are_one_line(tmp_path: Path) -> None:
    result = barbell("simulate", str(tmp_path / "no-folder" / "sim.csv"))
    assert (
        result.returncode == 2 and "no folder" in result.stderr and "Traceback" not in result.stderr
    )
    config = tmp_path / "edge.toml"
    config.write_bytes(b'[station]\ngym = "\xff"\n')
    result = barbell("edge", "--config", str(config), "--check-config")
    assert result.returncode == 1
    assert result.stderr.strip() == f"barbell edge: {config}: not UTF-8 text (invalid start byte)"


def test_rep_payloads_are_strictly_validated() -> None:
    good = {
        "schema": "barbell.rep/1",
        "msg_id": "m1",
        "gym": "g1",
        "station": "bar1",
        "session_id": "s1",
        "lift": "hip_thrust",
        "set_index": 0,
        "rep_index": 0,
        "t_start": 1.0,
        "t_concentric_start": 1.1,
        "t_concentric_end": 1.5,
        "t_end": 2.0,
        "rom_m": 0.25,
    }
    assert isinstance(decode(json.dumps(good).encode()), RepMessage)
    for bad in (
        {**good, "schema": "barbell.rep/9"},
        {**good, "gym": "a/b"},
        {**good, "rom_m": -1},
        {**good, "t_end": 0.5},
        {k: v for k, v in good.items() if k != "msg_id"},
    ):
        try:
            decode(json.dumps(bad).encode())
        except msgspec.ValidationError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_simulate_writes_labelled_faults_and_events(tmp_path: Path) -> None:
    recording = tmp_path / "rdl.csv"
    made = barbell(
        "simulate",
        str(recording),
        "--lift",
        "rdl",
        "--reps",
        "3",
        "--rate",
        "100",
        "--fault",
        "hip_shoot:0.5@3",
        "--event",
        "gone:2:0.3",
        "--no-load-cells",
    )
    assert made.returncode == 0, made.stderr
    truth = json.loads(recording.with_suffix(".truth.json").read_text())
    assert [r["faults"].get("hip_shoot") for r in truth["reps"]] == [None, None, 0.5]
    # The stall really slows that rep, so its velocity loss is labelled too.
    assert set(truth["reps"][2]["faults"]) <= {"hip_shoot", "velocity_loss"}
    assert [r["clean"] for r in truth["reps"]] == [True, True, False]
    assert truth["events"] == [{"kind": "gone", "t_start": 2.0, "t_end": 2.3}]
    assert "# rate_hz: 100.0" in recording.read_text() and ",fl,fr" not in recording.read_text()


def test_a_bad_fault_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = barbell("simulate", str(tmp_path / "x.csv"), "--fault", "wobble")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("barbell simulate: unknown fault 'wobble'")


def test_probe_names_each_chip_and_where_it_answers() -> None:
    result = barbell("probe", "--sensor", "emulated")
    assert result.returncode == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[1:] == [
        "0x68 ICM-42688-P",
        "0x70 TCA9548A I²C mux",
        "0x2a (mux channel 0) NAU7802",
        "0x2a (mux channel 1) NAU7802",
    ]


def test_record_writes_what_replay_reads(tmp_path: Path) -> None:
    recording = tmp_path / "live.csv"
    environment = {**os.environ, "BARBELL_SIM_REALTIME": "false", "BARBELL_SIM_REPS": "3"}
    made = subprocess.run(
        [sys.executable, "-m", "barbell.cli", "record", str(recording), "--sensor", "emulated"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert made.returncode == 0, made.stderr
    replayed = barbell("replay", str(recording), "--json")
    messages = [decode(line.encode()) for line in replayed.stdout.splitlines()]
    reps = [m for m in messages if isinstance(m, RepMessage)]
    assert len(reps) == 3


def test_check_config_prints_the_settings_or_one_line_and_exit_1(tmp_path: Path) -> None:
    good = tmp_path / "edge.toml"
    good.write_text('[station]\ngym = "g7"\n[faults.squat]\nbar_tilt_deg = 4.0\n')
    result = barbell("edge", "--config", str(good), "--check-config")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["station"]["gym"] == "g7" and shown["faults"]["squat"]["bar_tilt_deg"] == 4.0
    bad = tmp_path / "server.toml"
    bad.write_text("[influx]\napi = 3\n")
    result = barbell("server", "--config", str(bad), "--check-config")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "influx.api" in result.stderr


def test_the_demo_shows_reps_an_alert_advice_and_writes_each_report(tmp_path: Path) -> None:
    """A short, unpaced demo: both stations' reps, Ben's critical hip shoot alerted at once,
    advice after each set (each written over the last one's fields), the summary, and a PNG
    per athlete; and not one error from any part."""
    demo = ["demo", "--fast", "--sets", "3", "--reps", "4", "--out-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "barbell.cli", *demo],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    reps = [line for line in lines if " rep " in line]
    assert sum(line.startswith("bar1  ana    hip thrust") for line in reps) == 12
    assert sum(line.startswith("bar2  ben    RDL") for line in reps) == 12
    assert any(line.startswith("ALERT critical form_critical.hip_shoot: ben") for line in lines)
    assert sum(line.startswith("ADVICE ") for line in lines) == 6  # one per set
    assert "session summary" in result.stdout
    assert "ERROR" not in result.stdout + result.stderr and "Traceback" not in result.stderr
    for athlete in ("ana", "ben"):
        report = tmp_path / f"barbell-demo-{athlete}.png"
        assert f"report for {athlete}: {report.resolve()}" in result.stdout
        assert report.read_bytes()[:4] == b"\x89PNG"


def test_calibrating_the_zero_again_clears_an_earlier_tare(tmp_path: Path) -> None:
    """The tare is an offset taken off the cells' readings; a calibration measures the zero
    itself, so a tare kept from before would be taken off a second time."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "tare.json").write_text('{"offset_n": [180.0, 175.0]}')
    config = tmp_path / "edge.toml"
    config.write_text(f'[state]\ndir = "{state}"\n[sensor]\nkind = "emulated"\n')
    result = barbell("calibrate", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "the earlier tare is cleared" in result.stdout
    assert not (state / "tare.json").exists()
    assert not Tare(state).offset_n.any()
    result = barbell("calibrate", "--config", str(config))  # nothing to clear the second time
    assert result.returncode == 0 and "tare" not in result.stdout.split("saved to")[1]
