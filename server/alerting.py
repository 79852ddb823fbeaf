"""Coach alerts end to end: rules, the cooldown, then store, publish and notify.

The ingest calls `consider` after a message's own write succeeded. An alert is stored before it
is published, so the `alert` point is the cooldown's record, and a redelivered trigger never
raises a second one. Publishing queues in paho and notifying queues for a worker thread, so
neither blocks the ingest. The queue is in memory, so the point also says which process owes
the push and whether it is done: a process killed with pushes queued sends them when it is back
(same client id), those of the last `push_within_s`, so each alert is pushed at least once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from contract import topics
from contract.messages import AlertMessage, Message, encode
from server.alerts import AlertRules, AlertSettings
from server.cooldown import Cooldown, Reader
from server.influx import WriteError
from server.influxql import quoted
from server.notify import Notifier
from server.points import alert_point, from_point, line, pushed_point

log = logging.getLogger(__name__)


class Alerts:
    """`write_lines` stores line protocol (a Writer's `write`: raises WriteError); `publish`
    sends a payload to a topic with QoS 1, not retained."""

    def __init__(
        self,
        settings: AlertSettings,
        reader: Reader,
        write_lines: Callable[[list[str]], object],
        publish: Callable[[str, bytes], object],
        v1rm_mps: Mapping[str, float] = {},
        pusher: str = "barbell-server",
    ) -> None:
        """`v1rm_mps`: per lift, the velocities at 1RM the advice uses, for near failure;
        `pusher`: this process, by a name it keeps across restarts (its client id)."""
        self._rules = AlertRules(settings.rules, v1rm_mps)
        self._cooldown = Cooldown(reader, settings.cooldown_s)
        self._reader = reader
        self._write_lines = write_lines
        self._publish = publish
        self._pusher = pusher
        self._push_within_s = settings.push_within_s
        urls = settings.notify_urls()
        self._notifier = Notifier(urls, settings.queue_size, on_sent=self._pushed) if urls else None
        # One alert at a time per process between the cooldown check and the write, so two
        # ingest threads cannot both pass the check for the same key.
        self._lock = threading.Lock()

    def consider(self, message: Message, topic: str) -> list[AlertMessage]:
        """The alerts `message`, which arrived on `topic`, raises past the cooldown: stored,
        published and queued for the notifiers. Raises WriteError when InfluxDB fails; the
        message can then be retried whole: the alerts raised before the failure are stored, so
        the cooldown holds them back."""
        where = topics.parse(topic)
        if where is None:
            return []
        raised = []
        for alert in self._rules.evaluate(message, where):
            with self._lock:
                if self._cooldown.holds(alert):
                    continue
                pusher = self._pusher if self._notifier is not None else None
                written_ns = time.time_ns()
                self._write_lines([line(alert_point(alert, written_ns, pusher))])
                self._cooldown.note(alert)
            if not self._cooldown.first(alert, written_ns):
                log.info(
                    "alert %s raised at once by another process: it goes out there", alert.rule
                )
                if self._notifier is not None:
                    self._pushed(alert)  # owed by no one
                continue
            log.info("alert %s: %s", alert.rule, alert.message)
            self._publish(topics.topic(alert.gym, alert.station, "alert"), encode(alert))
            if self._notifier is not None:
                self._notifier.submit(alert)
            raised.append(alert)
        return raised

    def push_what_is_owed(self) -> int:
        """Queue again the alerts this process stored but never pushed, within `push_within_s`
        (it was killed first, or the notifiers failed); how many. Raises WriteError when
        InfluxDB cannot answer."""
        if self._notifier is None:
            return 0
        within = f"{round(self._push_within_s)}s"
        rows = self._reader.query(
            'SELECT * FROM "alert" WHERE "pushed" = false'
            f' AND "pusher" = {quoted(self._pusher)} AND time > now() - {within}'
        )
        for row in rows:
            # `t` is kept as a field too: the point's time, to the ns, for the mark.
            self._notifier.submit(from_point(row, AlertMessage, athlete=""))
        if rows:
            log.info("pushing %d alerts stored earlier but never pushed", len(rows))
        return len(rows)

    def _pushed(self, alert: AlertMessage) -> None:
        try:
            self._write_lines([line(pushed_point(alert))])
        except WriteError as exc:  # pushed again after a restart: at least once
            log.warning("cannot mark alert %s pushed: %s", alert.rule, exc)

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the notifiers send what is queued, up to `timeout_s`."""
        if self._notifier is not None:
            self._notifier.close(timeout_s)
