"""TDK InvenSense ICM-42688-P: 6-axis IMU read through its FIFO (datasheet DS-000347).

Set-up checks WHO_AM_I, resets, sets ±16 g / ±2000 dps and the ODR, and streams 16-byte packets
(accel, gyro, temperature, timestamp) into the 2 KB FIFO. A drain reads the byte count, then
the packets in one burst, decoded with numpy: no per-sample Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from contract.errors import FifoOverflow, WrongDevice
from hardware.bus import I2CBus
from hardware.registers import Chip, Field, Register, RegisterMap

ADDRESS = 0x68  # 0x69 with AP_AD0 high
WHO_AM_I = 0x47
G = 9.80665
ACCEL_LSB_MPS2 = 16 * G / 32768  # ±16 g
GYRO_LSB_RADPS = np.radians(2000) / 32768  # ±2000 dps
FIFO_BYTES = 2048
INVALID = -32768  # what an axis reads in a packet without valid data
ODR_CODES = {1000: 0x06, 500: 0x0F, 200: 0x07, 100: 0x08, 50: 0x09}

REGISTERS = RegisterMap(
    "ICM-42688-P",
    (
        Register("DEVICE_CONFIG", 0x11, (Field("soft_reset", 0x01, doc="1: reset the chip"),)),
        Register(
            "FIFO_CONFIG",
            0x16,
            (Field("mode", 0xC0, {"bypass": 0, "stream": 1, "stop_on_full": 2}),),
        ),
        Register(
            "INT_STATUS",
            0x2D,
            (
                Field("reset_done", 0x10),
                Field("data_ready", 0x08),
                Field("fifo_threshold", 0x04),
                Field("fifo_full", 0x02, doc="cleared on read"),
            ),
            doc="read-to-clear interrupt status",
        ),
        Register(
            "FIFO_COUNT", 0x2E, width=2, doc="bytes in the FIFO, FIFO_COUNTH:FIFO_COUNTL big-endian"
        ),
        Register("FIFO_DATA", 0x30, doc="the FIFO's read port"),
        Register("SIGNAL_PATH_RESET", 0x4B, (Field("fifo_flush", 0x02),)),
        Register(
            "INTF_CONFIG0",
            0x4C,
            (
                Field("fifo_count_records", 0x40, doc="0: FIFO_COUNT in bytes"),
                Field("fifo_count_big_endian", 0x20),
                Field("sensor_data_big_endian", 0x10),
            ),
        ),
        Register(
            "PWR_MGMT0",
            0x4E,
            (
                Field("temp_disabled", 0x20),
                Field("gyro_mode", 0x0C, {"off": 0, "standby": 1, "low_noise": 3}),
                Field("accel_mode", 0x03, {"off": 0, "low_power": 2, "low_noise": 3}),
            ),
        ),
        Register(
            "GYRO_CONFIG0",
            0x4F,
            (
                Field("full_scale", 0xE0, {"2000dps": 0, "1000dps": 1, "500dps": 2}),
                Field("odr", 0x0F),
            ),
        ),
        Register(
            "ACCEL_CONFIG0",
            0x50,
            (Field("full_scale", 0xE0, {"16g": 0, "8g": 1, "4g": 2, "2g": 3}), Field("odr", 0x0F)),
        ),
        Register(
            "TMST_CONFIG",
            0x54,
            (
                Field("to_registers", 0x10),
                Field("resolution_16us", 0x08),
                Field("delta", 0x04),
                Field("fsync", 0x02),
                Field("enabled", 0x01),
            ),
        ),
        Register(
            "FIFO_CONFIG1",
            0x5F,
            (
                Field("resume_partial_read", 0x40),
                Field("watermark_greater", 0x20),
                Field("hires", 0x10),
                Field("timestamp", 0x08, doc="FIFO_TMST_FSYNC_EN: the 16-bit ODR timestamp"),
                Field("temp", 0x04),
                Field("gyro", 0x02),
                Field("accel", 0x01),
            ),
        ),
        Register("WHO_AM_I", 0x75, doc="0x47"),
        Register("REG_BANK_SEL", 0x76, (Field("bank", 0x07),)),
    ),
)

# Packet 3: header, accel xyz, gyro xyz (big-endian int16), temperature (int8), timestamp (µs).
PACKET = np.dtype(
    [
        ("header", "u1"),
        ("accel", ">i2", 3),
        ("gyro", ">i2", 3),
        ("temp", "i1"),
        ("timestamp", ">u2"),
    ]
)
HEADER_EMPTY = 0x80  # HEADER_MSG: the FIFO had nothing to give
HEADER_PACKET3 = 0x68  # accel + gyro + ODR timestamp


@dataclass(frozen=True)
class Drain:
    """One FIFO drain in SI units: t (s, unwrapped from the 16-bit µs timestamps), accel
    (m/s²), gyro (rad/s); NaN where the chip marked an axis invalid."""

    t: np.ndarray
    accel_mps2: np.ndarray
    gyro_radps: np.ndarray


_EMPTY = Drain(np.empty(0), np.empty((0, 3)), np.empty((0, 3)))


class ICM42688:
    def __init__(
        self,
        bus: I2CBus,
        address: int = ADDRESS,
        rate_hz: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` (s) is the host's: it measures the samples lost to a flush, a span the chip's
        16-bit µs timestamp cannot (it wraps every 65.5 ms)."""
        if rate_hz not in ODR_CODES:
            raise ValueError(f"rate {rate_hz} Hz: the ICM-42688-P here runs at {sorted(ODR_CODES)}")
        self.chip = Chip(bus, address, REGISTERS)
        self.rate_hz = rate_hz
        self._sleep = sleep
        self._clock = clock
        self._last_stamp: int | None = None
        self._t = 0.0  # s, the newest sample's time on the timeline
        self._t_clock: float | None = None  # s, the clock when that sample was drained

    def setup(self) -> None:
        seen = self.chip.read("WHO_AM_I")
        if seen != WHO_AM_I:
            raise WrongDevice(f"no {self.chip.where}: WHO_AM_I read 0x{seen:02x}")
        self.chip.set("DEVICE_CONFIG", soft_reset=1)
        self._sleep(0.001)  # the reset takes 1 ms
        odr = ODR_CODES[self.rate_hz]
        self.chip.set("GYRO_CONFIG0", full_scale="2000dps", odr=odr)
        self.chip.set("ACCEL_CONFIG0", full_scale="16g", odr=odr)
        self.chip.set("FIFO_CONFIG1", accel=1, gyro=1, temp=1, timestamp=1)
        self.chip.set("FIFO_CONFIG", mode="stream")
        self.chip.set("PWR_MGMT0", gyro_mode="low_noise", accel_mode="low_noise")
        # No writes for 200 µs after a power-mode change; gyro data are good after about 30 ms
        # (drivers wait 30–60 ms; the datasheet's 45 ms is its minimum on-time, not this).
        self._sleep(0.05)
        self.flush()

    def flush(self) -> None:
        self.chip.set("SIGNAL_PATH_RESET", fifo_flush=1)
        self._last_stamp = None

    def drain(self) -> Drain:
        """Everything in the FIFO. An overflow flushes it and raises FifoOverflow: what was lost
        is gone, and the caller says so (the analysis sees the gap in t)."""
        full = self.chip.get("INT_STATUS", "fifo_full")
        count = self.chip.read("FIFO_COUNT")
        now_s = self._clock()  # the newest sample counted is at most a period older
        if full or count >= FIFO_BYTES:
            self.flush()
            raise FifoOverflow(f"{self.chip.where}: FIFO overflowed ({count} bytes): samples lost")
        packets = count // PACKET.itemsize
        if packets == 0:
            return _EMPTY
        raw = np.frombuffer(self.chip.burst("FIFO_DATA", packets * PACKET.itemsize), PACKET)
        raw = raw[raw["header"] & HEADER_EMPTY == 0]
        if len(raw) == 0:  # every packet marked empty: nothing to time
            return _EMPTY
        return Drain(
            self._times(raw["timestamp"], now_s),
            _scaled(raw["accel"], ACCEL_LSB_MPS2),
            _scaled(raw["gyro"], GYRO_LSB_RADPS),
        )

    def _times(self, stamps: np.ndarray, now_s: float) -> np.ndarray:
        """Seconds since set-up, unwrapping the 16-bit µs timestamp (it wraps every 65.5 ms).
        After a flush the chip's stamps cannot tell how long the timeline was cut; the clock can,
        so the samples lost stay visible as a gap."""
        stamps = stamps.astype(np.int64)
        steps = np.diff(stamps, prepend=stamps[0]) % 65536  # µs; steps[0] is set below
        if self._last_stamp is not None:
            steps[0] = (stamps[0] - self._last_stamp) % 65536
        else:
            steps[0] = self._resumed_us(now_s, int(steps.sum()))
        t = self._t + np.cumsum(steps) * 1e-6
        self._last_stamp, self._t, self._t_clock = int(stamps[-1]), float(t[-1]), now_s
        return t

    def _resumed_us(self, now_s: float, span_us: int) -> int:
        """µs from the newest sample before a flush to the first one after it. Each drain's
        newest sample is about as old as the drain, so the clock between the two drains spans
        the gap plus this drain's own samples. One period on the first drain, and at least one."""
        period_us = round(1e6 / self.rate_hz)
        if self._t_clock is None:
            return period_us
        return max(period_us, round((now_s - self._t_clock) * 1e6) - span_us)


def _scaled(counts: np.ndarray, lsb: float) -> np.ndarray:
    values = counts.astype(float) * lsb
    values[counts == INVALID] = np.nan
    return values
