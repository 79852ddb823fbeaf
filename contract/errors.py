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
