"""The real drivers against register-level emulated chips fed by the simulator."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from contract.errors import DeviceMissing, FifoOverflow, InputError, WrongDevice
from contract.messages import RepMessage
from contract.recording import Chunk
from edge.analysis import AnalysisSettings, Rep, RepAnalysis
from edge.config import EdgeConfig, SensorSettings, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from edge.sources import emulated, read_chunks, sim_spec
from edge.station import Station
from hardware import icm42688, nau7802
from hardware.calibration import Calibration, calibrate
from hardware.emulated.bar import EmulatedBar
from hardware.emulated.bus import EmulatedBus
from hardware.emulated.icm42688 import EmulatedICM42688
from hardware.emulated.nau7802 import EmulatedNAU7802
from hardware.icm42688 import ICM42688
from hardware.nau7802 import NAU7802, TCA9548A
from hardware.probe import probe
from hardware.registers import Field, Register, RegisterMap
from hardware.simulate import SimSpec, simulate
from server.config import InfluxSettings, ServerConfig
from server.influx import V1Writer
from server.ingest import Ingest
from tests.helpers import Listener, rows, wait_for


@pytest.mark.parametrize("registers", [icm42688.REGISTERS, nau7802.REGISTERS])
def test_register_maps_have_unique_addresses_and_disjoint_fields(registers: RegisterMap) -> None:
    addresses = [r.address for r in registers.by_name.values()]
    assert len(set(addresses)) == len(addresses)
    for register in registers.by_name.values():
        taken = 0
        for f in register.fields:
            assert not f.mask & taken, f"{register.name}.{f.name} shares a bit"
            taken |= f.mask


def test_a_bad_register_map_is_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        RegisterMap("X", (Register("A", 0x10), Register("B", 0x10)))
    with pytest.raises(ValueError, match="overlaps"):
        RegisterMap("X", (Register("A", 0x10, (Field("a", 0x03), Field("b", 0x06))),))


def imu_on_bus() -> tuple[EmulatedBus, EmulatedICM42688, ICM42688]:
    bus, chip = EmulatedBus(), EmulatedICM42688()
    bus.attach(icm42688.ADDRESS, chip)
    return bus, chip, ICM42688(bus, sleep=lambda s: None)


def test_setup_leaves_the_chip_as_the_datasheet_says() -> None:
    _, chip, imu = imu_on_bus()
    imu.setup()
    regs = {name: chip.registers[r.address] for name, r in icm42688.REGISTERS.by_name.items()}
    assert chip.resets == 1
    assert regs["GYRO_CONFIG0"] == 0x06 and regs["ACCEL_CONFIG0"] == 0x06  # ±2000 dps, ±16 g, 1 kHz
    assert regs["FIFO_CONFIG"] == 0x40  # stream to FIFO
    assert regs["FIFO_CONFIG1"] == 0x0F  # accel, gyro, temperature, timestamp
    assert regs["PWR_MGMT0"] == 0x0F  # gyro and accel in low-noise mode


def test_a_drain_decodes_the_simulated_samples_in_one_burst() -> None:
    sim = simulate(SimSpec(reps=1, seed=61, force_sps=None, events=("nan:2.5",)))
    bus, chip, imu = imu_on_bus()
    imu.setup()
    drains = []
    for piece in sim.recording.split(100):
        chip.feed(piece)
        before = bus.transfers
        drains.append(imu.drain())
        assert bus.transfers - before == 3  # status, count, then the whole FIFO at once
    t = np.concatenate([d.t for d in drains])
    accel = np.concatenate([d.accel_mps2 for d in drains])
    gyro = np.concatenate([d.gyro_radps for d in drains])
    np.testing.assert_array_equal(accel, sim.recording.accel_mps2)  # NaN where invalid, too
    np.testing.assert_array_equal(gyro, sim.recording.gyro_radps)
    elapsed = sim.recording.t - sim.recording.t[0]
    np.testing.assert_allclose(t - t[0], elapsed, atol=1e-6)  # µs timestamps, unwrapped


def test_no_device_is_a_clear_error() -> None:
    imu = ICM42688(EmulatedBus(), sleep=lambda s: None)
    with pytest.raises(DeviceMissing, match=r"no device answered at 0x68 on emulated /dev/i2c-1"):
        imu.setup()


def test_a_wrong_identity_names_what_was_read() -> None:
    _, chip, imu = imu_on_bus()
    chip.registers[icm42688.REGISTERS["WHO_AM_I"].address] = 0x12
    with pytest.raises(WrongDevice) as caught:
        imu.setup()
    assert str(caught.value) == (
        "no ICM-42688-P at 0x68 on emulated /dev/i2c-1: WHO_AM_I read 0x12"
    )


def test_an_overflow_is_reported_flushed_and_recovered_with_the_lost_time_in_t() -> None:
    recording = simulate(SimSpec(reps=1, seed=62, force_sps=None)).recording
    bar = EmulatedBar(load_cells=False)  # the IMU driver on the simulation's clock
    imu = bar.sensor.imu
    imu.setup()
    bar.feed(recording[:100])
    before = imu.drain()
    bar.feed(recording[100:600])  # half a second undrained: the 2 KB FIFO holds 128
    with pytest.raises(FifoOverflow, match="FIFO overflowed"):
        imu.drain()
    assert not bar.imu.fifo
    bar.feed(recording[600:650])
    after = imu.drain()
    assert after.t.size == 50
    lost_s = recording.t[600] - recording.t[99]
    assert after.t[0] - before.t[-1] == pytest.approx(lost_s, abs=1e-3)  # within a period
    np.testing.assert_allclose(np.diff(after.t), np.diff(recording.t[600:650]), atol=1e-6)


def test_a_chip_that_vanishes_leaves_the_lost_time_in_t() -> None:
    """Through the emulated station's source, which sets the driver up again after the outage."""
    config = EdgeConfig(
        station=StationSettings(gym="g1", id="bar4"),
        sensor=SensorSettings(kind="emulated"),
        sim=SimSettings(lift="squat", reps=2, seed=65, realtime=False, events=["gone:3:0.5"]),
    )
    truth = simulate(sim_spec(config)).recording
    reports: list[str] = []
    got = Chunk.concat(emulated(config, threading.Event(), reports.append))
    assert len(reports) == 1 and "no device answered" in reports[0]

    def index(row: int) -> int:  # where the simulation has the row the drivers gave
        same = (truth.accel_mps2 == got.accel_mps2[row]) & (truth.gyro_radps == got.gyro_radps[row])
        (at,) = np.flatnonzero(same.all(axis=1))
        return int(at)

    cut = int(np.diff(got.t).argmax())  # the last row before the outage
    start, resumed = index(0), index(cut + 1)
    kept = np.r_[start : start + cut + 1, resumed : resumed + len(got) - cut - 1]
    np.testing.assert_array_equal(got.accel_mps2, truth.accel_mps2[kept])  # the rows we think
    assert truth.t[resumed] - truth.t[kept[cut]] > 0.5  # the outage, and the drains it cut
    np.testing.assert_allclose(got.t - got.t[0], truth.t[kept] - truth.t[start], atol=1e-3)


