"""The edge daemon's composition root: sensor → analysis → session → publisher."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from contract.messages import RepMessage, SetMessage
from edge.analysis import AnalysisSettings, RepAnalysis, SensorIssue
from edge.config import EdgeConfig
from edge.publisher import Publisher
from edge.session import Session, SessionInfo
from edge.sources import open_source

log = logging.getLogger(__name__)


def run_edge(
    config: EdgeConfig,
    stop: threading.Event,
    on_message: Callable[[RepMessage | SetMessage], None] | None = None,
) -> int:
    """Run until the source ends or `stop` is set; returns the number of messages published."""
    lift = config.sim.lift
    source = open_source(config, stop)
    analysis = RepAnalysis(AnalysisSettings(lift=lift, load_kg=config.sim.load_kg))
    session = Session(
        SessionInfo(
            gym=config.station.gym,
            station=config.station.id,
            session_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6],
            lift=lift,
            athlete=config.sim.athlete,
            load_kg=config.sim.load_kg,
            epoch_offset_s=time.time(),
        )
    )
    publisher = Publisher(config.mqtt, config.station.gym, config.station.id)
    publisher.start()
    sent = 0
    try:
        for chunk in source:
            events = analysis.feed(chunk)
            for issue in (e for e in events if isinstance(e, SensorIssue)):
                log.warning(
                    "sensor %s at t=%.3f s (%d samples): motion discarded",
                    issue.kind,
                    issue.t,
                    issue.samples,
                )
            if stop.is_set():
                break
            for message in session.messages(events):
                if not publisher.publish(message):
                    log.warning("no PUBACK yet for %s; paho will resend", message.msg_id)
                sent += 1
                if on_message:
                    on_message(message)
        for message in session.messages(analysis.finish()):
            publisher.publish(message)
            sent += 1
            if on_message:
                on_message(message)
    finally:
        publisher.stop()
    return sent
