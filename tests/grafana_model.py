"""What Grafana does to a dashboard's InfluxQL before it reaches InfluxDB, for tests that cannot
run Grafana: the provisioned files, each panel query, and the macros and variables expanded as
Grafana's InfluxDB data source (its backend, Grafana 9 and later) expands them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "barbell.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "barbell.yaml"

MACROS = ("timeFilter", "__interval_ms", "__interval", "interval")
MAX_DATA_POINTS = 1000  # about a panel's width in pixels, which is what Grafana uses
_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# Grafana rounds an interval to the step of the first band it falls below: (below s, step s).
_ROUNDING = (
    (1.5, 1), (3.5, 2), (7.5, 5), (12.5, 10), (17.5, 15), (25, 20), (45, 30), (90, 60),
    (210, 120), (450, 300), (750, 600), (1050, 900), (1500, 1200), (2700, 1800), (5400, 3600),
    (9000, 7200), (16_200, 10_800), (24_300, 21_600), (64_800, 43_200), (604_800, 86_400),
    (1_814_400, 604_800),
)  # fmt: skip
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def load_yaml(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def load_dashboard(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def datasource() -> dict[str, Any]:
    [source] = load_yaml(DATASOURCES)["datasources"]
    return dict(source)


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    dashboard: str  # the file's stem
    panel: dict[str, Any]
    target: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel['title']} [{self.target['refId']}]"


def targets(path: Path) -> Iterator[Target]:
    for panel in load_dashboard(path)["panels"]:
        for target in panel.get("targets", []):
            yield Target(path.stem, panel, target)


def variable_names(text: str) -> set[str]:
    return {braced or bare for braced, bare in _VARIABLE.findall(text)}


def seconds(duration: str) -> float:
    """A Grafana duration ('15m', '1d', '500ms') in seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", duration)
    if not match:
        raise ValueError(f"not a duration: {duration!r}")
    return int(match[1]) * _UNITS_S[match[2]]


def moment_ms(text: str, now_ms: int) -> int:
    """A dashboard time ('now', 'now-15m') in epoch milliseconds."""
    if text == "now":
        return now_ms
    if not text.startswith("now-"):
        raise ValueError(f"not a relative time: {text!r}")
    return now_ms - round(seconds(text.removeprefix("now-")) * 1000)


def interval_s(from_ms: int, to_ms: int, min_interval: str) -> float:
    """$__interval: the range over the panel's data points, at least the panel's (or the data
    source's) minimum, rounded to a whole step as Grafana rounds it."""
    raw = max((to_ms - from_ms) / 1000 / MAX_DATA_POINTS, seconds(min_interval))
    return next((step for below, step in _ROUNDING if raw < below), 30 * 86_400)


def format_interval(value_s: float) -> str:
    """The backend's text for an interval: '1m', '3h', '1d'."""
    for unit in ("d", "h", "m", "s"):
        if value_s >= _UNITS_S[unit] and value_s % _UNITS_S[unit] == 0:
            return f"{int(value_s // _UNITS_S[unit])}{unit}"
    return f"{round(value_s * 1000)}ms"


def regex_value(values: Sequence[str]) -> str:
    """A variable's value as InfluxQL regex text: escaped, and `(a|b)` for several."""
    escaped = [re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m[0], v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str, variables: Mapping[str, Sequence[str]], from_ms: int, to_ms: int, step_s: float
) -> str:
    """The query as Grafana sends it. An undefined variable raises KeyError."""
    text = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    text = text.replace("$__interval_ms", str(round(step_s * 1000)))
    text = text.replace("$__interval", format_interval(step_s))
    text = text.replace("$interval", format_interval(step_s))
    return _VARIABLE.sub(lambda m: regex_value(variables[m[1] or m[2]]), text)
