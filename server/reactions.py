"""What the server does with messages once InfluxDB has them: coach alerts for any of them,
and next-load advice when a set ends. Both read and write InfluxDB only, so any process on the
shared subscription, or a redelivery, gives the same result."""

from __future__ import annotations

import logging
from collections.abc import Callable

from contract import topics
from contract.messages import AdviceMessage, SetMessage, encode
from server.advice import Advisor
from server.alerting import Alerts
from server.influx import WriteError
from server.points import advice_point, line
from server.validation import Stored

log = logging.getLogger(__name__)
Publish = Callable[[str, bytes, bool], object]  # topic, payload, retained


class Reactions:
    def __init__(
        self,
        alerts: Alerts,
        advisor: Advisor,
        write_lines: Callable[[list[str]], object],
        publish: Publish,
    ) -> None:
        self._alerts = alerts
        self._advisor = advisor
        self._write_lines = write_lines
        self._publish = publish

    def __call__(self, stored: list[tuple[str, Stored]]) -> None:
        """Raises WriteError when InfluxDB fails and trying again can help, so the ingest holds
        the batch and retries: alerts already raised are in the cooldown's record, and advice
        overwrites itself. Any other failure costs only its own message's reactions."""
        for topic, message in stored:
            try:
                self._alerts.consider(message, topic)
                if isinstance(message, SetMessage):
                    self._advise(message)
            except WriteError as exc:
                if exc.retry:
                    raise
                log.error("no alerts or advice for a message on %s: %s", topic, exc)
            except Exception:
                log.exception("no alerts or advice for a message on %s", topic)

    def _advise(self, done: SetMessage) -> None:
        """Stored before it is published, as alerts are: what a coach sees is on record. It is
        retained, so a station's display shows it whenever it connects."""
        advice = self._advisor.advise(done)
        self._write_lines([line(advice_point(advice))])
        if not self._advisor.superseded(advice):
            self._publish(_advice_topic(advice), encode(advice), True)

    def close(self) -> None:
        self._alerts.close()


def _advice_topic(advice: AdviceMessage) -> str:
    return topics.topic(advice.gym, advice.station, "advice")
