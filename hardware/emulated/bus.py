"""An I²C bus of emulated chips, with a TCA9548A mux in front of some of them."""

from __future__ import annotations

import errno

from hardware.bus import device_errors


class EmulatedChip:
    """A register file: reads and writes auto-increment, as on the real chips. Subclasses give
    registers behaviour (a FIFO port, a status bit) by overriding `read_byte` / `write_byte`."""

    def __init__(self) -> None:
        self.registers = bytearray(256)
        self.present = True  # False: it stops answering, as a chip whose cable came loose

    def read_byte(self, register: int) -> int:
        return self.registers[register]

    def write_byte(self, register: int, value: int) -> None:
        self.registers[register] = value

    def read(self, register: int, length: int) -> bytes:
        return bytes(self.read_byte((register + i) & 0xFF) for i in range(length))

    def write(self, register: int, data: bytes) -> None:
        for i, value in enumerate(data):
            self.write_byte((register + i) & 0xFF, value)


class EmulatedBus:
    """Implements hardware.bus.I2CBus over emulated chips."""

    def __init__(self, name: str = "emulated /dev/i2c-1", mux_address: int = 0x70) -> None:
        self.name = name
        self.mux_address = mux_address
        self.mux_channels = 0  # the TCA9548A's control register: one bit per channel
        self._direct: dict[int, EmulatedChip] = {}
        self._behind_mux: dict[tuple[int, int], EmulatedChip] = {}
        self.transfers = 0  # how many transactions the drivers made (for the driver bench)

    def attach(self, address: int, chip: EmulatedChip, channel: int | None = None) -> None:
        if channel is None:
            self._direct[address] = chip
        else:
            self._behind_mux[(channel, address)] = chip

    def _chip(self, address: int) -> EmulatedChip:
        chip = self._direct.get(address)
        if chip is None:
            selected = [
                c
                for (ch, a), c in self._behind_mux.items()
                if a == address and self.mux_channels >> ch & 1
            ]
            chip = selected[0] if len(selected) == 1 else None  # two at once would collide
        if chip is None or not chip.present:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return chip

    def read(self, address: int, register: int, length: int) -> bytes:
        self.transfers += 1
        with device_errors(self.name, address):
            return self._chip(address).read(register, length)

    def write(self, address: int, register: int, data: bytes) -> None:
        self.transfers += 1
        with device_errors(self.name, address):
            self._chip(address).write(register, data)

    def write_byte(self, address: int, value: int) -> None:
        self.transfers += 1
        with device_errors(self.name, address):
            if address != self.mux_address or not self._behind_mux:
                raise OSError(errno.EREMOTEIO, "Remote I/O error")
            self.mux_channels = value
