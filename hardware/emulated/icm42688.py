"""An emulated ICM-42688-P: its registers, reset, and a 2 KB FIFO that the simulator fills.

The FIFO holds packets (16 bytes) while the chip is configured to stream them; past 2 KB it sets
FIFO_FULL and keeps no more, so a driver that drains too late finds an overflow.
"""

from __future__ import annotations

import numpy as np

from contract.recording import Chunk
from hardware.emulated.bus import EmulatedChip
from hardware.icm42688 import (
    ACCEL_LSB_MPS2,
    FIFO_BYTES,
    GYRO_LSB_RADPS,
    HEADER_EMPTY,
    HEADER_PACKET3,
    INVALID,
    PACKET,
    REGISTERS,
    WHO_AM_I,
)

R = REGISTERS.by_name


class EmulatedICM42688(EmulatedChip):
    def __init__(self) -> None:
        super().__init__()
        self.fifo = bytearray()
        self.resets = 0
        self._reset()

    def _reset(self) -> None:
        self.registers[:] = bytes(256)
        self.registers[R["WHO_AM_I"].address] = WHO_AM_I
        self.registers[R["INTF_CONFIG0"].address] = 0x30  # big-endian count and data
        self.registers[R["INT_STATUS"].address] = 0x10  # RESET_DONE
        self.fifo.clear()

    @property
    def streaming(self) -> bool:
        mode = R["FIFO_CONFIG"].field("mode").decode(self.registers[R["FIFO_CONFIG"].address])
        power = self.registers[R["PWR_MGMT0"].address] & 0x0F
        return mode == 1 and power != 0

    def feed(self, chunk: Chunk) -> None:
        """Samples the sensor measured (SI units, from the simulator) enter the FIFO."""
        if not self.streaming or len(chunk) == 0:
            return
        packets = np.zeros(len(chunk), PACKET)
        packets["header"] = HEADER_PACKET3
        packets["accel"] = _counts(chunk.accel_mps2, ACCEL_LSB_MPS2)
        packets["gyro"] = _counts(chunk.gyro_radps, GYRO_LSB_RADPS)
        packets["timestamp"] = np.round(chunk.t * 1e6).astype(np.int64) % 65536
        data = packets.tobytes()
        room = FIFO_BYTES - len(self.fifo)
        if len(data) > room:
            self.registers[R["INT_STATUS"].address] |= R["INT_STATUS"].field("fifo_full").mask
            data = data[: room - room % PACKET.itemsize]
        self.fifo += data

    def read_byte(self, register: int) -> int:
        if register == R["FIFO_DATA"].address:
            if not self.fifo:
                return HEADER_EMPTY
            value = self.fifo[0]
            del self.fifo[0]
            return value
        if register == R["FIFO_COUNT"].address:
            return len(self.fifo) >> 8
        if register == R["FIFO_COUNT"].address + 1:
            return len(self.fifo) & 0xFF
        value = self.registers[register]
        if register == R["INT_STATUS"].address:
            self.registers[register] = 0  # read to clear
        return value

    def read(self, register: int, length: int) -> bytes:
        if register == R["FIFO_DATA"].address:  # the port does not auto-increment
            data, self.fifo[:length] = bytes(self.fifo[:length]), b""
            return data + bytes([HEADER_EMPTY]) * (length - len(data))
        return super().read(register, length)

    def write_byte(self, register: int, value: int) -> None:
        if register == R["DEVICE_CONFIG"].address and value & 0x01:
            self.resets += 1
            self._reset()
            return
        if (
            register == R["SIGNAL_PATH_RESET"].address
            and value & R["SIGNAL_PATH_RESET"].field("fifo_flush").mask
        ):
            self.fifo.clear()
            return
        super().write_byte(register, value)


def _counts(values: np.ndarray, lsb: float) -> np.ndarray:
    counts = np.clip(np.round(np.nan_to_num(values / lsb, nan=INVALID)), -32768, 32767)
    counts[np.isnan(values)] = INVALID
    return counts.astype(np.int16)
