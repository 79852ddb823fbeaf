"""The recording format: exact round trips, streaming, and one-line errors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contract.columns import parse_block
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


def read_both_ways(path: Path) -> list[tuple[Chunk, int]]:
    """The recording and its duplicate count, read by columns and line by line."""
    out = []
    for columnar in (True, False):
        with RecordingReader(path, columnar=columnar) as reader:
            out.append((Chunk.concat(reader.chunks()), reader.duplicates))
    return out


def assert_same_rows(a: Chunk, b: Chunk) -> None:
    for name in ("t", "accel_mps2", "gyro_radps", "force_n"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize(
    "path",
    [
        Path(__file__).parent / "data" / "real" / "suzm10_dead__dead_andrew_set2_reps10_1.csv",
        None,  # a simulated set with load cells, NaN readings and a gap
    ],
)
def test_columns_and_lines_read_the_same_floats(tmp_path: Path, path: Path | None) -> None:
    if path is None:
        sim = simulate(SimSpec(reps=3, seed=5, events=("nan:2.0", "gone:3.0:0.2")))
        path = tmp_path / "sim.csv"
        write_recording(path, sim.header, [sim.recording])
    (columns, column_duplicates), (lines, line_duplicates) = read_both_ways(path)
    assert_same_rows(columns, lines)
    assert column_duplicates == line_duplicates
    assert len(columns) > 1000


def test_a_block_that_is_not_plain_numbers_reads_as_the_lines_do(tmp_path: Path) -> None:
    """Comments among the rows, spaces, an empty IMU cell read as NaN: the block is read line by
    line, and the next one by columns again."""
    plain = "".join(f"{i / 1000},0.1,0.2,9.8,0,0,0.01,{i},\n" for i in range(1, 40_000))
    path = tmp_path / "mixed.csv"
    path.write_text(
        "t,ax,ay,az,gx,gy,gz,fl,fr\n0,1,2,3,4,5,6,,\n# a note\n 0.0005 , 1,2,3,4,nan,6,7,8\n"
        + plain
    )
    (columns, column_duplicates), (lines, _) = read_both_ways(path)
    assert_same_rows(columns, lines)
    assert len(columns) == 40_001 and column_duplicates == 0
    assert np.isnan(columns.gyro_radps[1, 1])


def test_only_plain_blocks_are_parsed_by_columns() -> None:
    names, imu = ["t", "ax", "ay", "az", "gx", "gy", "gz", "fl", "fr"], 7
    plain = [b"0.5,1,2,3,4,5,6,7,\n", b"0.5,1,2,3,4,5,6,7,\n", b"0.6,1,2,3,4,5,6,,8\n"]
    block = parse_block(plain, names, tuple(names), imu, last_t=0.4)
    assert block is not None and block.duplicates == 1
    assert block.rows[:, 0].tolist() == [0.5, 0.6] and np.isnan(block.rows[1, 7])
    for lines in (
        [b"# a note\n", *plain],  # a comment
        [b"0.5,1,2,,4,5,6,7,8\n"],  # an empty IMU cell
        [b"0.5,1,2,3,4,5,6,7,8,9\n"],  # a stray field
        [b'0.5,"1",2,3,4,5,6,7,8\n'],  # a quoted number
    ):
        assert parse_block(lines, names, tuple(names), imu, last_t=0.4) is None
    assert parse_block(plain, names, tuple(names), imu, last_t=0.55) is None  # time goes back


def test_a_bad_row_far_into_a_file_is_named_by_its_line(tmp_path: Path) -> None:
    rows = [f"{i / 1000},0.1,0.2,9.8,0,0,0.01" for i in range(60_000)]
    rows[50_000] = "50.0,0.1,0.2,oops,0,0,0.01"
    path = tmp_path / "long.csv"
    path.write_text("t,ax,ay,az,gx,gy,gz\n" + "\n".join(rows) + "\n")
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    assert (caught.value.line, caught.value.column) == (50_002, 14)


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
