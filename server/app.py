"""The server's composition root: config → writer → ingest, until told to stop."""

from __future__ import annotations

import logging
import threading

from server.config import ServerConfig
from server.influx import make_writer
from server.ingest import Ingest

log = logging.getLogger(__name__)


def run_server(config: ServerConfig, stop: threading.Event) -> None:
    writer = make_writer(config.influx)
    ingest = Ingest(config, writer, client_id=config.mqtt.client_id or "barbell-server")
    ingest.start()
    log.info("ingesting from %s into %s", config.mqtt.url, config.influx.url)
    try:
        stop.wait()
    finally:
        ingest.stop()
        writer.close()
        log.info("stored %d messages, %d dead letters", ingest.stored, ingest.dead)
