"""What answers on the bus, and what it is: `barbell probe`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from contract.errors import DeviceError
from hardware import icm42688, nau7802
from hardware.bus import I2CBus

SCAN = range(0x08, 0x78)  # the 7-bit addresses a device may use


@dataclass(frozen=True)
class Found:
    address: int
    channel: int | None  # behind the mux
    what: str


def identify(bus: I2CBus, address: int) -> str | None:
    """The device at `address`, by its identity register; None if nothing answers."""
    try:
        if address in (icm42688.ADDRESS, icm42688.ADDRESS + 1):
            seen = bus.read(address, icm42688.REGISTERS["WHO_AM_I"].address, 1)[0]
            return (
                "ICM-42688-P" if seen == icm42688.WHO_AM_I else f"unknown (WHO_AM_I 0x{seen:02x})"
            )
        if address == nau7802.ADDRESS:
            revision = bus.read(address, nau7802.REGISTERS["REVISION_ID"].address, 1)[0] & 0x0F
            return "NAU7802" if revision == 0xF else f"unknown (REVISION_ID 0x{revision:x})"
        bus.read(address, 0x00, 1)
        return "unknown device"
    except DeviceError:
        return None


def probe(bus: I2CBus) -> list[Found]:
    found = []
    # A mux keeps its last channel: closed, a chip behind it cannot pass for a direct one.
    with contextlib.suppress(DeviceError):
        bus.write_byte(nau7802.MUX_ADDRESS, 0)
    for address in SCAN:
        if address == nau7802.MUX_ADDRESS:
            try:
                bus.write_byte(address, 0)  # all channels off: the mux answers
            except DeviceError:
                continue
            found.append(Found(address, None, "TCA9548A I²C mux"))
            for channel in range(8):
                bus.write_byte(address, 1 << channel)
                what = identify(bus, nau7802.ADDRESS)
                if what:
                    found.append(Found(nau7802.ADDRESS, channel, what))
            bus.write_byte(address, 0)
            continue
        what = identify(bus, address)
        if what:
            found.append(Found(address, None, what))
    return found
