"""The edge daemon's composition root: sensor → analysis → session → publisher."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from contract.messages import HealthMessage, RepMessage, SetMessage
from edge.analysis import AnalysisSettings, Cue, RepAnalysis, SensorIssue
from edge.config import EdgeConfig
from edge.outbox import Outbox, OutboxFull
from edge.publisher import Publisher
from edge.reference import Reference
from edge.session import Session, SessionInfo
from edge.sources import open_source
from edge.watchdog import Systemd

if TYPE_CHECKING:
    from edge.cue import FormCue

log = logging.getLogger(__name__)
OUTBOX_FILE = "outbox.sqlite"  # in the state dir
FLUSH_S = 10.0  # at the end of a finite (simulated) session, wait this long for the broker


def run_edge(
    config: EdgeConfig,
    stop: threading.Event,
    on_message: Callable[[RepMessage | SetMessage], None] | None = None,
) -> int:
    """Run until the source ends or `stop` is set; returns the number of messages published."""
    lift = config.sim.lift

    analysis = RepAnalysis(
        AnalysisSettings(
            lift=lift,
            load_kg=config.sim.load_kg,
            thresholds=config.thresholds(lift),
            reference=Reference(config.reference.rom_m, config.reference.drift_ap_m),
        )
    )
    cue = _open_cue(config)
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
    outbox = Outbox(config.state.dir / OUTBOX_FILE)
    publisher = Publisher(config.mqtt, config.station.gym, config.station.id, outbox)
    publisher.start()

    def report(problem: str) -> None:
        log.warning("%s", problem)
        health = HealthMessage(
            gym=config.station.gym, station=config.station.id, t=time.time(), sensor_error=problem
        )
        publisher.publish_now(health)

    def send(message: RepMessage | SetMessage) -> None:
        try:
            publisher.submit(message)
        except OutboxFull as exc:
            report(str(exc))
        if on_message:
            on_message(message)

    source = open_source(config, stop, report)
    systemd = Systemd()
    systemd.ready()
    sent = 0
    try:
        for chunk in source:
            systemd.alive()
            events = analysis.feed(chunk)
            for event in events:
                if isinstance(event, Cue) and cue is not None:
                    cue.signal(event.severity)
                elif isinstance(event, SensorIssue):
                    log.warning(
                        "sensor %s at t=%.3f s (%d samples): motion discarded",
                        event.kind,
                        event.t,
                        event.samples,
                    )
            if stop.is_set():
                break
            for message in session.messages(events):
                send(message)
                sent += 1
        for message in session.messages(analysis.finish()):
            send(message)
            sent += 1
        if not publisher.flush(FLUSH_S):
            log.warning("%d messages wait in the outbox for the broker", outbox.depth)
    finally:
        systemd.stopping()
        publisher.stop()
        outbox.close()
        if cue is not None:
            cue.close()
    return sent


def _open_cue(config: EdgeConfig) -> FormCue | None:
    if not config.cue.enabled:
        return None
    from edge.cue import FormCue  # gpiozero is a Pi extra: only a bar with a buzzer needs it

    return FormCue(config.cue.buzzer_pin, config.cue.led_pin)
