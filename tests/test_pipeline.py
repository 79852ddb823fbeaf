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
