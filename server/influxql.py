"""InfluxQL text and answers, shared by the queries that read history (advice, the alert
cooldown, a station's statuses, the report)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def quoted(value: str) -> str:
    """A string literal for InfluxQL, safe for any athlete or station name."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ns(seconds: float) -> int:
    """UTC epoch seconds as the ns a point is stamped with."""
    return round(seconds * 1e9)


def epoch_ns(stamp: Any) -> int:
    """A `time` as InfluxDB 1.x answers it: RFC 3339 text unless asked for epochs."""
    if isinstance(stamp, int | float):
        return int(stamp)
    whole, _, fraction = str(stamp).rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole + "+00:00").timestamp()
    return int(seconds) * 10**9 + int((fraction + "000000000")[:9])
