"""`barbell report`: one session on one page, as a PNG a coach can pin on the wall.

Two layers: `load_session` reads a session from InfluxDB (reps, faults, bar path, alerts and
the advice it led to) into plain data, and `draw` turns that data into a figure. The demo and
the command share both, and the tests check the data layer against the simulator's truth.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from contract.errors import InputError
from server.influxql import epoch_ns, quoted


class Reader(Protocol):
    def query(self, influxql: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class FaultMark:
    code: str
    severity: str
    value: float
    threshold: float


@dataclass(frozen=True)
class RepRow:
    msg_id: str
    set_index: int
    rep_index: int
    load_kg: float | None
    mean_velocity_mps: float | None
    rom_m: float
    velocity_loss_pct: float | None
    faults: tuple[FaultMark, ...] = ()


@dataclass(frozen=True)
class PathTrace:
    """One rep's bar path: metres from where the rep started, one entry per sample."""

    set_index: int
    rep_index: int
    ap_m: tuple[float, ...]
    height_m: tuple[float, ...]


@dataclass(frozen=True)
class AlertRow:
    t_s: float
    rule: str
    severity: str
    message: str


@dataclass
class SessionData:
    session_id: str
    gym: str
    station: str
    athlete: str
    lift: str
    started_s: float  # UTC epoch seconds of the first rep's concentric end
    reps: list[RepRow]
    paths: list[PathTrace] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    advice: str | None = None  # the last advice the session led to, in words

    def sets(self) -> dict[int, list[RepRow]]:
        by_set: dict[int, list[RepRow]] = defaultdict(list)
        for rep in self.reps:
            by_set[rep.set_index].append(rep)
        return dict(sorted(by_set.items()))

    @property
    def faulty_reps(self) -> list[RepRow]:
        return [rep for rep in self.reps if rep.faults]


def latest_session(reader: Reader, athlete: str | None = None, station: str | None = None) -> str:
    """The session id of the latest rep, of this athlete and/or at this station."""
    where = [
        f'"{tag}" = {quoted(value)}'
        for tag, value in (("athlete", athlete), ("station", station))
        if value
    ]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = reader.query(f'SELECT last("session_id") FROM "rep"{clause}')
    if not rows or not rows[0].get("last"):
        who = " and ".join(
            f"{tag} {value!r}"
            for tag, value in (("athlete", athlete), ("station", station))
            if value
        )
        raise InputError(f"no session found{' for ' + who if who else ''} in InfluxDB")
    return str(rows[0]["last"])


def load_session(reader: Reader, session_id: str) -> SessionData:
    """A session's reps with their faults, its bar path, alerts and advice, from InfluxDB.
    Raises InputError if the session has no reps stored."""
    sid = quoted(session_id)
    rep_rows = reader.query(f'SELECT * FROM "rep" WHERE "session_id" = {sid} GROUP BY *')
    if not rep_rows:
        raise InputError(f"session {session_id!r} not found: no reps stored for it")
    first = rep_rows[0]
    start_ns = min(epoch_ns(row["time"]) for row in rep_rows)
    end_ns = max(epoch_ns(row["time"]) for row in rep_rows)
    station = quoted(first["station"])
    window = f'"station" = {station} AND time >= {start_ns} AND time <= {end_ns}'

    marks: dict[str, list[FaultMark]] = defaultdict(list)
    for row in reader.query(f'SELECT * FROM "fault" WHERE {window} GROUP BY "code"'):
        marks[row["msg_id"]].append(
            FaultMark(row["code"], row["severity"], row["value"], row["threshold"])
        )
    reps = sorted(
        (
            RepRow(
                msg_id=row["msg_id"],
                set_index=int(row["set_index"]),
                rep_index=int(row["rep_index"]),
                load_kg=row.get("load_kg"),
                mean_velocity_mps=row.get("mean_velocity_mps"),
                rom_m=float(row["rom_m"]),
                velocity_loss_pct=row.get("velocity_loss_pct"),
                faults=tuple(sorted(marks.get(row["msg_id"], ()), key=lambda m: m.code)),
            )
            for row in rep_rows
        ),
        key=lambda rep: (rep.set_index, rep.rep_index),
    )
    data = SessionData(
        session_id=session_id,
        gym=first["gym"],
        station=first["station"],
        athlete=first.get("athlete", ""),
        lift=first["lift"],
        started_s=start_ns / 1e9,
        reps=reps,
        paths=_paths(reader, sid),
    )
    # A set's end (and its advice) and the alerts its last rep raised come a little after the
    # last rep's concentric end.
    later_ns = end_ns + 120 * 10**9
    alert_window = f'"station" = {station} AND time >= {start_ns} AND time <= {later_ns}'
    ids = {rep.msg_id for rep in reps}
    for row in reader.query(f'SELECT * FROM "alert" WHERE {alert_window} GROUP BY "rule"'):
        if row.get("rep_ref") in ids:
            data.alerts.append(
                AlertRow(epoch_ns(row["time"]) / 1e9, row["rule"], row["severity"], row["message"])
            )
    advice = reader.query(
        f'SELECT "reason", "next_load_kg" FROM "advice" WHERE "athlete" = '
        f'{quoted(data.athlete)} AND "lift" = {quoted(data.lift)} AND {alert_window} '
        "ORDER BY time DESC LIMIT 1"
    )
    if advice:
        data.advice = str(advice[0]["reason"])
    return data


def _paths(reader: Reader, sid: str) -> list[PathTrace]:
    rows = reader.query(
        'SELECT "set_index", "rep_index", "ap_m", "height_m" FROM "path" '
        f'WHERE "session_id" = {sid}'
    )
    samples: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for row in rows:  # in time order, as InfluxDB returns them
        key = (int(row["set_index"]), int(row["rep_index"]))
        samples[key].append((float(row["ap_m"]), float(row["height_m"])))
    return [
        PathTrace(s, r, tuple(p[0] for p in points), tuple(p[1] for p in points))
        for (s, r), points in sorted(samples.items())
    ]


def write_report(data: SessionData, out: Path) -> Path:
    """Draw the session and save it as a PNG of WIDTH × HEIGHT pixels."""
    import matplotlib.pyplot as plt

    from barbell.report_figure import DPI, draw

    figure = draw(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=DPI)
    plt.close(figure)
    return out
