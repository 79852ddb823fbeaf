"""One exception hierarchy for the product; each leaf also inherits the matching builtin.

The command line turns a BarbellError into a one-line message and exit code 2; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations


class BarbellError(Exception):
    """A user-facing error whose text is a complete one-line explanation."""


class ConfigError(BarbellError, ValueError):
    """A setting is missing, malformed or inconsistent."""


class InputError(BarbellError, ValueError):
    """A file or argument given by the user is malformed."""


class DeviceError(BarbellError, OSError):
    """A chip on the bus did not behave: its text names the bus, the address and what was read."""


class DeviceMissing(DeviceError):
    """No device answered at the address (errno 121, EREMOTEIO)."""


class WrongDevice(DeviceError):
    """Something answered, but its identity register says it is not the chip expected."""


class FifoOverflow(DeviceError):
    """The sensor's FIFO filled before it was drained: samples were lost."""
