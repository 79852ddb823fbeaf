"""The bar's sensors together: the IMU's FIFO and the two load cells, as recording-format chunks.

One chunk per FIFO drain. Each load cell is read once a drain (its newest conversion, placed on
the drain's last row), so at 20 drains a second the cells arrive at 20 SPS; reading them at
their full 320 SPS needs their data-ready line (next: docs/hardware.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contract.recording import Chunk
from hardware.icm42688 import ICM42688
from hardware.nau7802 import NAU7802, Scale

SIDES = ("left", "right")


class BarSensor:
    def __init__(
        self,
        imu: ICM42688,
        cells: Sequence[NAU7802] = (),
        gyro_bias_radps: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> None:
        """`cells` is (left, right), or empty for a bar without load cells; the gyro bias is
        what `barbell calibrate` measured at rest."""
        self.imu, self.cells = imu, tuple(cells)
        self.gyro_bias_radps = np.asarray(gyro_bias_radps, dtype=float)

    def setup(self) -> None:
        self.imu.setup()
        for cell in self.cells:
            cell.setup()

    def read(self) -> Chunk:
        drain = self.imu.drain()
        force = None
        if self.cells:
            force = np.full((drain.t.size, 2), np.nan)
            if drain.t.size:
                for side, cell in enumerate(self.cells):
                    newtons = cell.read_newtons()
                    if newtons is not None:
                        force[-1, side] = newtons
        return Chunk(drain.t, drain.accel_mps2, drain.gyro_radps - self.gyro_bias_radps, force)

    @property
    def saturated(self) -> tuple[str, ...]:
        """The load cells whose newest conversion sat on the ADC's rail ("left", "right")."""
        return tuple(SIDES[i] for i, cell in enumerate(self.cells) if cell.saturated)


def open_bar(
    bus_number: int, rate_hz: int, gyro_bias_radps: Sequence[float], scales: Sequence[Scale]
) -> BarSensor:
    """The composition root's one opening of /dev/i2c-N: the IMU and both cells behind the mux,
    with their calibration."""
    from functools import partial

    from hardware.bus import SMBusI2C
    from hardware.nau7802 import TCA9548A

    bus = SMBusI2C(bus_number)
    mux = TCA9548A(bus)
    cells = [
        NAU7802(bus, scale=scale, select=partial(mux.select, channel))
        for channel, scale in enumerate(scales)
    ]
    return BarSensor(ICM42688(bus, rate_hz=rate_hz), cells, gyro_bias_radps)
