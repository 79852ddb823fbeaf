"""Wire messages as InfluxDB points (SPEC section 6), the same line protocol for every writer.

Tags are gym, station, athlete and lift; the rest are fields. A rep is stamped with its
concentric end, so a resent rep overwrites itself instead of adding a point. Each of its faults
is a `fault` point at the same instant, told apart by its `code` tag. A rep's path is one `path`
point per sample, stamped with the sample's own time, so a resent path overwrites itself too.
"""

from __future__ import annotations

import math

import msgspec
from influxdb_client import Point, WritePrecision

from contract.messages import (
    AdviceMessage,
    AlertMessage,
    HealthMessage,
    PathMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
)

TAGS = ("gym", "station", "athlete", "lift")
_NOT_FIELDS = {*TAGS, "faults", "unjudged", "fault_streaks", "fault_counts", "t_concentric_end"}


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _point(measurement: str, message: msgspec.Struct, stamp_s: float) -> Point:
    point = Point(measurement).time(_ns(stamp_s), WritePrecision.NS)
    values = msgspec.structs.asdict(message)
    for tag in TAGS:
        point.tag(tag, values[tag])
    for name, value in values.items():
        # None and non-finite values have no line-protocol form; they are simply absent.
        if name in _NOT_FIELDS or value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        point.field(name, value)
    return point


def rep_point(rep: RepMessage) -> Point:
    point = _point("rep", rep, rep.t_concentric_end)
    point.field("t_concentric_end", rep.t_concentric_end)
    point.field("fault_count", len(rep.faults))
    return point


def fault_points(rep: RepMessage) -> list[Point]:
    points = []
    for fault in rep.faults:
        point = Point("fault").time(_ns(rep.t_concentric_end), WritePrecision.NS)
        for tag in TAGS:
            point.tag(tag, getattr(rep, tag))
        point.tag("code", fault.code)
        point.field("severity", fault.severity).field("value", fault.value)
        point.field("threshold", fault.threshold).field("msg_id", rep.msg_id)
        point.field("set_index", rep.set_index).field("rep_index", rep.rep_index)
        points.append(point)
    return points


def path_points(path: PathMessage) -> list[Point]:
    """One point per sample, at t_start + t_s; `rep_msg_id` ties them to their rep's point."""
    rep_msg_id = path.msg_id.removesuffix("/path")
    columns = zip(
        path.t_s,
        path.height_m,
        path.ap_m,
        path.lateral_m,
        path.tilt_deg,
        path.velocity_mps,
        strict=True,
    )
    points, start_ns = [], _ns(path.t_start)
    for t_s, height_m, ap_m, lateral_m, tilt_deg, velocity_mps in columns:
        # Added in ns, so the samples keep their even spacing whatever the epoch's size.
        point = Point("path").time(start_ns + _ns(t_s), WritePrecision.NS)
        for tag in TAGS:
            point.tag(tag, getattr(path, tag))
        point.field("rep_msg_id", rep_msg_id).field("session_id", path.session_id)
        point.field("set_index", path.set_index).field("rep_index", path.rep_index)
        point.field("height_m", height_m).field("ap_m", ap_m).field("lateral_m", lateral_m)
        point.field("tilt_deg", tilt_deg).field("velocity_mps", velocity_mps)
        points.append(point)
    return points


def points_for(
    message: RepMessage | PathMessage | SetMessage | HealthMessage | StatusMessage,
) -> list[Point]:
    """Every point a message becomes."""
    if isinstance(message, RepMessage):
        return [rep_point(message), *fault_points(message)]
    if isinstance(message, PathMessage):
        return path_points(message)
    if isinstance(message, SetMessage):
        return [set_point(message)]
    return [station_health_point(message)]


def station_health_point(message: HealthMessage | StatusMessage) -> Point:
    """Health reports and online/offline changes share `station_health`, tagged by station."""
    stamp = message.t if isinstance(message, HealthMessage) else message.since
    point = Point("station_health").time(_ns(stamp), WritePrecision.NS)
    point.tag("gym", message.gym).tag("station", message.station)
    for name, value in msgspec.structs.asdict(message).items():
        if name in ("gym", "station", "t", "since") or value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        point.field(name, value)
    return point


def set_point(message: SetMessage) -> Point:
    point = _point("set", message, message.t_end)
    for code, count in message.fault_counts.items():
        point.field(f"faults_{code}", count)
    return point


def alert_point(alert: AlertMessage) -> Point:
    """Stamped with the trigger's time, so an alert raised again from a redelivered message
    overwrites itself; the rule is a tag, so dashboards count alerts by rule."""
    point = Point("alert").time(_ns(alert.t), WritePrecision.NS)
    for tag in TAGS:
        value = getattr(alert, tag)
        if value:  # no athlete or lift (a station alert): the tag is absent, InfluxQL's ''
            point.tag(tag, value)
    point.tag("rule", alert.rule)
    point.field("severity", alert.severity).field("message", alert.message)
    if alert.rep_ref is not None:
        point.field("rep_ref", alert.rep_ref)
    return point


def line(point: Point) -> str:
    return str(point.to_line_protocol())


def advice_point(advice: AdviceMessage) -> Point:
    """Stamped with the end of the set that asked for it, so a redelivered set rewrites its
    advice instead of adding one."""
    return _point("advice", advice, advice.t)
