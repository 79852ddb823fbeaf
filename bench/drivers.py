"""What the drivers cost: CPU time to read one second of 1 kHz IMU data and both load cells,
through the real drivers, on the emulated bus. The simulator feeding the chips is left out; the
emulated chips answering is counted in, so the figure is an upper bound.

    .venv/bin/python bench/drivers.py [--seconds 20] [--drain-ms 50]
"""

from __future__ import annotations

import argparse
import time

from hardware.emulated.bar import EmulatedBar
from hardware.simulate import SimSpec, simulate

PI_SLOWER = {"Pi Zero 2 W": 25, "Pi 4": 9, "Pi 5": 3.5}  # per core, against this machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--drain-ms", type=float, default=50.0)
    args = parser.parse_args()
    sim = simulate(SimSpec(lift="squat", reps=3, seed=9_000_001, min_duration_s=args.seconds))
    bar = EmulatedBar()
    bar.sensor.setup()
    size = round(args.drain_ms)
    reading = feeding = 0.0
    samples = drains = 0
    transfers = bar.bus.transfers
    for chunk in sim.recording.split(size):
        started = time.perf_counter()
        bar.feed(chunk)  # the chips measuring: not the drivers' cost
        between = time.perf_counter()
        got = bar.sensor.read()
        reading += time.perf_counter() - between
        feeding += between - started
        samples += len(got)
        drains += 1
    seconds_of_data = samples / 1000
    per_second_ms = 1000 * reading / seconds_of_data
    print(f"{samples} samples in {drains} drains of {args.drain_ms:.0f} ms")
    print(
        f"drivers: {per_second_ms:.2f} ms of CPU per second of 1 kHz data "
        f"({100 * per_second_ms / 1000:.2f} % of a core here), "
        f"{(bar.bus.transfers - transfers) / seconds_of_data:.0f} bus transfers per second"
    )
    for pi, factor in PI_SLOWER.items():
        print(
            f"  on a {pi} (about {factor}× slower per core): ~{per_second_ms * factor:.0f} ms/s "
            f"({per_second_ms * factor / 10:.1f} % of a core)"
        )


if __name__ == "__main__":
    main()