def test_while_a_chip_is_away_every_drain_still_turns_the_daemons_loop() -> None:
    """The daemon feeds the systemd watchdog once per chunk: a cable off for longer than the
    unit's WatchdogSec (10 s) must not stop the chunks, or systemd kills a daemon that is only
    waiting for its chips."""
    bar = EmulatedBar(rate_hz=1000)
    spec = SimSpec(lift="squat", reps=1, seed=66, min_duration_s=21)
    pieces = list(simulate(spec).recording.split(50))[:400]  # 20 s of 50 ms drains
    away = range(20, 260)  # 12 s without the chips

    def drains() -> Iterator[None]:
        for i, piece in enumerate(pieces):
            bar.connect(i not in away)
            bar.feed(piece)
            yield

    reports: list[str] = []
    chunks = list(read_chunks(bar.sensor, drains(), reports.append, drain_s=0.05))
    assert len(chunks) == len(pieces)  # one a drain, chips or not
    assert not any(len(chunk) for chunk in chunks[away.start : away.stop])
    assert 5 <= len(reports) <= 10  # retried with back-off (0.1 s doubling to 5 s)
    assert all("retrying in" in report for report in reports)
    resumed = next(i for i in range(away.stop, len(chunks)) if len(chunks[i]))
    assert resumed - away.stop <= 100  # set up again within the longest back-off, 5 s
    assert all(len(chunk) for chunk in chunks[resumed:])


def test_a_real_bar_weighs_its_load_after_half_a_second_at_rest(tmp_path: Path) -> None:
    """The drivers read each cell once a drain (20 readings a second), not every conversion
    as the simulator gives them: the load must not wait for a count of readings that takes
    ten seconds to come."""
    config = EdgeConfig(
        sensor=SensorSettings(kind="emulated"),
        sim=SimSettings(lift="squat", reps=1, seed=3, load_kg=100.0, realtime=False),
        state=StateSettings(dir=tmp_path),
    )
    station = Station(config)
    for chunk in emulated(config, threading.Event(), lambda problem: None):
        station.feed(chunk)
        if station.analysis.resting_load_kg is not None:
            break
    assert station.analysis.resting_load_kg == pytest.approx(100.0, abs=0.5)
    assert float(chunk.t[-1]) <= 1.0  # the simulated bar rests from the start


