"""Alerts to coaches' phones, chats and inboxes through apprise, off the ingest path.

One worker thread sends; the ingest only appends to a bounded queue, so a slow or dead notifier
delays nothing but other notifications. When the queue is full the oldest alert waiting is
dropped: the newest is the one a coach can still act on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

import apprise

from contract.errors import ConfigError
from contract.messages import AlertMessage

log = logging.getLogger(__name__)

NOTIFY_TYPE = {
    "info": apprise.NotifyType.INFO,
    "warn": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}


class Notifier:
    def __init__(
        self,
        urls: Sequence[str],
        queue_size: int = 100,
        on_sent: Callable[[AlertMessage], object] = lambda alert: None,
    ) -> None:
        """`on_sent` hears of each alert the notifiers took. Raises ConfigError for a URL
        apprise does not understand; the error names its place in the list, never the URL,
        which may hold a secret."""
        self._on_sent = on_sent
        self._apprise = apprise.Apprise()
        for i, url in enumerate(urls, 1):
            if not self._apprise.add(url):
                raise ConfigError(f"alert URL {i} of {len(urls)} is not one apprise understands")
        self._waiting: deque[AlertMessage] = deque(maxlen=queue_size)
        self._ready = threading.Condition()
        self._closing = False
        self._failing = False
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._worker = threading.Thread(target=self._run, name="alert-notifier", daemon=True)
        self._worker.start()

    def submit(self, alert: AlertMessage) -> None:
        """Queue an alert for the notifiers; returns at once."""
        with self._ready:
            if len(self._waiting) == self._waiting.maxlen:
                self.dropped += 1
                if self.dropped == 1:
                    log.warning("alert notifiers are behind: dropping the oldest alerts")
            self._waiting.append(alert)
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._waiting or self._closing)
                if not self._waiting:
                    return
                alert = self._waiting.popleft()
            self._send(alert)

    def _send(self, alert: AlertMessage) -> None:
        try:
            delivered = bool(
                self._apprise.notify(
                    title=f"{alert.severity}: {alert.station} at {alert.gym}",
                    body=alert.message,
                    notify_type=NOTIFY_TYPE[alert.severity],
                )
            )
        except Exception:  # a notifier plug-in's bug must not end the worker
            log.exception("alert notifier raised")
            delivered = False
        if delivered:
            self.sent += 1
            self._on_sent(alert)
            if self._failing:
                log.info("alert notifications recovered")
                self._failing = False
            return
        self.failed += 1
        if not self._failing:
            # apprise logs each notifier's own reason; this says what it means here, once.
            log.warning("alert notifications failing (%s): coaches may miss alerts", alert.rule)
            self._failing = True

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued, waiting up to `timeout_s`; then stop."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._worker.join(timeout_s)
