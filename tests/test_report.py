"""`barbell report` on real parts: a simulated station's session goes edge → Mosquitto → server →
InfluxDB, and the report reads back the reps and faults the simulator put there."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from barbell.report import PathTrace, latest_session, load_session, write_report
from barbell.report_figure import CLEAN, CRITICAL, DPI, HEIGHT_IN, WARN, WIDTH_IN, draw
from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from contract.messages import RepMessage
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from edge.sources import sim_spec
from hardware.simulate import simulate
from server.config import InfluxSettings, ServerConfig
from server.influx import InfluxReader
from tests.helpers import rows, running_server, wait_for


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def barbell(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "barbell.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_a_stored_session_becomes_a_report_with_its_faulty_reps_marked(
    mosquitto: LocalMosquitto,
    influxdb: LocalInfluxDB,
    tmp_path: Path,
) -> None:
    influx = InfluxSettings(url=influxdb.url)
    station = EdgeConfig(
        mqtt=MqttSettings(url=mosquitto.url),
        station=StationSettings(gym="g1", id="bar3"),
        sim=SimSettings(
            lift="hip_thrust",
            reps=5,
            seed=5,
            athlete="ana",
            realtime=False,
            faults=["bar_tilt:1@3,4"],
        ),
        state=StateSettings(dir=tmp_path),
    )
    truth = simulate(sim_spec(station)).truth
    config = ServerConfig(mqtt=MqttSettings(url=mosquitto.url, client_id="t-server"), influx=influx)
    sent: list[RepMessage] = []
    with running_server(config):
        run_edge(station, threading.Event(), lambda m: isinstance(m, RepMessage) and sent.append(m))
        wait_for(lambda: len(rows(influxdb, 'SELECT "rom_m" FROM "rep"')) == len(sent) == 5)
        wait_for(lambda: rows(influxdb, 'SELECT * FROM "advice"') != [], what="the advice")

    reader = InfluxReader(influx)
    session_id = latest_session(reader, athlete="ana")
    assert session_id == sent[0].session_id == latest_session(reader, station="bar3")
    data = load_session(reader, session_id)
    # The data layer against the simulator's truth: every rep, and the tilted ones marked.
    assert [(r.set_index, r.rep_index) for r in data.reps] == [
        (t.set_index, t.rep_index) for t in truth.reps
    ]
    assert (
        [r.rep_index for r in data.faulty_reps]
        == [t.rep_index for t in truth.reps if "bar_tilt" in t.faults]
        == [2, 3]
    )
    assert {f.code for r in data.faulty_reps for f in r.faults} == {"bar_tilt"}
    assert (data.athlete, data.station, data.lift) == ("ana", "bar3", "hip_thrust")
    assert [r.mean_velocity_mps for r in data.reps] == [r.mean_velocity_mps for r in sent]
    assert any("bar tilt" in a.message for a in data.alerts)  # the critical tilt's alert
    assert data.advice and "need sets at" in data.advice

    # Every rep's bar path, as the edge sent it: it rises by the rep's ROM.
    assert [(p.set_index, p.rep_index) for p in data.paths] == [(0, i) for i in range(5)]
    for trace, rep in zip(data.paths, sent, strict=True):
        assert isinstance(trace, PathTrace)
        assert max(trace.height_m) == pytest.approx(rep.rom_m, abs=0.01)
    figure = draw(data)
    velocity = figure.axes[0]
    colours = [_hex(bar.get_facecolor()) for bar in velocity.patches]
    assert [c in (WARN, CRITICAL) for c in colours] == [False, False, True, True, False]
    assert set(colours) <= {CLEAN, WARN, CRITICAL}
    # A session stored before stations sent paths: the figure says so instead of failing.
    pathless = draw(dataclasses.replace(data, paths=[]))
    assert any("No bar path stored" in t.get_text() for t in _texts(pathless))
    out = write_report(data, tmp_path / "report.png")
    assert png_size(out) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))

    # The command: the athlete's latest session, to the file it names.
    made = barbell(
        "report", "--influx-url", influxdb.url, "--athlete", "ana", "--out", str(tmp_path / "c.png")
    )
    assert made.returncode == 0, made.stderr
    assert session_id in made.stdout and png_size(tmp_path / "c.png") == (1800, 1200)


def test_a_session_that_does_not_exist_is_one_line_and_exit_2(
    influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    out = tmp_path / "r.png"
    result = barbell("report", "--influx-url", influxdb.url, "--session", "nope", "--out", str(out))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "barbell report: session 'nope' not found: no reps stored for it"
    )
    assert not out.exists()
    result = barbell("report", "--influx-url", influxdb.url, "--athlete", "zed")
    assert result.returncode == 2
    assert result.stderr.strip() == "barbell report: no session found for athlete 'zed' in InfluxDB"


def _texts(figure):  # type: ignore[no-untyped-def]
    return [t for ax in figure.axes for t in ax.texts]


def _hex(rgba: tuple[float, float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3])
