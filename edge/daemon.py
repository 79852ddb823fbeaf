"""The edge daemon's composition root: sensor → analysis → session → publisher."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from contract.errors import InputError
from contract.messages import HealthMessage, plain
from edge.analysis import Cue, SensorIssue
from edge.commands import CommandInbox
from edge.config import EdgeConfig
from edge.health import Health
from edge.outbox import Outbox, OutboxFull
from edge.publisher import Publisher
from edge.session import Outgoing
from edge.sources import open_source
from edge.station import Station
from edge.watchdog import Systemd

if TYPE_CHECKING:
    from edge.button import StationButton
    from edge.cue import FormCue

log = logging.getLogger(__name__)
OUTBOX_FILE = "outbox.sqlite"  # in the state dir
FLUSH_S = 10.0  # at the end of a finite (simulated) session, wait this long for the broker


def run_edge(
    config: EdgeConfig,
    stop: threading.Event,
    on_message: Callable[[Outgoing], None] | None = None,
) -> int:
    """Run until the source ends or `stop` is set; returns the number of messages published."""
    station = Station(config)
    cue = _open_cue(config)
    outbox = Outbox(config.state.dir / OUTBOX_FILE)

    def report(problem: str) -> None:
        log.warning("%s", problem)
        publisher.publish_now(
            HealthMessage(
                gym=config.station.gym,
                station=config.station.id,
                t=time.time(),
                sensor_error=plain(problem),
            )
        )

    commands = CommandInbox(report)
    button = _open_button(config, commands)
    publisher = Publisher(
        config.mqtt, config.station.gym, config.station.id, outbox, on_command=commands.deliver
    )
    publisher.start()
    sent = 0

    def send(messages: list[Outgoing]) -> None:
        nonlocal sent
        for message in messages:
            try:
                publisher.submit(message)
                sent += 1
            except OutboxFull as exc:
                report(str(exc))
            if on_message:
                on_message(message)

    source = open_source(config, stop, report)
    health = Health(config.station.gym, config.station.id, config.station.health_period_s)
    systemd = Systemd()
    systemd.ready()
    try:
        for chunk in source:
            systemd.alive()
            health.count(chunk, config.sensor.rate_hz)
            if health.due():
                publisher.publish_now(health.report(outbox.depth))
            for command in commands.take():
                try:
                    send(station.apply(command))
                except InputError as exc:
                    report(str(exc))
            events = station.feed(chunk)
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
            send(station.messages(events))
            if stop.is_set():
                break
        send(station.messages(station.analysis.finish()))
        if not publisher.flush(FLUSH_S):
            log.warning("%d messages wait in the outbox for the broker", outbox.depth)
    finally:
        systemd.stopping()
        publisher.stop()
        outbox.close()
        for part in (cue, button):
            if part is not None:
                part.close()
    return sent


def _open_cue(config: EdgeConfig) -> FormCue | None:
    if not config.cue.enabled:
        return None
    from edge.cue import FormCue  # gpiozero is a Pi extra: only a bar with a buzzer needs it

    return FormCue(config.cue.buzzer_pin, config.cue.led_pin)


def _open_button(config: EdgeConfig, commands: CommandInbox) -> StationButton | None:
    if not config.button.enabled:
        return None
    from edge.button import StationButton

    return StationButton(config.button.pin, config.button.hold_s, commands.put)
