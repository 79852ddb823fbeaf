"""Wire messages as InfluxDB points (SPEC section 6), the same line protocol for every writer.

Tags are gym, station, athlete and lift; the rest are fields. A rep is stamped with its
concentric end, so a resent rep overwrites itself instead of adding a point. Each of its faults
is a `fault` point at the same instant, told apart by its `code` tag. A rep's path is one `path`
point per sample, stamped with the sample's own time, so a resent path overwrites itself too.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any, TypeVar

import msgspec
import msgspec.inspect
from influxdb_client import Point, WritePrecision

# The escapes influxdb-client's Point uses: rep_line writes the same bytes.
from influxdb_client.client.write.point import _ESCAPE_KEY, _ESCAPE_STRING

from contract import topics
from contract.messages import (
    AdviceMessage,
    AlertMessage,
    DeadLetter,
    HealthMessage,
    PathMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
)
from server.influxql import ns

M = TypeVar("M", bound=msgspec.Struct)
TAGS = ("gym", "station", "athlete", "lift")
_NOT_FIELDS = {*TAGS, "faults", "unjudged", "fault_streaks", "fault_counts", "t_concentric_end"}


@functools.cache
def _float_fields(kind: type[msgspec.Struct]) -> frozenset[str]:
    def holds_float(info: msgspec.inspect.Type) -> bool:
        if isinstance(info, msgspec.inspect.UnionType):
            return any(holds_float(member) for member in info.types)
        return isinstance(info, msgspec.inspect.FloatType)

    info = msgspec.inspect.type_info(kind)
    assert isinstance(info, msgspec.inspect.StructType)
    return frozenset(field.name for field in info.fields if holds_float(field.type))


def _add_fields(point: Point, message: msgspec.Struct, skip: set[str]) -> Point:
    floats = _float_fields(type(message))
    for name, value in msgspec.structs.asdict(message).items():
        # None and non-finite values have no line-protocol form; they are simply absent.
        if name in skip or value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        # A load read back from InfluxDB may come as the int 100: written as `100i`, it would
        # fix the field as integer, and InfluxDB would refuse every later 102.5.
        point.field(name, float(value) if name in floats else value)
    return point


def _point(measurement: str, message: msgspec.Struct, stamp_s: float) -> Point:
    point = Point(measurement).time(ns(stamp_s), WritePrecision.NS)
    for tag in TAGS:
        point.tag(tag, getattr(message, tag))
    return _add_fields(point, message, _NOT_FIELDS)


def rep_line(rep: RepMessage) -> str:
    """The rep's point. Ingest spends much of its time turning reps into text, so this writes
    it directly from a plan made once, byte for byte as influxdb-client's Point would
    (tests/test_influx_writers.py), in less than half the time."""
    tags = "".join(
        f",{key}{text}" for key, tag in _REP_TAGS if (text := _tag_value(getattr(rep, tag)))
    )
    fields = []
    for name, key, holds_float in _rep_fields():
        value = len(rep.faults) if name == "fault_count" else getattr(rep, name)
        if value is None:
            continue
        if holds_float:
            # As _add_fields has it: a whole number stays a float, non-finite is absent.
            if not math.isfinite(value := float(value)):
                continue
            fields.append(key + _float(value))
        else:
            fields.append(key + _value(value))
    return f"rep{tags} {','.join(fields)} {ns(rep.t_concentric_end)}"


# The rep's tags in line order (sorted), each as `key=`.
_REP_TAGS = tuple((f"{tag.translate(_ESCAPE_KEY)}=", tag) for tag in sorted(TAGS))


@functools.cache
def _rep_fields() -> tuple[tuple[str, str, bool], ...]:
    """The rep's fields in line order (sorted): name, `key=`, and whether it holds a float."""
    floats = _float_fields(RepMessage)
    names = {*RepMessage.__struct_fields__, "fault_count"} - _NOT_FIELDS | {"t_concentric_end"}
    return tuple((n, f"{n.translate(_ESCAPE_KEY)}=", n in floats) for n in sorted(names))


def _tag_value(value: str) -> str:
    text = value.translate(_ESCAPE_KEY)
    return text + " " if text.endswith("\\") else text


def _value(value: Any) -> str:
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    return f'"{str(value).translate(_ESCAPE_STRING)}"'


def fault_points(rep: RepMessage) -> list[Point]:
    points = []
    for fault in rep.faults:
        point = Point("fault").time(ns(rep.t_concentric_end), WritePrecision.NS)
        for tag in TAGS:
            point.tag(tag, getattr(rep, tag))
        point.tag("code", fault.code)
        point.field("severity", fault.severity).field("value", fault.value)
        point.field("threshold", fault.threshold).field("msg_id", rep.msg_id)
        point.field("set_index", rep.set_index).field("rep_index", rep.rep_index)
        points.append(point)
    return points


def path_lines(path: PathMessage) -> list[str]:
    """One `path` point per sample, at t_start + t_s; `rep_msg_id` ties them to their rep's
    point. Written as text from one shared head: a Point per sample would cost the server
    about 2 ms per rep."""
    head = Point("path")
    for tag in TAGS:
        head.tag(tag, getattr(path, tag))
    head.field("rep_msg_id", path.msg_id.removesuffix("/path"))
    head.field("session_id", path.session_id)
    head.field("set_index", path.set_index).field("rep_index", path.rep_index)
    prefix, start_ns = line(head), ns(path.t_start)
    columns = zip(
        path.t_s, path.height_m, path.ap_m, path.lateral_m, path.tilt_deg, path.velocity_mps,
        strict=True,
    )  # fmt: skip
    return [
        # The sample's time is added in ns, so samples keep their even spacing at any epoch.
        f"{prefix},height_m={_float(h)},ap_m={_float(ap)},lateral_m={_float(lat)},"
        f"tilt_deg={_float(tilt)},velocity_mps={_float(v)} {start_ns + ns(t)}"
        for t, h, ap, lat, tilt, v in columns
    ]


