"""Register maps as data: each register declared once with its fields and the datasheet's words,
so drivers say `chip.set("PWR_MGMT0", gyro_mode="low_noise")`, never a mask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hardware.bus import I2CBus


@dataclass(frozen=True)
class Field:
    name: str
    mask: int  # within the register
    values: Mapping[str, int] = field(default_factory=dict)  # named settings, unshifted
    doc: str = ""

    @property
    def shift(self) -> int:
        return (self.mask & -self.mask).bit_length() - 1

    def encode(self, value: int | str) -> int:
        raw = self.values[value] if isinstance(value, str) else value
        if raw << self.shift & ~self.mask:
            raise ValueError(f"{value!r} does not fit field {self.name}")
        return raw << self.shift

    def decode(self, register_value: int) -> int:
        return (register_value & self.mask) >> self.shift


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    fields: tuple[Field, ...] = ()
    doc: str = ""
    width: int = 1  # bytes, for multi-byte values read in one burst

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.name} has no field {name}")


class RegisterMap:
    """A chip's registers by name; declaring two at one address, or overlapping fields, fails."""

    def __init__(self, chip: str, registers: tuple[Register, ...]) -> None:
        self.chip = chip
        self.by_name = {r.name: r for r in registers}
        addresses = [r.address for r in registers]
        if len(set(addresses)) != len(addresses) or len(self.by_name) != len(registers):
            raise ValueError(f"{chip}: register names and addresses must be unique")
        for register in registers:
            taken = 0
            for f in register.fields:
                if f.mask & taken or f.mask >> (8 * register.width):
                    where = f"{register.name}.{f.name}"
                    raise ValueError(f"{chip}: field {where} overlaps another or overflows")
                taken |= f.mask

    def __getitem__(self, name: str) -> Register:
        return self.by_name[name]


class Chip:
    """One device at one address on an injected bus, spoken to through its register map."""

    def __init__(self, bus: I2CBus, address: int, registers: RegisterMap) -> None:
        self.bus, self.address, self.registers = bus, address, registers

    @property
    def where(self) -> str:
        return f"{self.registers.chip} at 0x{self.address:02x} on {self.bus.name}"

    def read(self, name: str) -> int:
        register = self.registers[name]
        data = self.bus.read(self.address, register.address, register.width)
        return int.from_bytes(data, "big")

    def get(self, name: str, field_name: str) -> int:
        return self.registers[name].field(field_name).decode(self.read(name))

    def write(self, name: str, value: int) -> None:
        register = self.registers[name]
        self.bus.write(self.address, register.address, value.to_bytes(register.width, "big"))

    def set(self, name: str, **fields: int | str) -> None:
        """Read-modify-write the named fields, leaving the register's other bits alone."""
        register = self.registers[name]
        value = self.read(name)
        for field_name, setting in fields.items():
            f = register.field(field_name)
            value = (value & ~f.mask) | f.encode(setting)
        self.write(name, value)

    def burst(self, name: str, length: int) -> bytes:
        """`length` bytes from one register onward in one transfer (auto-increment or a FIFO)."""
        return self.bus.read(self.address, self.registers[name].address, length)
