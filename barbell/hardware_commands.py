"""`barbell probe` and `barbell record`: the bar's chips from the command line."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.console import Console

from contract.recording import Header, RecordingWriter
from edge.config import EdgeConfig
from edge.sources import open_source
from hardware.bus import I2CBus
from hardware.probe import probe


def probe_command(sensor: str, bus_number: int) -> int:
    bus: I2CBus
    if sensor == "emulated":
        from hardware.emulated.bar import EmulatedBar

        bus = EmulatedBar().bus
    else:
        from hardware.bus import SMBusI2C

        bus = SMBusI2C(bus_number)
    found = probe(bus)
    console = Console()
    console.print(f"{bus.name}: {len(found)} device(s)")
    for device in found:
        where = f"0x{device.address:02x}" + (
            "" if device.channel is None else f" (mux channel {device.channel})"
        )
        console.print(f"  {where:<24} {device.what}")
    return 0 if found else 1


def record_command(config: EdgeConfig, output: Path, seconds: float | None) -> int:
    """Live sensor data to a recording file, until `seconds` pass or Ctrl-C."""
    header = Header(rate_hz=config.sensor.rate_hz, lift=config.sim.lift, athlete=config.sim.athlete)
    deadline = None if seconds is None else time.monotonic() + seconds
    errors = Console(stderr=True)
    samples = 0
    with RecordingWriter(output, header) as writer:
        for chunk in open_source(config, threading.Event(), errors.print):
            writer.write(chunk)
            samples += len(chunk)
            if deadline is not None and time.monotonic() > deadline:
                break
    print(f"wrote {output} ({samples} samples)")
    return 0


def calibrate_command(config: EdgeConfig, known_kg: float | None, seconds: float) -> int:
    """Measure at rest and save: the gyro bias and the cells' tare, or with --known-kg their
    scale. An emulated bar is measured during its simulated set's lead-in, with plates on."""
    from edge.sources import CALIBRATION_FILE, sim_spec
    from edge.tare import Tare
    from hardware.calibration import Calibration, calibrate

    path = config.state.dir / CALIBRATION_FILE
    previous = Calibration.load(path)
    drain_s = config.sensor.drain_s
    drains = max(10, round(seconds / drain_s))
    if config.sensor.kind == "emulated":
        from hardware.emulated.bar import EmulatedBar
        from hardware.simulate import simulate

        bar = EmulatedBar(rate_hz=int(config.sensor.rate_hz))
        sensor = bar.sensor
        pieces = simulate(sim_spec(config)).recording.split(round(drain_s * config.sensor.rate_hz))

        def between() -> None:  # the simulated bar lies still before its set
            bar.feed(next(pieces))

    else:
        from hardware.bar_sensor import open_bar

        sensor = open_bar(
            config.sensor.bus, int(config.sensor.rate_hz), (0.0, 0.0, 0.0), previous.scales()
        )

        def between() -> None:  # the chips fill their FIFOs meanwhile
            time.sleep(drain_s)

    sensor.setup()
    result = calibrate(sensor, previous, drains, known_kg, between)
    result.save(path)
    # The zero just measured is the cells' zero: a tare kept from before would be taken off it
    # a second time.
    cleared = known_kg is None and Tare(config.state.dir).clear()
    bias = ", ".join(f"{v:+.4f}" for v in result.gyro_bias_radps)
    print(
        f"gyro bias ({bias}) rad/s; cells: "
        + "; ".join(
            f"tare {c.tare_counts:.0f} counts, {c.n_per_count:.3e} N/count" for c in result.cells
        )
        + f"; saved to {path}"
        + ("; the earlier tare is cleared: this is the cells' zero now" if cleared else "")
    )
    return 0
