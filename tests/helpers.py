"""Small helpers the tests share: querying InfluxDB and waiting for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from barbell.services import LocalInfluxDB


def rows(influx: LocalInfluxDB, influxql: str) -> list[dict[str, Any]]:
    """The result rows of one InfluxQL query as dicts of column → value."""
    result = influx.query(influxql)["results"][0]
    assert "error" not in result, result
    out: list[dict[str, Any]] = []
    for series in result.get("series", []):
        tags = series.get("tags", {})
        out += [
            dict(zip(series["columns"], values, strict=True), **tags) for values in series["values"]
        ]
    return out


def wait_for(
    condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
