"""An emulated NAU7802: power-up and calibration status bits, and conversions the simulator feeds.

It holds one result, as the chip does: a conversion not read before the next is overwritten.
"""

from __future__ import annotations

from hardware.emulated.bus import EmulatedChip
from hardware.nau7802 import REGISTERS, Scale

R = REGISTERS.by_name
PU = R["PU_CTRL"]


class EmulatedNAU7802(EmulatedChip):
    def __init__(self, scale: Scale | None = None) -> None:
        super().__init__()
        # A millinewton a count: the rail (±8.4 kN a side) is five times a 250 kg deadlift's
        # heaviest pull (1.7 kN), as a cell matched to its bar would be. (At 0.1 mN a count it
        # clipped at 840 N, which the drivers now report.)
        self.scale = scale or Scale(tare_counts=1200.0, n_per_count=1.0e-3)
        self.registers[R["REVISION_ID"].address] = 0x0F
        self.calibrated = False

    @property
    def converting(self) -> bool:
        value = self.registers[PU.address]
        return all(
            value & PU.field(f).mask for f in ("power_digital", "power_analog", "cycle_start")
        )

    def feed(self, force_n: float) -> None:
        """A new conversion of this side's force (N), if the chip is running."""
        if not self.converting:
            return
        counts = round(force_n / self.scale.n_per_count + self.scale.tare_counts)
        counts = max(-(1 << 23), min((1 << 23) - 1, counts))
        self.registers[R["ADCO"].address : R["ADCO"].address + 3] = counts.to_bytes(
            3, "big", signed=True
        )
        self.registers[PU.address] |= PU.field("conversion_ready").mask

    def read(self, register: int, length: int) -> bytes:
        data = super().read(register, length)
        if register == R["ADCO"].address:  # reading the result clears data-ready
            self.registers[PU.address] &= ~PU.field("conversion_ready").mask
        return data

    def write_byte(self, register: int, value: int) -> None:
        if register == PU.address:
            if value & PU.field("register_reset").mask:
                self.registers[:0x1F] = bytes(0x1F)
                self.calibrated = False
                return
            # The digital supply comes up at once; conversion-ready is read-only.
            ready = PU.field("power_ready").mask if value & PU.field("power_digital").mask else 0
            keep = self.registers[register] & PU.field("conversion_ready").mask
            value = (
                (value & ~(PU.field("power_ready").mask | PU.field("conversion_ready").mask))
                | ready
                | keep
            )
        if register == R["CTRL2"].address and value & R["CTRL2"].field("calibrate").mask:
            value &= ~R["CTRL2"].field("calibrate").mask  # calibration finishes at once here
            self.calibrated = True
        super().write_byte(register, value)