def test_load_cells_behind_the_mux() -> None:
    bus = EmulatedBus()
    cells = [EmulatedNAU7802(), EmulatedNAU7802()]
    for channel, cell in enumerate(cells):
        bus.attach(nau7802.ADDRESS, cell, channel=channel)
    unselected = NAU7802(bus, sleep=lambda s: None)
    with pytest.raises(DeviceMissing, match="0x2a"):
        unselected.setup()  # no mux channel chosen: nothing answers
    mux = TCA9548A(bus)
    drivers = [
        NAU7802(bus, scale=cell.scale, select=lambda c=c: mux.select(c), sleep=lambda s: None)
        for c, cell in enumerate(cells)
    ]
    for driver, cell in zip(drivers, cells, strict=True):
        driver.setup()
        assert cell.calibrated and cell.converting
        ctrl1 = cell.registers[nau7802.REGISTERS["CTRL1"].address]
        ctrl2 = cell.registers[nau7802.REGISTERS["CTRL2"].address]
        assert ctrl1 & 0x07 == 7 and ctrl2 >> 4 & 0x07 == 7  # gain 128, 320 SPS
    assert drivers[0].read_newtons() is None  # nothing converted yet
    cells[0].feed(512.3)
    cells[1].feed(498.7)
    assert drivers[0].read_newtons() == pytest.approx(512.3, abs=1e-4)
    assert drivers[1].read_newtons() == pytest.approx(498.7, abs=1e-4)
    assert drivers[0].read_newtons() is None  # read once, then not ready again


def test_a_chip_that_is_not_a_nau7802_is_refused() -> None:
    bus, cell = EmulatedBus(), EmulatedNAU7802()
    bus.attach(nau7802.ADDRESS, cell)
    cell.registers[nau7802.REGISTERS["REVISION_ID"].address] = 0x03
    with pytest.raises(WrongDevice, match="REVISION_ID read 0x3"):
        NAU7802(bus, sleep=lambda s: None).setup()


def test_the_emulated_bar_gives_the_reps_the_simulation_gives() -> None:
    sim = simulate(SimSpec(lift="rdl", reps=5, seed=63))
    bar = EmulatedBar()
    bar.sensor.setup()
    direct = RepAnalysis(AnalysisSettings(lift="rdl"))
    through = RepAnalysis(AnalysisSettings(lift="rdl"))
    reps_direct, reps_through = [], []
    for piece in sim.recording.split(50):
        bar.feed(piece)
        reps_through += [e for e in through.feed(bar.sensor.read()) if isinstance(e, Rep)]
        reps_direct += [e for e in direct.feed(piece) if isinstance(e, Rep)]
    assert len(reps_through) == len(reps_direct) == 5
    for a, b in zip(reps_through, reps_direct, strict=True):
        assert a.mean_velocity_mps == pytest.approx(b.mean_velocity_mps, abs=0.002)
        assert a.asymmetry_pct == pytest.approx(b.asymmetry_pct, abs=0.5)


