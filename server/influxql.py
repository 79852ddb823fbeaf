"""InfluxQL text, shared by the queries that read history (advice, the alert cooldown)."""

from __future__ import annotations


def quoted(value: str) -> str:
    """A string literal for InfluxQL, safe for any athlete or station name."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
