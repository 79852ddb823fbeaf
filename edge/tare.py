"""The load cells' zero, set by the `tare` command or the button while the bar rests.

It is an offset per cell, in newtons, taken off every chunk before the analysis sees it, so
the load, the left–right asymmetry and the power all start from the new zero. It is kept in
the state dir, so a restart keeps it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from contract.errors import InputError
from contract.recording import Chunk
from edge.state_file import read_json, write_json

log = logging.getLogger(__name__)
TARE_FILE = "tare.json"  # in the state dir


class Tare:
    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / TARE_FILE
        self.offset_n = np.zeros(2)
        try:
            kept = read_json(self._path)
            if kept is not None:
                self.offset_n = np.array(kept["offset_n"], float)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s (%s): the cells start unzeroed", self._path, exc)

    def apply(self, chunk: Chunk) -> Chunk:
        if chunk.force_n is None or not self.offset_n.any():
            return chunk
        return dataclasses.replace(chunk, force_n=chunk.force_n - self.offset_n)

    def clear(self) -> bool:
        """Forget the offset (a new calibration measured the zero itself); whether there was
        one to forget."""
        had = self._path.exists() or bool(self.offset_n.any())
        self.offset_n = np.zeros(2)
        self._path.unlink(missing_ok=True)
        return had

    def zero(self, resting_force_n: np.ndarray) -> None:
        """What the cells read now (after the old offset) becomes zero. Raises InputError if
        the zero cannot be kept: it holds until the daemon stops."""
        self.offset_n = self.offset_n + resting_force_n
        log.info("cells zeroed: offset %.1f N left, %.1f N right", *self.offset_n)
        try:
            write_json(self._path, {"offset_n": self.offset_n.round(3).tolist()})
        except OSError as exc:
            raise InputError(
                f"tare kept until restart only: cannot write {self._path}: {exc.strerror}"
            ) from None
