"""What the server does with messages once InfluxDB has them: coach alerts for any of them,
and next-load advice when a set ends. Both read and write InfluxDB only, so any process on the
shared subscription, or a redelivery, gives the same result.

A set whose reps are all stored is advised at once, on the ingest's worker. One whose reps are
not yet stored (another process has them, or they are late) waits for them on a thread of its
own: waiting there would hold every gym's ingest for `wait_for_reps_s` a set. Its message is
acknowledged meanwhile, so a server that dies within those seconds loses that set's advice (the
set is stored, and the next set's advice reads it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from contract import topics
from contract.messages import AdviceMessage, SetMessage, encode
from server.advice import Advisor
from server.alerting import Alerts
from server.influx import WriteError
from server.points import advice_point, line
from server.validation import Stored

log = logging.getLogger(__name__)
# topic, payload, retained; whether the broker acknowledged it
Publish = Callable[[str, bytes, bool], bool]


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
        self._waiting: list[tuple[float, SetMessage]] = []  # (give up at, set), in order
        self._lock = threading.Condition()
        self._closing = False
        self._waiter = threading.Thread(target=self._wait_for_reps, name="advice", daemon=True)
        self._waiter.start()

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
        advice = self._advisor.advise_if_whole(done)
        if advice is not None:
            self._give(advice)
            return
        with self._lock:
            give_up_at = time.monotonic() + self._advisor.settings.wait_for_reps_s
            self._waiting.append((give_up_at, done))
            self._lock.notify()

    def _give(self, advice: AdviceMessage) -> None:
        """Stored before it is published, as alerts are: what a coach sees is on record. It is
        retained, so a station's display shows it whenever it connects, and what is retained
        must be the station's newest: a set delivered again, or advised by another process
        beside a later one, is not put back over it. So what is published is the newest stored,
        and once the broker has it the store is read again: if a newer advice was stored
        meanwhile, its publish may have landed first, and it is published again after."""
        self._write_lines([line(advice_point(advice))])
        published = None
        newest = self._advisor.newest(advice.gym, advice.station)  # this one, or a later one
        while newest is not None and (published is None or newest.t > published.t):
            if not self._publish(_advice_topic(newest), encode(newest), True):
                return  # the connection is gone: whoever publishes next publishes the newest
            published, newest = newest, self._advisor.newest(advice.gym, advice.station)

    def _wait_for_reps(self) -> None:
        """Sets waiting for their reps, each looked at again every POLL_S until they are all
        stored or its wait is over (at once when closing)."""
        while True:
            with self._lock:
                while not self._waiting and not self._closing:
                    self._lock.wait()
                if not self._waiting:
                    return
                waiting, closing = list(self._waiting), self._closing
            for give_up_at, done in waiting:
                if self._settled(done, final=closing or time.monotonic() >= give_up_at):
                    with self._lock:
                        self._waiting.remove((give_up_at, done))
            with self._lock:
                if self._waiting and not self._closing:
                    self._lock.wait(POLL_S)

    def _settled(self, done: SetMessage, final: bool) -> bool:
        """Advise `done` if its reps are in (or `final`); False while it is to wait on, for
        its reps or for InfluxDB to come back."""
        try:
            advice = self._advisor.advise(done) if final else self._advisor.advise_if_whole(done)
            if advice is None:
                return False
            self._give(advice)
        except WriteError as exc:
            if exc.retry and not self._closing:
                log.warning("advice waits for InfluxDB: %s", exc)
                return False
            log.error("no advice for a set on %s: %s", done.station, exc)
        except Exception:
            log.exception("no advice for a set on %s", done.station)
        return True

    def close(self) -> None:
        """Advise the sets still waiting from what is stored, then stop."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._waiter.join()
        self._alerts.close()


POLL_S = 0.25  # how often a set waiting for its reps looks again


def _advice_topic(advice: AdviceMessage) -> str:
    return topics.topic(advice.gym, advice.station, "advice")
