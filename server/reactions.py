"""What the server does with messages once InfluxDB has them: coach alerts for any of them,
and next-load advice when a set ends. Both read and write InfluxDB only, so any process on the
shared subscription, or a redelivery, gives the same result."""

from __future__ import annotations

from collections.abc import Callable

from contract import topics
from contract.messages import AdviceMessage, SetMessage, encode
from server.advice import Advisor
from server.alerting import Alerts
from server.points import advice_point, line
from server.validation import Stored

Publish = Callable[[str, bytes, bool], object]  # topic, payload, retained


class Reactions:
    def __init__(
        self, alerts: Alerts, advisor: Advisor, write_lines: Callable[[list[str]], object]
    ) -> None:
        self._alerts = alerts
        self._advisor = advisor
        self._write_lines = write_lines

    def __call__(self, stored: list[tuple[str, Stored]]) -> None:
        """Raises WriteError when InfluxDB fails, so the ingest holds the batch and retries:
        alerts already raised are in the cooldown's record, and advice overwrites itself."""
        for topic, message in stored:
            self._alerts.consider(message, topic)
            if isinstance(message, SetMessage):
                self._write_lines([line(advice_point(self._advisor.advise(message)))])

    def close(self) -> None:
        self._alerts.close()


def advice_publisher(publish: Publish) -> Callable[[AdviceMessage], None]:
    """Advice goes out retained, so a station's display shows it whenever it connects."""

    def send(advice: AdviceMessage) -> None:
        publish(topics.topic(advice.gym, advice.station, "advice"), encode(advice), True)

    return send
