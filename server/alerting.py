"""Coach alerts end to end: rules, the cooldown, then store, publish and notify.

The ingest calls `consider` after a message's own write succeeded. An alert is stored before it
is published, so the `alert` point is the cooldown's record: a crash between the two loses one
push at most, and a redelivered trigger never raises a second one. Publishing queues in paho and
notifying queues for a worker thread, so neither blocks the ingest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from contract import topics
from contract.messages import AlertMessage, Message, encode
from server.alerts import AlertRules, AlertSettings
from server.cooldown import Cooldown, Reader
from server.notify import Notifier
from server.points import alert_point, line

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
    ) -> None:
        """`v1rm_mps`: per lift, the velocities at 1RM the advice uses, for near failure."""
        self._rules = AlertRules(settings.rules, v1rm_mps)
        self._cooldown = Cooldown(reader, settings.cooldown_s)
        self._write_lines = write_lines
        self._publish = publish
        urls = settings.notify_urls()
        self._notifier = Notifier(urls, settings.queue_size) if urls else None
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
                self._write_lines([line(alert_point(alert))])
                self._cooldown.note(alert)
            log.info("alert %s: %s", alert.rule, alert.message)
            self._publish(topics.topic(alert.gym, alert.station, "alert"), encode(alert))
            if self._notifier is not None:
                self._notifier.submit(alert)
            raised.append(alert)
        return raised

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the notifiers send what is queued, up to `timeout_s`."""
        if self._notifier is not None:
            self._notifier.close(timeout_s)
