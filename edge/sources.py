"""Where the daemon's samples come from: chunks in recording units, as FIFO drains arrive."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from contract.errors import ConfigError, DeviceError
from contract.recording import Chunk
from edge.config import EdgeConfig
from hardware.simulate import SimSpec, simulate

DRAIN_S = 0.05  # a FIFO drain every 50 ms, as the real driver will do
RETRY_S, MAX_RETRY_S = 0.1, 5.0  # back-off when a chip stops answering

log = logging.getLogger(__name__)


def sim_spec(config: EdgeConfig) -> SimSpec:
    """The simulator's input for a `sim` or `emulated` station."""
    sim = config.sim
    return SimSpec(
        lift="hip_thrust" if sim.lift == "auto" else sim.lift,
        sets=sim.sets,
        reps=sim.reps,
        load_kg=sim.load_kg,
        seed=sim.seed,
        rate_hz=config.sensor.rate_hz,
        athlete=sim.athlete,
        faults=tuple(sim.faults),
    )


def simulated(config: EdgeConfig, stop: threading.Event) -> Iterator[Chunk]:
    """The simulator's session, paced in real time unless `sim.realtime` is off."""
    recording = simulate(sim_spec(config)).recording
    size = max(1, int(DRAIN_S * config.sensor.rate_hz))
    started = time.monotonic()
    for chunk in recording.split(size):
        if stop.is_set():
            return
        if config.sim.realtime:
            stop.wait(max(0.0, started + float(chunk.t[-1]) - time.monotonic()))
        yield chunk


def emulated(config: EdgeConfig, stop: threading.Event) -> Iterator[Chunk]:
    """The simulator's session through register-level emulated chips and the real drivers.

    A chip that stops answering is reported and set up again with a growing back-off; the
    motion it interrupted shows as a gap, which the analysis reports and does not measure.
    """
    from hardware.emulated.bar import EmulatedBar

    bar = EmulatedBar(rate_hz=int(config.sensor.rate_hz))
    ready = False
    backoff = RETRY_S
    for chunk in simulated(config, stop):
        bar.feed(chunk)
        try:
            if not ready:
                bar.sensor.setup()
                ready, backoff = True, RETRY_S
            yield bar.sensor.read()
        except DeviceError as exc:
            log.warning("%s; retrying in %.1f s", exc, backoff)
            ready = False
            stop.wait(backoff if config.sim.realtime else 0.0)
            backoff = min(2 * backoff, MAX_RETRY_S)


def open_source(config: EdgeConfig, stop: threading.Event) -> Iterator[Chunk]:
    if config.sensor.kind == "sim":
        return simulated(config, stop)
    if config.sensor.kind == "emulated":
        return emulated(config, stop)
    raise ConfigError(
        f"sensor.kind {config.sensor.kind!r} is not available yet; use 'sim' or 'emulated'"
    )
