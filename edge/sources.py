"""Where the daemon's samples come from: chunks in recording units, as FIFO drains arrive."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

import numpy as np

from contract.errors import DeviceError
from contract.recording import Chunk
from edge.config import EdgeConfig
from hardware.bar_sensor import BarSensor

if TYPE_CHECKING:
    from hardware.simulate import SimSpec

RETRY_S, MAX_RETRY_S = 0.1, 5.0  # back-off when a chip stops answering

Report = Callable[[str], None]
NOTHING = Chunk(np.empty(0), np.empty((0, 3)), np.empty((0, 3)))  # a drain with no chip to read
CALIBRATION_FILE = "calibration.json"  # in the state dir, written by `barbell calibrate`


def sim_spec(config: EdgeConfig) -> SimSpec:
    """The simulator's input for a `sim` or `emulated` station."""
    from hardware.simulate import SimSpec  # only simulated stations load the simulator (scipy)

    sim = config.sim
    return SimSpec(
        lift="hip_thrust" if sim.lift == "auto" else sim.lift,
        sets=sim.sets,
        reps=sim.reps,
        load_kg=sim.load_kg,
        set_loads_kg=tuple(sim.set_loads_kg),
        seed=sim.seed,
        rate_hz=config.sensor.rate_hz,
        athlete=sim.athlete,
        faults=tuple(sim.faults),
        events=tuple(sim.events),
    )


def _drain_size(config: EdgeConfig) -> int:
    return max(1, int(config.sensor.drain_s * config.sensor.rate_hz))


def _paced(chunks: Iterable[Chunk], config: EdgeConfig, stop: threading.Event) -> Iterator[Chunk]:
    """FIFO-sized pieces, paced in real time unless `sim.realtime` is off."""
    started = time.monotonic()
    for chunk in chunks:
        if stop.is_set():
            return
        if config.sim.realtime:
            stop.wait(max(0.0, started + float(chunk.t[-1]) - time.monotonic()))
        yield chunk


def simulated(config: EdgeConfig, stop: threading.Event, report: Report) -> Iterator[Chunk]:
    """The simulator's session as a sensor would deliver it."""
    from hardware.simulate import simulate

    recording = simulate(sim_spec(config)).recording
    yield from _paced(recording.split(_drain_size(config)), config, stop)


def emulated(config: EdgeConfig, stop: threading.Event, report: Report) -> Iterator[Chunk]:
    """The simulator's session through register-level emulated chips and the real drivers.

    The simulation runs in a process of its own and hands over one FIFO's worth at a time, so
    this process holds what a daemon on real chips holds (bench/daemon.py measures it). The
    simulation's `gone` events unplug the chips from the bus, to show what a loose cable does.
    """
    from hardware.emulated.bar import EmulatedBar

    bar = EmulatedBar(rate_hz=int(config.sensor.rate_hz))
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no copy of this one
    receiving, sending = spawn.Pipe(duplex=False)
    simulator = spawn.Process(
        target=_simulate_into,
        args=(config, _drain_size(config), sending),
        name="barbell-simulator",
        daemon=True,
    )
    simulator.start()
    sending.close()  # the child's end: if the child dies, recv() raises EOFError here

    def received() -> Any:
        item = receiving.recv()
        if isinstance(item, BaseException):
            raise item  # a bad simulation setting, raised as if simulated here
        return item

    def drained() -> Iterator[None]:
        outages: list[tuple[float, float]] = received()
        for chunk in _paced(iter(received, None), config, stop):
            first, last = float(chunk.t[0]), float(chunk.t[-1])
            bar.connect(not any(start <= last and first < end for start, end in outages))
            bar.feed(chunk)
            yield

    try:
        yield from read_chunks(bar.sensor, drained(), report, config.sensor.drain_s)
    finally:
        receiving.close()
        simulator.terminate()
        simulator.join()


def _simulate_into(config: EdgeConfig, size: int, sending: Connection) -> None:
    """In the simulator's process: the outages, then the session a FIFO drain at a time."""
    from hardware.simulate import simulate

    try:
        simulation = simulate(sim_spec(config))
    except Exception as exc:
        sending.send(exc)
        return
    sending.send([(e.t_start, e.t_end) for e in simulation.truth.events if e.kind == "gone"])
    for chunk in simulation.recording.split(size):
        sending.send(chunk)
    sending.send(None)


def i2c(config: EdgeConfig, stop: threading.Event, report: Report) -> Iterator[Chunk]:
    """The bar's chips on /dev/i2c-N, drained every `sensor.drain_s`."""
    from hardware.bar_sensor import open_bar
    from hardware.calibration import Calibration

    calibration = Calibration.load(config.state.dir / CALIBRATION_FILE)
    sensor = open_bar(
        config.sensor.bus,
        int(config.sensor.rate_hz),
        calibration.gyro_bias_radps,
        calibration.scales(),
    )

    def drained() -> Iterator[None]:
        while not stop.wait(config.sensor.drain_s):
            yield

    yield from read_chunks(sensor, drained(), report, config.sensor.drain_s)


def read_chunks(
    sensor: BarSensor, drains: Iterator[None], report: Report, drain_s: float
) -> Iterator[Chunk]:
    """One chunk per drain. A chip that stops answering is reported and set up again with a
    growing back-off; the motion it interrupted shows as a gap, which the analysis reports and
    does not measure. Meanwhile each drain gives an empty chunk, so the daemon's loop goes on:
    the watchdog is fed, health reports the rate falling to nothing, commands are taken."""
    ready, backoff_s, idle = False, RETRY_S, 0
    saturated: tuple[str, ...] = ()  # said once as it begins, not at every drain
    for _ in drains:
        if idle:
            idle -= 1
            yield NOTHING
            continue
        try:
            if not ready:
                sensor.setup()
                ready = True
            chunk = sensor.read()
            backoff_s = RETRY_S  # only a good read ends the back-off: a chip can set up and fail
        except DeviceError as exc:
            report(f"{exc}; retrying in {backoff_s:.1f} s")
            ready = False
            idle = max(0, round(backoff_s / drain_s) - 1)
            backoff_s = min(2 * backoff_s, MAX_RETRY_S)
            yield NOTHING
        else:
            if sensor.saturated and sensor.saturated != saturated:
                sides = " and ".join(sensor.saturated)
                report(f"load cell {sides} at the ADC's rail (overloaded, or a wire off): "
                       "its force is left out")  # fmt: skip
            saturated = sensor.saturated
            yield chunk


def open_source(config: EdgeConfig, stop: threading.Event, report: Report) -> Iterator[Chunk]:
    """The configured sensor; `report` hears of its faults (the daemon logs and publishes them)."""
    if config.sensor.kind == "sim":
        return simulated(config, stop, report)
    if config.sensor.kind == "emulated":
        return emulated(config, stop, report)
    return i2c(config, stop, report)
