"""End to end on real parts: simulated bar → edge → Mosquitto → server → InfluxDB."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from edge.sources import sim_spec
from hardware.simulate import simulate
from server.config import InfluxSettings, ServerConfig
from server.influx import V1Writer
from server.ingest import Ingest
from tests.helpers import rows, wait_for


@pytest.mark.parametrize("reps, seed", [(6, 11), (3, 12)])
def test_every_simulated_rep_becomes_one_point(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, reps: int, seed: int, tmp_path: Path
) -> None:
    mqtt = MqttSettings(url=mosquitto.url)
    influx = InfluxSettings(url=influxdb.url)
    ingest = Ingest(ServerConfig(mqtt=mqtt, influx=influx), V1Writer(influx), client_id="t-ingest")
    ingest.start()
    try:
        sim = SimSettings(lift="hip_thrust", sets=1, reps=reps, seed=seed, realtime=False)
        station = EdgeConfig(
            mqtt=mqtt,
            station=StationSettings(gym="g1", id="bar1"),
            sim=sim,
            state=StateSettings(dir=tmp_path),
        )
        run_edge(station, threading.Event())
        truth = simulate(sim_spec(station))
        expected = len(truth.truth.reps)
        wait_for(lambda: len(rows(influxdb, 'SELECT * FROM "rep"')) >= expected, what="rep points")
        wait_for(lambda: len(rows(influxdb, 'SELECT * FROM "set"')) == 1, what="the set point")
        wait_for(lambda: _path_reps(influxdb) >= expected, what="the path points of every rep")
    finally:
        ingest.stop()

    points = rows(influxdb, 'SELECT * FROM "rep" GROUP BY *')
    assert len(points) == expected
    assert {(p["gym"], p["station"], p["lift"], p["athlete"]) for p in points} == {
        ("g1", "bar1", "hip_thrust", "sim")
    }
    assert sorted(p["rep_index"] for p in points) == list(range(expected))
    assert len({p["msg_id"] for p in points}) == expected
    for point, true_rep in zip(
        sorted(points, key=lambda p: p["rep_index"]), truth.truth.reps, strict=True
    ):
        assert point["rom_m"] == pytest.approx(true_rep.rom_m, abs=0.03)

    # Each rep's path: about 50 points a second from its start to its end, found by its msg_id.
    for point in points:
        path = rows(
            influxdb,
            f"SELECT * FROM \"path\" WHERE rep_msg_id = '{point['msg_id']}' GROUP BY *",
        )
        assert {(p["gym"], p["station"], p["lift"], p["athlete"]) for p in path} == {
            ("g1", "bar1", "hip_thrust", "sim")
        }
        assert {(p["set_index"], p["rep_index"]) for p in path} == {(0, point["rep_index"])}
        # round(50 × the rep's length) + 1 points, the length as the analysis timed it: the
        # stored times, offset by the epoch, may tip a length at a half-point the other way.
        assert len(path) - 1 == pytest.approx(50 * (point["t_end"] - point["t_start"]), abs=0.51)
        heights = [p["height_m"] for p in path]
        assert heights[0] == 0.0
        assert max(heights) == pytest.approx(point["rom_m"], abs=0.01)
        assert {"ap_m", "lateral_m", "tilt_deg", "velocity_mps", "session_id"} <= path[0].keys()


def _path_reps(influxdb: LocalInfluxDB) -> int:
    """How many reps have path points in InfluxDB."""
    found = rows(influxdb, 'SELECT count(distinct("rep_msg_id")) FROM "path"')
    return int(found[0]["count"]) if found else 0
