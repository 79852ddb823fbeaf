"""A whole emulated bar: the ICM-42688-P and two NAU7802s behind a TCA9548A, on one emulated
bus, fed by the simulator. The real drivers read it exactly as they read a Pi's chips."""

from __future__ import annotations

from functools import partial

import numpy as np

from contract.recording import Chunk
from hardware.bar_sensor import BarSensor
from hardware.emulated.bus import EmulatedBus
from hardware.emulated.icm42688 import EmulatedICM42688
from hardware.emulated.nau7802 import EmulatedNAU7802
from hardware.icm42688 import ADDRESS as IMU_ADDRESS
from hardware.icm42688 import ICM42688
from hardware.nau7802 import ADDRESS as CELL_ADDRESS
from hardware.nau7802 import NAU7802, TCA9548A, Scale


class EmulatedBar:
    def __init__(self, rate_hz: int = 1000, load_cells: bool = True) -> None:
        self.bus = EmulatedBus()
        self.fed_s = 0.0  # simulation time (s) of the newest sample fed: the chips' now
        self.imu = EmulatedICM42688()
        self.bus.attach(IMU_ADDRESS, self.imu)
        self.cells = [EmulatedNAU7802(), EmulatedNAU7802()] if load_cells else []
        for channel, cell in enumerate(self.cells):
            self.bus.attach(CELL_ADDRESS, cell, channel=channel)
        mux = TCA9548A(self.bus)
        drivers = [
            # The driver is told the chip's scale, as `barbell calibrate` would have measured it.
            NAU7802(
                self.bus,
                scale=Scale(cell.scale.tare_counts, cell.scale.n_per_count),
                select=partial(mux.select, channel),
                sleep=lambda s: None,
            )
            for channel, cell in enumerate(self.cells)
        ]
        # The IMU driver's clock is the simulation's, so a run does not depend on wall time.
        imu = ICM42688(self.bus, rate_hz=rate_hz, sleep=lambda s: None, clock=lambda: self.fed_s)
        self.sensor = BarSensor(imu, drivers)

    def connect(self, connected: bool) -> None:
        """Plug the chips into the bus, or pull them out as a loose cable would."""
        for chip in [self.imu, *self.cells]:
            chip.present = connected

    def feed(self, chunk: Chunk) -> None:
        """What the chips measured during this stretch of the simulation."""
        if len(chunk):
            self.fed_s = float(chunk.t[-1])
        self.imu.feed(chunk)
        if chunk.force_n is None:
            return
        for side, cell in enumerate(self.cells):
            for newtons in chunk.force_n[:, side][~np.isnan(chunk.force_n[:, side])]:
                cell.feed(float(newtons))
