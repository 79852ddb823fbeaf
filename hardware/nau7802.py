"""Nuvoton NAU7802: 24-bit load-cell ADC, one per side of the bar, both at 0x2A behind a TCA9548A.

Power-up: register reset, digital then analog power, internal LDO, gain 128, 320 SPS, AFE
offset calibration, then conversions. A reading is one 3-byte burst when data is ready.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from contract.errors import DeviceError, WrongDevice
from hardware.bus import I2CBus
from hardware.registers import Chip, Field, Register, RegisterMap

ADDRESS = 0x2A
MUX_ADDRESS = 0x70
RATES_SPS = {10: 0, 20: 1, 40: 2, 80: 3, 320: 7}

REGISTERS = RegisterMap(
    "NAU7802",
    (
        Register(
            "PU_CTRL",
            0x00,
            (
                Field("register_reset", 0x01),
                Field("power_digital", 0x02),
                Field("power_analog", 0x04),
                Field("power_ready", 0x08, doc="read-only: the digital side is up"),
                Field("cycle_start", 0x10),
                Field("conversion_ready", 0x20, doc="read-only: a new result is in ADCO"),
                Field("oscillator_select", 0x40),
                Field("avdd_from_ldo", 0x80),
            ),
        ),
        Register(
            "CTRL1",
            0x01,
            (
                Field(
                    "gain",
                    0x07,
                    {"x1": 0, "x2": 1, "x4": 2, "x8": 3, "x16": 4, "x32": 5, "x64": 6, "x128": 7},
                ),
                Field("ldo_voltage", 0x38, {"3.3V": 4, "3.0V": 5, "2.7V": 6, "2.4V": 7}),
                Field("drdy_select", 0x40),
                Field("conversion_ready_polarity", 0x80),
            ),
        ),
        Register(
            "CTRL2",
            0x02,
            (
                Field(
                    "calibration_mode",
                    0x03,
                    {"internal_offset": 0, "external_offset": 2, "gain": 3},
                ),
                Field("calibrate", 0x04, doc="write 1 to start; reads 0 when done"),
                Field("calibration_error", 0x08),
                Field("rate", 0x70),
                Field("channel", 0x80),
            ),
        ),
        Register("ADCO", 0x12, width=3, doc="ADCO_B2..B0: 24-bit two's complement, MSB first"),
        Register("ADC", 0x15, (Field("chopper_clock", 0x30, {"off": 3}),)),
        Register("PGA", 0x1B, (Field("ldo_mode", 0x40), Field("bypass", 0x10))),
        Register("PWR_CTRL", 0x1C, (Field("pga_cap", 0x80, doc="decoupling cap on VIN2"),)),
        Register("REVISION_ID", 0x1F, (Field("revision", 0x0F, doc="0xF"),)),
    ),
)


@dataclass
class Scale:
    """counts → newtons: (counts − tare) × n_per_count; `barbell calibrate` measures both."""

    tare_counts: float = 0.0
    n_per_count: float = 1.0e-4


RAILS = (-(1 << 23), (1 << 23) - 1)  # 24-bit two's complement: where a conversion clips


class NAU7802:
    def __init__(
        self,
        bus: I2CBus,
        rate_sps: int = 320,
        scale: Scale | None = None,
        select: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`select` puts this cell on the bus (its mux channel) before each transfer."""
        if rate_sps not in RATES_SPS:
            raise ValueError(f"rate {rate_sps} SPS: the NAU7802 runs at {sorted(RATES_SPS)}")
        self.chip = Chip(bus, ADDRESS, REGISTERS)
        self.rate_sps = rate_sps
        self.scale = scale or Scale()
        self._select, self._sleep = select, sleep
        self.saturated = False  # the newest conversion sat on a rail

    def setup(self) -> None:
        self._select()
        revision = self.chip.get("REVISION_ID", "revision")
        if revision != 0xF:
            raise WrongDevice(f"no {self.chip.where}: REVISION_ID read 0x{revision:x}")
        self.chip.set("PU_CTRL", register_reset=1)
        self.chip.set("PU_CTRL", register_reset=0, power_digital=1)
        self._wait(lambda: self.chip.get("PU_CTRL", "power_ready") == 1, "power-up")
        self.chip.set("PU_CTRL", power_analog=1, avdd_from_ldo=1)
        self.chip.set("CTRL1", ldo_voltage="3.3V", gain="x128")
        self.chip.set("CTRL2", rate=RATES_SPS[self.rate_sps])
        self.chip.set("ADC", chopper_clock="off")  # as the datasheet recommends
        self.chip.set("PWR_CTRL", pga_cap=1)
        self._sleep(0.25)  # the LDO settles in about 200 ms; calibrate only after
        self.chip.set("CTRL2", calibration_mode="internal_offset", calibrate=1)
        # About 350 ms; redo it after changing the gain, the rate or the channel.
        self._wait(lambda: self.chip.get("CTRL2", "calibrate") == 0, "AFE calibration")
        if self.chip.get("CTRL2", "calibration_error"):
            raise DeviceError(f"{self.chip.where}: AFE calibration failed")
        self.chip.set("PU_CTRL", cycle_start=1)

    def _wait(self, done: Callable[[], bool], what: str, timeout_s: float = 1.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() > deadline:
                raise DeviceError(f"{self.chip.where}: {what} did not finish in {timeout_s:.0f} s")
            self._sleep(0.001)

    def read_counts(self) -> int | None:
        """The newest conversion, or None if none is ready since the last read."""
        self._select()
        if not self.chip.get("PU_CTRL", "conversion_ready"):
            return None
        raw = self.chip.burst("ADCO", 3)
        return int.from_bytes(raw, "big", signed=True)

    def read_newtons(self) -> float | None:
        """The newest conversion in newtons; None if none is ready, NaN if it sits on the
        ADC's rail (an overload, or a wire off): a rail is no force, and `saturated` says so."""
        counts = self.read_counts()
        if counts is None:
            return None
        self.saturated = counts in RAILS
        if self.saturated:
            return math.nan
        return (counts - self.scale.tare_counts) * self.scale.n_per_count


class TCA9548A:
    """The I²C mux: one control byte, one bit per downstream channel."""

    def __init__(self, bus: I2CBus, address: int = MUX_ADDRESS) -> None:
        self.bus, self.address = bus, address
        self._selected: int | None = None

    def select(self, channel: int) -> None:
        if channel != self._selected:  # one byte saved per read when it is already there
            self.bus.write_byte(self.address, 1 << channel)
            self._selected = channel
