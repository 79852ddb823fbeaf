"""A station's offline status, placed in time: stored once, before the station came back, and
alerted on only while it is news.

An offline status is a last will (written when its connection began, so its `since` is that
connection's) or a clean stop's. The moment the station went quiet is when it arrives, so it is
stamped then. The server can see the same one again (redelivered after a crash before its
acknowledgement; handed over retained at each subscription), and late (queued while no server
ran, after the station had come back). So its point keeps the `since` it was sent with
(`reported_since`), and before it is stored the station's statuses since then are read:
- an offline point with the same `reported_since`: this status again, stored already;
- an online status of a later connection (stored, or in the same batch): the station is back.
  The offline point goes just before that, and raises no alert.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from contract.messages import StatusMessage
from server.cooldown import Reader
from server.influxql import epoch_ns, ns, quoted

BEFORE_S = 0.001  # a late offline point is placed this long before the station came back


@dataclass(frozen=True)
class Placed:
    status: StatusMessage  # stamped where it belongs
    reported_since: float  # the `since` it was sent with
    news: bool  # the station is still offline as far as the server knows: alert on it


def on_arrival(status: StatusMessage, arrived_s: float) -> Placed:
    """Where an offline status goes when the station's statuses cannot be read: when it
    arrived, as news."""
    return Placed(msgspec.structs.replace(status, since=arrived_s), status.since, news=True)


def place(
    reader: Reader, status: StatusMessage, arrived_s: float, back_since: float | None = None
) -> Placed | None:
    """Where an offline `status` that arrived at `arrived_s` belongs; None if it is stored
    already. `back_since`: the latest online status of this station in the same batch. Raises
    WriteError when InfluxDB cannot answer."""
    reported, reported_ns = status.since, ns(status.since)
    rows = reader.query(
        'SELECT "state", "reported_since" FROM "station_health"'
        f' WHERE "gym" = {quoted(status.gym or "")} AND "station" = {quoted(status.station or "")}'
        f" AND time >= {reported_ns}"
        """ AND ("state" = 'online' OR "state" = 'offline')"""
    )
    if any(row["state"] == "offline" and row["reported_since"] == reported for row in rows):
        return None
    # In ns, as the points are stamped: the online status of the will's own connection is
    # stamped at its very `since`, and is not a return.
    backs = [epoch_ns(row["time"]) for row in rows if row["state"] == "online"]
    if back_since is not None:
        backs.append(ns(back_since))
    backs = [t for t in backs if t > reported_ns]
    stamp = min([arrived_s, *(t / 1e9 - BEFORE_S for t in backs)])
    return Placed(msgspec.structs.replace(status, since=stamp), reported, news=not backs)
