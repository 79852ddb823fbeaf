"""The alert cooldown, held across server processes by InfluxDB's `alert` measurement.

Processes share no state, so "has a coach just been told this?" is asked of the one store: an
alert of the same gym, station, athlete and rule within the cooldown of the new one's time. The
times are the triggers' own, so the check is the same whatever order or process messages land
in, and a redelivered trigger finds the alert it raised before. Alerts this process raised are
remembered, so a rule firing rep after rep costs no query.

Two processes can pass the check for one key at once (InfluxDB has no compare-and-set). So each
alert is stored with when it was written, and once written the store is read again: of the
alerts of one key within the cooldown, only the first written goes out. A process that reads
before the other writes wrote first, and the other then reads its alert, so one goes out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol

from contract.messages import AlertMessage
from server.influxql import epoch_ns, ns, quoted

Key = tuple[str, str, str, str]
KEEP = 8  # recent alert times remembered per key


class Reader(Protocol):
    def query(self, influxql: str) -> list[dict[str, Any]]: ...


class Cooldown:
    def __init__(self, reader: Reader, cooldown_s: float) -> None:
        self._reader = reader
        self._cooldown_s = cooldown_s
        self._recent: defaultdict[Key, list[float]] = defaultdict(list)

    def holds(self, alert: AlertMessage) -> bool:
        """Whether an alert of the same key lies within the cooldown either side of this one's
        time (either side: messages of one set may be handled out of order by N processes).
        Raises WriteError when InfluxDB cannot answer."""
        key = _key(alert)
        if any(abs(alert.t - t) <= self._cooldown_s for t in self._recent.get(key, ())):
            return True
        return bool(self._around(alert, '"severity"', " LIMIT 1"))

    def first(self, alert: AlertMessage, written_ns: int) -> bool:
        """Whether this alert, stored at `written_ns`, is the first written of its key within
        the cooldown: the one that goes out. Raises WriteError when InfluxDB cannot answer."""
        own = (written_ns, ns(alert.t))
        for row in self._around(alert, '"written"'):
            if row["written"] is not None and (row["written"], epoch_ns(row["time"])) < own:
                return False
        return True

    def _around(self, alert: AlertMessage, fields: str, limit: str = "") -> list[dict[str, Any]]:
        """Alerts of the same key within the cooldown either side of this one's time."""
        gym, station, athlete, rule = _key(alert)
        lo, hi = max(ns(alert.t - self._cooldown_s), 0), ns(alert.t + self._cooldown_s)
        return self._reader.query(
            f'SELECT {fields} FROM "alert" WHERE "gym" = {quoted(gym)}'
            f' AND "station" = {quoted(station)} AND "athlete" = {quoted(athlete)}'
            f' AND "rule" = {quoted(rule)} AND time >= {lo} AND time <= {hi}{limit}'
        )

    def note(self, alert: AlertMessage) -> None:
        """Remember an alert this process has stored."""
        times = self._recent[_key(alert)]
        times.append(alert.t)
        del times[:-KEEP]


def _key(alert: AlertMessage) -> Key:
    return (alert.gym, alert.station, alert.athlete, alert.rule)
