"""The I²C bus the drivers use: a small Protocol, the real one over smbus2, injected into drivers.

Only the daemon's composition root opens /dev/i2c-N, once per bus; every transfer takes the
bus lock, so drivers on other threads (IMU and load cells) never interleave transactions.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Iterator
from typing import Protocol

from contract.errors import DeviceError, DeviceMissing


class I2CBus(Protocol):
    name: str  # for messages: "/dev/i2c-1"

    def read(self, address: int, register: int, length: int) -> bytes:
        """Write the register address, then read `length` bytes (one combined transfer)."""
        ...

    def write(self, address: int, register: int, data: bytes) -> None: ...

    def write_byte(self, address: int, value: int) -> None:
        """A bare byte, no register: how a TCA9548A mux is told its channels."""
        ...


class SMBusI2C:
    """/dev/i2c-N through smbus2. i2c_rdwr has no 32-byte block limit, so a FIFO drain is one
    transfer however long."""

    def __init__(self, number: int) -> None:
        from smbus2 import SMBus  # a Pi extra; the emulated bus needs none of it

        self.name = f"/dev/i2c-{number}"
        try:
            self._bus = SMBus(number)
        except OSError as exc:
            hint = "is I²C enabled? (docs/hardware.md)"
            raise DeviceError(f"cannot open {self.name}: {exc.strerror}; {hint}") from None
        self._lock = threading.Lock()

    def read(self, address: int, register: int, length: int) -> bytes:
        from smbus2 import i2c_msg

        write, read = i2c_msg.write(address, [register]), i2c_msg.read(address, length)
        with self._lock, device_errors(self.name, address):
            self._bus.i2c_rdwr(write, read)
        return bytes(read)

    def write(self, address: int, register: int, data: bytes) -> None:
        from smbus2 import i2c_msg

        with self._lock, device_errors(self.name, address):
            self._bus.i2c_rdwr(i2c_msg.write(address, [register, *data]))

    def write_byte(self, address: int, value: int) -> None:
        with self._lock, device_errors(self.name, address):
            self._bus.write_byte(address, value)

    def close(self) -> None:
        self._bus.close()


@contextlib.contextmanager
def device_errors(bus: str, address: int) -> Iterator[None]:
    """Turn the kernel's errno into the product's errors, naming the bus and the address."""
    try:
        yield
    except DeviceError:
        raise
    except OSError as exc:
        where = f"0x{address:02x} on {bus}"
        if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
            raise DeviceMissing(f"no device answered at {where}") from None
        raise DeviceError(f"I²C error at {where}: {exc.strerror}") from None
