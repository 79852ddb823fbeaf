"""Small JSON files in the station's state dir, written so that a power cut leaves either the
old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, value: Any) -> None:
    """Raises OSError if it cannot be written (a read-only or full state dir)."""
    temporary = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with temporary.open("w") as file:
        file.write(json.dumps(value))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def read_json(path: Path) -> Any | None:
    """None if there is no such file; raises OSError or ValueError if it cannot be read."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
