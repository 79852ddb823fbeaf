"""The Grafana provisioning and dashboards: well formed, and every panel query, expanded as
Grafana expands it, returns data from a real InfluxDB after a simulated session that went
through the real edge, Mosquitto and server."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from server.config import InfluxSettings, ServerConfig
from tests.grafana_model import (
    DASHBOARDS,
    MACROS,
    PROVIDERS,
    Target,
    datasource,
    interpolate,
    interval_s,
    load_dashboard,
    load_yaml,
    moment_ms,
    targets,
    variable_names,
)
from tests.helpers import rows, running_server, wait_for

UID = "barbell-influxdb"
ENV = re.compile(r"\$\{BARBELL_\w+\}")
# With realtime off the simulator stamps a set's reps up to about a minute ahead of the wall
# clock, so "now" reaches a little further than a live station would need.
AHEAD_MS = 5 * 60 * 1000


def test_the_datasource_is_influxql_from_the_environment() -> None:
    source = datasource()
    assert (source["uid"], source["type"], source["access"]) == (UID, "influxdb", "proxy")
    assert source["jsonData"].get("version", "InfluxQL") == "InfluxQL"
    for value in (source["url"], source["jsonData"]["dbName"], source["user"]):
        assert ENV.fullmatch(value), f"{value!r} should come from a BARBELL_ variable"
    assert ENV.fullmatch(source["secureJsonData"]["password"])


def test_the_dashboard_provider_reads_files() -> None:
    [provider] = load_yaml(PROVIDERS)["providers"]
    assert provider["type"] == "file"
    assert ENV.fullmatch(provider["options"]["path"])
    assert len(DASHBOARDS) == 3


def test_dashboard_uids_and_titles_are_unique() -> None:
    boards = [load_dashboard(path) for path in DASHBOARDS]
    assert len({b["uid"] for b in boards}) == len({b["title"] for b in boards}) == len(boards)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_well_formed(path: Path) -> None:
    board = load_dashboard(path)
    panels = board["panels"]
    variables = board["templating"]["list"]
    defined = {v["name"] for v in variables} | set(MACROS)
    assert len({p["id"] for p in panels}) == len(panels), "panel ids repeat"
    assert len({p["title"] for p in panels}) == len(panels), "panel titles repeat"
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["datasource"] == {"type": "influxdb", "uid": UID}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == UID
            assert target["rawQuery"] is True and target["resultFormat"] in ("table", "time_series")
            used = variable_names(target["query"]) | variable_names(target.get("alias", ""))
            # $tag_<key> in an alias names a series' tag, which Grafana fills in itself.
            assert {u for u in used if not u.startswith("tag_")} <= defined, panel["title"]
            if panel["type"] == "xychart" or panel.get("transformations"):
                assert target["resultFormat"] == "table", "x–y and matrix panels want a table"
    for variable in variables:
        assert variable["datasource"]["uid"] == UID
        assert variable["query"].startswith("SHOW TAG VALUES FROM ")
        assert variable_names(variable["query"]) <= defined - {variable["name"]}


# The simulated gym: two athletes; ana does three sessions at rising loads (a profile for the
# advice), the last with tilted reps; bo one set with a tilted rep, at another station.
SESSIONS = (
    ("ana", "bar1", 80.0, 1, ()),
    ("ana", "bar1", 110.0, 1, ()),
    ("ana", "bar1", 140.0, 2, ("bar_tilt:1@2,3",)),
    ("bo", "bar2", 60.0, 1, ("bar_tilt:1@1",)),
)


@dataclass(frozen=True)
class Gym:
    influx: LocalInfluxDB
    now_ms: int


@pytest.fixture(scope="module")
def gym() -> Iterator[Gym]:
    with LocalMosquitto() as broker, LocalInfluxDB() as influx:
        config = ServerConfig(
            mqtt=MqttSettings(url=broker.url, client_id="t-grafana-server"),
            influx=InfluxSettings(url=influx.url),
        )
        with running_server(config):
            for seed, (athlete, station, load_kg, sets, faults) in enumerate(SESSIONS, 21):
                _lift(broker, athlete, station, load_kg, sets, faults, seed)
            total_sets = sum(session[3] for session in SESSIONS)

            def stored(measurement: str) -> int:
                return len(rows(influx, f'SELECT * FROM "{measurement}"'))

            # Each set gets its advice once it is stored: both, and nothing is still on its way.
            wait_for(lambda: stored("set") == stored("advice") == total_sets, what="every set")
        yield Gym(influx, round(time.time() * 1000))


def _lift(
    broker: LocalMosquitto,
    athlete: str,
    station: str,
    load_kg: float,
    sets: int,
    faults: tuple[str, ...],
    seed: int,
) -> None:
    with tempfile.TemporaryDirectory() as state:
        config = EdgeConfig(
            mqtt=MqttSettings(url=broker.url),
            station=StationSettings(gym="g1", id=station, health_period_s=0.05),
            sim=SimSettings(
                lift="hip_thrust",
                sets=sets,
                reps=4,
                load_kg=load_kg,
                seed=seed,
                faults=list(faults),
                athlete=athlete,
                realtime=False,
            ),
            state=StateSettings(dir=Path(state)),
        )
        run_edge(config, threading.Event())


def _variables(board: dict[str, Any], influx: LocalInfluxDB) -> dict[str, list[str]]:
    """Each variable's value as Grafana picks it on load: its query's values sorted, the first
    one, or all of them where the variable allows All."""
    chosen: dict[str, list[str]] = {}
    for variable in board["templating"]["list"]:
        query = interpolate(variable["query"], chosen, 0, 0, 1)
        values = sorted(row["value"] for row in rows(influx, query))
        assert values, f"variable {variable['name']}: {query} lists nothing"
        chosen[variable["name"]] = values if variable.get("includeAll") else values[:1]
    return chosen


ALL_TARGETS = [target for path in DASHBOARDS for target in targets(path)]


@pytest.mark.parametrize("target", ALL_TARGETS, ids=lambda t: t.name)
def test_every_panel_query_returns_data(gym: Gym, target: Target) -> None:
    board = load_dashboard(next(p for p in DASHBOARDS if p.stem == target.dashboard))
    from_ms = moment_ms(board["time"]["from"], gym.now_ms)
    to_ms = moment_ms(board["time"]["to"], gym.now_ms) + AHEAD_MS
    minimum = target.panel.get("interval", datasource()["jsonData"]["timeInterval"])
    query = interpolate(
        target.target["query"],
        _variables(board, gym.influx),
        from_ms,
        to_ms,
        interval_s(from_ms, to_ms, minimum),
    )
    result = rows(gym.influx, query)
    columns = {name for row in result for name in row}
    values = [v for row in result for k, v in row.items() if k != "time" and v is not None]
    assert values, f"no data from {query}"
    for name in _fields_named(target.panel):
        assert name in columns, f"{target.name} wants {name!r}; {query} gives {sorted(columns)}"


def _fields_named(panel: dict[str, Any]) -> set[str]:
    """Result columns a panel refers to by name: x–y series, matrix transformations, and a
    table's per-column settings (Grafana's own Time column aside)."""
    names: set[str] = set()
    for series in panel.get("options", {}).get("series", []):
        names |= {series[axis]["matcher"]["options"] for axis in ("x", "y")}
    for transformation in panel.get("transformations", []):
        options = transformation["options"]
        names |= {options[key] for key in ("rowField", "columnField", "valueField")}
    if panel["type"] == "table":
        for override in panel["fieldConfig"]["overrides"]:
            if override["matcher"]["id"] == "byName":
                names.add(override["matcher"]["options"])
    return names - {"Time"}
