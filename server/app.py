"""The server's composition root: config → InfluxDB writer and reader → ingest, with coach
alerts and next-load advice reacting to what it stores, until told to stop."""

from __future__ import annotations

import logging
import threading

from server.advice import Advisor
from server.alerting import Alerts
from server.config import ServerConfig
from server.influx import InfluxReader, WriteError, make_writer
from server.ingest import Ingest
from server.reactions import Reactions

log = logging.getLogger(__name__)
OWED_RETRY_S = 10.0


def run_server(
    config: ServerConfig, stop: threading.Event, subscribed: threading.Event | None = None
) -> None:
    """Run until `stop` is set; `subscribed` is set once the broker has taken the subscription
    (a demo or a test starts its stations then, so no rep goes unheard)."""
    writer = make_writer(config.influx)
    reader = InfluxReader(config.influx)
    name = config.mqtt.client_id or "barbell-server"
    ingest = Ingest(config, writer, name, subscribed=subscribed)
    alerts = Alerts(
        config.alerts,
        reader,
        writer.write,
        lambda topic, payload: ingest.publish(topic, payload),
        v1rm_mps=config.advice.v1rm_mps,
        pusher=name,
    )
    threading.Thread(target=_push_what_is_owed, args=(alerts, stop), daemon=True).start()
    reactions = Reactions(
        alerts, Advisor(config.advice, reader), writer.write, ingest.publish_acknowledged
    )
    ingest.on_stored = reactions
    ingest.start()
    log.info("ingesting from %s into %s", config.mqtt.url, config.influx.url)
    try:
        stop.wait()
    finally:
        ingest.stop()
        reactions.close()
        writer.close()
        log.info("stored %d messages, %d dead letters", ingest.stored, ingest.dead)


def _push_what_is_owed(alerts: Alerts, stop: threading.Event) -> None:
    """The alerts a killed run of this process stored but never pushed, once InfluxDB answers."""
    while True:
        try:
            alerts.push_what_is_owed()
            return
        except WriteError as exc:
            log.warning("cannot look for alerts owed to the notifiers yet: %s", exc)
        if stop.wait(OWED_RETRY_S):
            return
