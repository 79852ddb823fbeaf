"""The recording format: exact round trips, streaming, and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contract.recording import (
    Chunk,
    Header,
    RecordingError,
    RecordingReader,
    read_recording,
    write_recording,
)
from hardware.simulate import SimSpec, simulate


def test_a_simulated_recording_round_trips_exactly(tmp_path: Path) -> None:
    # NaN readings and a gap included: they must survive the file too.
    sim = simulate(SimSpec(reps=2, seed=3, events=("nan:3.0", "gone:4.0:0.2")))
    path = tmp_path / "set.csv"
    write_recording(path, sim.header, sim.recording.split(1000))
    header, back = read_recording(path)
    assert header == sim.header
    for name in ("t", "accel_mps2", "gyro_radps", "force_n"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sim.recording, name))


def test_irregular_time_gaps_and_no_load_cells(tmp_path: Path) -> None:
    t = np.array([0.0, 0.0011, 0.0019, 0.5, 0.5013])  # jitter and a half-second gap
    chunk = Chunk(t, np.tile([0.1, 0.2, 9.8], (5, 1)), np.zeros((5, 3)))
    path = tmp_path / "gap.csv"
    write_recording(path, Header(rate_hz=1000.0, has_force=False), [chunk])
    assert "fl" not in path.read_text()
    header, back = read_recording(path)
    assert header.has_force is False and back.force_n is None
    np.testing.assert_array_equal(back.t, t)


def test_the_spec_example_reads_with_its_annotations(tmp_path: Path) -> None:
    path = tmp_path / "spec.csv"
    path.write_text(
        "# format: barbell-recording/1\n"
        "# rate_hz: 1000            (nominal IMU rate; the t column is the truth)\n"
        "# lift: hip_thrust         (optional; see lift names below)\n"
        "# load_kg: 100             (optional; total plates + bar, if known)\n"
        "# firmware: 3.1\n"
        "t,ax,ay,az,gx,gy,gz,fl,fr\n"
        "0.000000,0.012,-0.031,9.806,0.0010,-0.0004,0.0002,490.1,491.3\n"
        "0.001000,0.015,-0.027,9.809,0.0012,-0.0003,0.0001,,\n"
    )
    header, chunk = read_recording(path)
    assert (header.rate_hz, header.lift, header.load_kg) == (1000.0, "hip_thrust", 100.0)
    assert header.extra == {"firmware": "3.1"}
    assert chunk.force_n is not None
    np.testing.assert_array_equal(chunk.force_n[0], [490.1, 491.3])
    assert np.isnan(chunk.force_n[1]).all()


def test_streaming_reads_in_chunks(tmp_path: Path) -> None:
    sim = simulate(SimSpec(reps=1, seed=4))
    path = tmp_path / "long.csv"
    write_recording(path, sim.header, [sim.recording])
    with RecordingReader(path) as reader:
        sizes = [len(c) for c in reader.chunks(1000)]
    assert max(sizes) == 1000 and sum(sizes) == len(sim.recording)


def test_a_repeated_stamp_is_a_duplicate_row_and_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n0,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n")
    with RecordingReader(path) as reader:
        chunk = Chunk.concat(reader.chunks())
        assert reader.duplicates == 1
    assert chunk.t.tolist() == [0.0, 0.01]


@pytest.mark.parametrize(
    "body, line, column, words",
    [
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,x3,4,5,6\n", 2, 7, "az 'x3' is not a number"),
        ("t,ax,ay,az,gx,gy,gz\n1,1,2,3,4,5,6\n0,1,2,3,4,5,6\n", 3, 1, "t 0 goes back (previous 1)"),
        ("t,ax,ay,az,gx,gz\n", 1, 1, "lacks column(s) gy"),
        ("# format: barbell-recording/9\nt,ax\n", 1, 1, "is not barbell-recording/1"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2\n", 2, 6, "row has 3 fields"),
        ("# rate_hz: fast\nt,ax,ay,az,gx,gy,gz\n", 1, 12, "rate_hz 'fast' is not a number"),
        ("# rate_hz: 0\nt,ax,ay,az,gx,gy,gz\n", 1, 12, "rate_hz 0 must be above 0"),
        ("# load_kg: -5\nt,ax,ay,az,gx,gy,gz\n", 1, 12, "load_kg -5 must be at least 0"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6,7\n", 2, 15, "row has 8 fields, the header 7"),
        ("t,ax,ay,az,gx,gy,gz\n-1,1,2,3,4,5,6\n", 2, 1, "t -1 is before the recording began"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n\udcff\n", 3, 1, "is not UTF-8 text"),
    ],
)
def test_a_bad_file_names_file_line_and_column(
    tmp_path: Path, body: str, line: int, column: int, words: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(body.encode(errors="surrogateescape"))  # \udcff: a lone 0xff byte
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value).startswith(f"{path}:{line}:{column}: ")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
