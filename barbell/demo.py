"""`barbell demo`: broker, database, server and a simulated station on this machine, live.

It starts its own Mosquitto and InfluxDB unless given URLs, shows each rep as it crosses the
broker, and at the end counts what reached InfluxDB. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from pathlib import Path

import msgspec
import paho.mqtt.client as mqtt
from rich.console import Console

from barbell.services import LocalInfluxDB, LocalMosquitto
from contract import topics
from contract.config import MqttSettings
from contract.messages import RepMessage, SetMessage, decode
from contract.mqtt import connect, make_client
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from server.config import InfluxSettings, ServerConfig
from server.influx import make_writer
from server.ingest import Ingest

console = Console()


def _viewer(settings: MqttSettings) -> mqtt.Client:
    """A coach's-eye view: every rep and set message as the broker delivers it."""
    client = make_client(settings, client_id="barbell-demo-viewer")

    def on_connect(client, userdata, flags, reason, properties) -> None:
        client.subscribe(f"{topics.ROOT}/+/+/#", qos=1)

    def on_message(client, userdata, message: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
            shown = decode(message.payload)
            if isinstance(shown, RepMessage):
                rep = shown
                console.print(
                    f"[bold]{rep.station}[/] set {rep.set_index + 1} rep {rep.rep_index + 1}: "
                    f"ROM {rep.rom_m * 100:5.1f} cm  MCV {rep.mean_velocity_mps or 0:4.2f} m/s  "
                    f"loss {rep.velocity_loss_pct or 0:3.0f} %"
                )
            elif isinstance(shown, SetMessage):
                console.print(
                    f"[green]{shown.station} set {shown.set_index + 1} done:[/] {shown.reps} reps, "
                    f"velocity loss {shown.velocity_loss_pct or 0:.0f} %"
                )

    client.on_connect = on_connect
    client.on_message = on_message
    connect(client, settings, clean_start=True)
    return client


def _count_reps(influx: LocalInfluxDB | None) -> int | None:
    if influx is None:
        return None
    result = influx.query('SELECT count("rom_m") FROM "rep"')["results"][0]
    series = result.get("series")
    return int(series[0]["values"][0][1]) if series else 0


def run_demo(
    mqtt_url: str | None, influx_url: str | None, sets: int = 2, reps: int = 5, seed: int = 7
) -> int:
    with contextlib.ExitStack() as stack:
        broker = None if mqtt_url else stack.enter_context(LocalMosquitto())
        influx = None if influx_url else stack.enter_context(LocalInfluxDB())
        mqtt_settings = MqttSettings(url=mqtt_url or broker.url)  # type: ignore[union-attr]
        influx_settings = InfluxSettings(url=influx_url or influx.url)  # type: ignore[union-attr]
        console.print(f"broker {mqtt_settings.url}, InfluxDB {influx_settings.url}")

        writer = make_writer(influx_settings)
        stack.callback(writer.close)
        ingest = Ingest(
            ServerConfig(mqtt=mqtt_settings, influx=influx_settings),
            writer,
            client_id="barbell-demo-server",
        )
        ingest.start()
        stack.callback(ingest.stop)
        viewer = _viewer(mqtt_settings)
        stack.callback(viewer.loop_stop)
        stack.callback(viewer.disconnect)

        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="barbell-demo-")))
        station = EdgeConfig(
            mqtt=mqtt_settings,
            station=StationSettings(gym="demo-gym", id="bar1"),
            sim=SimSettings(lift="hip_thrust", sets=sets, reps=reps, seed=seed, athlete="ana"),
            state=StateSettings(dir=state),
        )
        stop = threading.Event()
        published: list[int] = []
        edge = threading.Thread(
            target=lambda: published.append(run_edge(station, stop)), daemon=True
        )
        console.print(f"station bar1: {sets} sets of {reps} hip thrusts (Ctrl-C stops)")
        edge.start()
        try:
            while edge.is_alive():
                edge.join(0.2)
            deadline = time.monotonic() + 10
            while published and ingest.stored < published[0] and time.monotonic() < deadline:
                time.sleep(0.1)
        except KeyboardInterrupt:
            console.print("stopping")
            stop.set()
            edge.join(5)
            return 130
        stored = _count_reps(influx)
        if stored is not None:
            console.print(f"[bold]{stored} rep points in InfluxDB[/] ({influx_settings.url})")
    return 0
