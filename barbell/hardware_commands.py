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