def test_emulated_chips_to_influxdb_end_to_end(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    mqtt = MqttSettings(url=mosquitto.url)
    influx = InfluxSettings(url=influxdb.url)
    ingest = Ingest(ServerConfig(mqtt=mqtt, influx=influx), V1Writer(influx), client_id="t-emul")
    ingest.start()
    station = EdgeConfig(
        mqtt=mqtt,
        station=StationSettings(gym="g1", id="bar2"),
        sensor=SensorSettings(kind="emulated"),
        sim=SimSettings(lift="hip_thrust", reps=4, seed=64, realtime=False),
        state=StateSettings(dir=tmp_path),
    )
    try:
        run_edge(station, threading.Event())
        expected = len(simulate(sim_spec(station)).truth.reps)
        wait_for(lambda: len(rows(influxdb, 'SELECT * FROM "rep"')) >= expected, what="reps")
    finally:
        ingest.stop()
    assert len(rows(influxdb, 'SELECT * FROM "rep"')) == expected == 4


def test_a_chip_that_vanishes_mid_set_is_reported_retried_and_recovered(
    mosquitto: LocalMosquitto, tmp_path: Path
) -> None:
    mqtt = MqttSettings(url=mosquitto.url)
    watcher = Listener(mosquitto.url, "t-health", "barbell/v1/g1/bar3/health")
    station = EdgeConfig(
        mqtt=mqtt,
        station=StationSettings(gym="g1", id="bar3"),
        sensor=SensorSettings(kind="emulated"),
        # Mid-rep: that rep is lost. (At 16 s, in the rest before a rep, the analysis loses the
        # next rep too: after a gap it needs more rest to find the bar than that rep leaves.)
        sim=SimSettings(lift="squat", reps=6, seed=65, realtime=False, events=["gone:15:0.5"]),
        state=StateSettings(dir=tmp_path),
    )
    reps: list[RepMessage] = []
    try:
        run_edge(
            station,
            threading.Event(),
            on_message=lambda m: reps.append(m) if isinstance(m, RepMessage) else None,
        )
        wait_for(lambda: bool(watcher.health), what="a health report")
    finally:
        watcher.close()
    report = watcher.health[0].sensor_error
    assert report is not None
    assert "no device answered at 0x68 on emulated /dev/i2c-1" in report
    assert "retrying" in report
    truth = simulate(sim_spec(station)).truth.reps
    after = [t for t in truth if t.t_start > 15.5]
    assert after and len(reps) >= len(truth) - 1  # at most the rep the outage cut is lost


def test_calibration_finds_gyro_bias_tare_and_scale(tmp_path: Path) -> None:
    spec = SimSpec(lift="hip_thrust", reps=1, seed=66, load_kg=100.0)
    rest = simulate(spec).recording[:1500]  # the bar lies still before the set
    unloaded = Chunk(
        rest.t, rest.accel_mps2, rest.gyro_radps, np.where(np.isnan(rest.force_n), np.nan, 0.0)
    )

    def fed(bar: EmulatedBar, recording: Chunk) -> Callable[[], None]:
        pieces = recording.split(50)
        return lambda: bar.feed(next(pieces))

    bar = EmulatedBar()
    bar.sensor.setup()
    tared = calibrate(bar.sensor, Calibration(), 25, None, fed(bar, unloaded))
    np.testing.assert_allclose(
        tared.gyro_bias_radps, rest.gyro_radps[:1250].mean(axis=0), atol=2e-4
    )
    for cell, chip in zip(tared.cells, bar.cells, strict=True):
        assert cell.tare_counts == pytest.approx(chip.scale.tare_counts, abs=1)
    bar = EmulatedBar()
    bar.sensor.setup()
    scaled = calibrate(bar.sensor, tared, 25, spec.load_kg, fed(bar, rest))
    for cell, chip in zip(scaled.cells, bar.cells, strict=True):
        assert cell.n_per_count == pytest.approx(chip.scale.n_per_count, rel=0.02)
    path = tmp_path / "state" / "calibration.json"
    scaled.save(path)
    assert Calibration.load(path) == scaled


def test_calibration_refuses_a_moving_bar() -> None:
    sim = simulate(SimSpec(lift="squat", reps=2, seed=67))
    lifting = sim.recording[sim.recording.t.searchsorted(sim.truth.reps[0].t_start) :]
    bar = EmulatedBar()
    bar.sensor.setup()
    pieces = lifting.split(50)
    with pytest.raises(InputError, match="moved"):
        calibrate(bar.sensor, Calibration(), 25, None, lambda: bar.feed(next(pieces)))


def test_probe_is_not_fooled_by_a_mux_left_on_a_channel() -> None:
    bar = EmulatedBar()
    bar.bus.write_byte(nau7802.MUX_ADDRESS, 1 << 1)  # as a station that ran before leaves it
    where = [(found.address, found.channel) for found in probe(bar.bus)]
    assert where == [(0x68, None), (0x70, None), (0x2A, 0), (0x2A, 1)]


def test_a_load_cell_at_its_rail_is_reported_once_and_its_force_left_out() -> None:
    """Twice the cell's range on the left (dropped plates, a wire off): the ADC clips at its
    rail, which is no force. Said once as it begins, and again if it comes back."""
    bar = EmulatedBar(rate_hz=1000)
    spec = SimSpec(lift="squat", reps=1, seed=67, min_duration_s=3)
    pieces = list(simulate(spec).recording.split(50))[:40]  # 2 s of 50 ms drains
    rail_n = ((1 << 23) - bar.cells[0].scale.tare_counts) * bar.cells[0].scale.n_per_count
    overloaded = set(range(10, 20)) | set(range(30, 35))

    def drains() -> Iterator[None]:
        for i, piece in enumerate(pieces):
            assert piece.force_n is not None
            force = piece.force_n.copy()
            if i in overloaded:
                force[~np.isnan(force[:, 0]), 0] = 2 * rail_n
            bar.feed(Chunk(piece.t, piece.accel_mps2, piece.gyro_radps, force))
            yield

    reports: list[str] = []
    chunks = list(read_chunks(bar.sensor, drains(), reports.append, drain_s=0.05))
    assert (
        reports
        == ["load cell left at the ADC's rail (overloaded, or a wire off): its force is left out"]
        * 2
    )
    for i, chunk in enumerate(chunks[1:], 1):
        assert chunk.force_n is not None
        left, right = chunk.force_n[-1]
        assert np.isnan(left) == (i in overloaded), i
        assert not np.isnan(right)