def _float(value: float) -> str:
    """A float field as influxdb-client writes one: 1.0 as 1 (a float still: no `i`)."""
    text = repr(float(value))
    return text.removesuffix(".0")


def lines_for(
    message: RepMessage | PathMessage | SetMessage | HealthMessage | StatusMessage,
) -> list[str]:
    """Every line of protocol a message becomes."""
    if isinstance(message, PathMessage):
        return path_lines(message)
    if isinstance(message, RepMessage):
        return [rep_line(message), *map(line, fault_points(message))]
    if isinstance(message, SetMessage):
        return [line(set_point(message))]
    return [line(station_health_point(message))]


def station_health_point(message: HealthMessage | StatusMessage) -> Point:
    """Health reports and online/offline changes share `station_health`, tagged by station."""
    stamp = message.t if isinstance(message, HealthMessage) else message.since
    point = Point("station_health").time(ns(stamp), WritePrecision.NS)
    point.tag("gym", message.gym).tag("station", message.station)
    return _add_fields(point, message, {"gym", "station", "t", "since"})


def offline_line(status: StatusMessage, reported_since: float) -> str:
    """An offline status, stamped where it belongs (wills.py), with the `since` it was sent
    with: what tells it apart when it comes again."""
    return line(station_health_point(status).field("reported_since", reported_since))


def set_point(message: SetMessage) -> Point:
    point = _point("set", message, message.t_end)
    for code, count in message.fault_counts.items():
        point.field(f"faults_{code}", count)
    return point


def alert_point(alert: AlertMessage, written_ns: int, pusher: str | None = None) -> Point:
    """Stamped with the trigger's time, so an alert raised again from a redelivered message
    overwrites itself; the rule is a tag, so dashboards count alerts by rule. When it was
    written tells which of two processes raising it at once lets it out (cooldown.py). An
    alert bound for the notifiers names the process that pushes it and is not yet pushed: the
    one store holds what a killed process still owed (server/alerting.py)."""
    point = _alert_series(alert)
    point.field("severity", alert.severity).field("message", alert.message)
    point.field("written", written_ns)
    if alert.rep_ref is not None:
        point.field("rep_ref", alert.rep_ref)
    if pusher is not None:
        point.field("pusher", pusher).field("pushed", False).field("t", alert.t)
    return point


def pushed_point(alert: AlertMessage) -> Point:
    """The mark that the alert's point has been pushed: the same series and time, one field."""
    return _alert_series(alert).field("pushed", True)


def _alert_series(alert: AlertMessage) -> Point:
    point = Point("alert").time(ns(alert.t), WritePrecision.NS)
    for tag in TAGS:
        value = getattr(alert, tag)
        if value:  # no athlete or lift (a station alert): the tag is absent, InfluxQL's ''
            point.tag(tag, value)
    return point.tag("rule", alert.rule)


DEAD_LETTER_TEXT = 32_000  # characters of the payload kept in InfluxDB (a string field < 64 KB)


def dead_letter_line(letter: DeadLetter) -> str:
    """Tagged by the gym, station and kind its topic names (`_` where it names none), at the
    time it was received; the payload is cut short here only, never on MQTT."""
    where = topics.parse(letter.topic)
    gym, station, kind = where if where is not None else ("_", "_", "_")
    raw = letter.payload if letter.payload is not None else letter.payload_b64 or ""
    point = Point("dead_letter").time(ns(letter.received), WritePrecision.NS)
    point.tag("gym", gym).tag("station", station).tag("kind", kind)
    point.field("reason", letter.reason).field("topic", letter.topic)
    point.field("payload" if letter.payload is not None else "payload_b64", raw[:DEAD_LETTER_TEXT])
    point.field("payload_chars", len(raw)).field("digest", letter_digest(letter))
    return line(point)


def letter_digest(letter: DeadLetter) -> str:
    """What tells a dead letter's message apart, the same whenever it is received: its topic
    and payload, hashed (the point holds only the payload's start)."""
    raw = letter.payload if letter.payload is not None else letter.payload_b64 or ""
    return hashlib.sha256(f"{letter.topic}\n{raw}".encode()).hexdigest()[:32]


def line(point: Point) -> str:
    return str(point.to_line_protocol())


def from_point(row: dict[str, Any], kind: type[M], **absent: object) -> M:
    """A message as its point holds it (a row of `SELECT *`): its tags and fields, with
    `absent` for what a point leaves out (an empty tag, a None field). Raises
    msgspec.ValidationError for a row that is not one."""
    fields = {k: v for k, v in row.items() if k != "time" and v is not None}
    return msgspec.convert({**absent, **fields}, kind)


def advice_point(advice: AdviceMessage) -> Point:
    """Stamped with the end of the set that asked for it, so a redelivered set rewrites its
    advice instead of adding one."""
    return _point("advice", advice, advice.t)
