"""The load cells' zero, set by the `tare` command or the button while the bar rests.

It is an offset per cell, in newtons, taken off every chunk before the analysis sees it, so
the load, the left–right asymmetry and the power all start from the new zero. It is kept in
the state dir, so a restart keeps it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np

from contract.errors import InputError
from contract.recording import Chunk

log = logging.getLogger(__name__)
TARE_FILE = "tare.json"  # in the state dir


class Tare:
    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / TARE_FILE
        self.offset_n = np.zeros(2)
        try:
            self.offset_n = np.array(json.loads(self._path.read_text())["offset_n"], float)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable %s (%s): the cells start unzeroed", self._path, exc)

    def apply(self, chunk: Chunk) -> Chunk:
        if chunk.force_n is None or not self.offset_n.any():
            return chunk
        return dataclasses.replace(chunk, force_n=chunk.force_n - self.offset_n)

    def zero(self, resting_force_n: np.ndarray) -> None:
        """What the cells read now (after the old offset) becomes zero. Raises InputError if
        the zero cannot be kept: it holds until the daemon stops."""
        self.offset_n = self.offset_n + resting_force_n
        log.info("cells zeroed: offset %.1f N left, %.1f N right", *self.offset_n)
        temporary = self._path.with_suffix(".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("w") as file:
                file.write(json.dumps({"offset_n": self.offset_n.round(3).tolist()}))
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(self._path)  # a power cut leaves the old zero or the new one
        except OSError as exc:
            raise InputError(
                f"tare kept until restart only: cannot write {self._path}: {exc.strerror}"
            ) from None
