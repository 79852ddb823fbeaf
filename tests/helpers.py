"""Small helpers the tests share: querying InfluxDB, waiting for a condition, simulated
sessions through the real edge analysis."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from barbell.services import LocalInfluxDB
from contract.config import MqttSettings
from contract.messages import (
    HealthMessage,
    Message,
    PathMessage,
    RepMessage,
    SetContext,
    SetMessage,
    decode,
)
from contract.mqtt import connect, make_client
from edge.analysis import AnalysisSettings, RepAnalysis
from edge.session import Outgoing, Session, SessionInfo
from hardware.simulate import SimSpec, simulate
from server.app import run_server
from server.config import ServerConfig


def rows(influx: LocalInfluxDB, influxql: str) -> list[dict[str, Any]]:
    """The result rows of one InfluxQL query as dicts of column → value."""
    result = influx.query(influxql)["results"][0]
    assert "error" not in result, result
    out: list[dict[str, Any]] = []
    for series in result.get("series", []):
        tags = series.get("tags", {})
        out += [
            dict(zip(series["columns"], values, strict=True), **tags) for values in series["values"]
        ]
    return out


def wait_for(
    condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


class TcpProxy:
    """A loopback TCP relay that can cut every connection and refuse new ones for a while, as
    flaky gym Wi-Fi does."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                _hang_up(end)

    def cut(self) -> None:
        """Drop every connection and refuse new ones until `restore`."""
        self.cuts += 1
        self._open.clear()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            _hang_up(s)

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()


def _hang_up(end: socket.socket) -> None:
    """Shut down, then close. A bare close while the other pipe thread blocks in `recv` on the
    same socket would leave the connection open (no FIN), and the broker would never send a will."""
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        end.close()


class Listener:
    """An MQTT client that keeps every message on a topic, decoded (a coach's view). A persistent
    one keeps its session, so the broker holds its QoS 1 messages while it is away."""

    def __init__(
        self, broker: str | MqttSettings, name: str, topic: str, persistent: bool = False
    ) -> None:
        """`broker` is a URL, or the settings for a broker that wants TLS files or a password."""
        self.messages: list[Message] = []
        settings = MqttSettings(url=broker) if isinstance(broker, str) else broker
        self.client = make_client(settings, name)
        self.client.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
        self.client.on_message = lambda client, userdata, message: self.messages.append(
            decode(message.payload)
        )
        connect(self.client, settings, clean_start=not persistent)
        wait_for(self.client.is_connected, what=f"the listener on {topic}")

    @property
    def msg_ids(self) -> list[str]:
        return [m.msg_id for m in self.messages if isinstance(m, SetContext)]

    @property
    def health(self) -> list[HealthMessage]:
        return [m for m in self.messages if isinstance(m, HealthMessage)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


SET_SPACING_S = 300.0  # between set starts in a simulated session
# A whole second nearly a day ago: messages stamped from it fall inside the server's window of
# time, and alerts they raise within a day's `push_within_s`.
RECENT_S = float(int(time.time()) - 86000)


def simulated_session(
    lift: str,
    one_rm_kg: float,
    loads_kg: Sequence[float],
    session_id: str,
    start_s: float,
    *,
    athlete: str = "ana",
    gym: str = "g1",
    station: str = "bar1",
    reps: int = 3,
    seed: int = 0,
    faults: tuple[str, ...] = (),
    velocity_scale: float = 1.0,
    rate_hz: float = 1000.0,
) -> list[RepMessage | SetMessage]:
    """A session of one set at each load, simulated for an athlete of known 1RM and day-form
    (velocity against the population profile) and run through the real edge analysis; sets are
    numbered in order and stamped in epoch seconds."""
    messages: list[RepMessage | SetMessage] = []
    for set_index, load_kg in enumerate(loads_kg):
        spec = SimSpec(
            lift=lift,
            reps=reps,
            load_kg=load_kg,
            one_rm_kg=one_rm_kg,
            seed=seed + set_index,
            athlete=athlete,
            faults=faults,
            velocity_scale=velocity_scale,
            rate_hz=rate_hz,
        )
        sim = simulate(spec)
        analysis = RepAnalysis(AnalysisSettings(lift=lift, load_kg=load_kg))
        at = start_s + set_index * SET_SPACING_S
        session = Session(SessionInfo(gym, station, session_id, lift, athlete, load_kg, at))
        out: list[Outgoing] = []
        for chunk in sim.recording.split(50):
            out += session.messages(analysis.feed(chunk))
        out += session.messages(analysis.finish())
        for message in out:  # each simulation is its own set 0; number it in the session
            if isinstance(message, PathMessage):
                continue  # what these sessions are for (alerts, advice) reads no path
            suffix = message.msg_id.rsplit("/", 1)[1]
            msg_id = f"{gym}/{station}/{session_id}/s{set_index}/{suffix}"
            messages.append(msgspec.structs.replace(message, set_index=set_index, msg_id=msg_id))
    return messages


class Webhook:
    """A local HTTP endpoint that keeps each JSON body posted to it. It answers after
    `delay_s`, and with 500 while `failing` is set."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failing = False
        self.refused = 0  # posts answered with 500
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay_s)
                if outer.failing:
                    outer.refused += 1
                else:
                    outer.bodies.append(json.loads(body))
                self.send_response(500 if outer.failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self._server.server_address[1]}/alerts"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def running_server(config: ServerConfig) -> Iterator[None]:
    """The real server (ingest, alerts, advice) in a thread, subscribed before the body runs."""
    stop, subscribed = threading.Event(), threading.Event()
    server = threading.Thread(target=run_server, args=(config, stop, subscribed))
    server.start()
    try:
        assert subscribed.wait(20), "the server did not subscribe within 20 s"
        yield
    finally:
        stop.set()
        server.join(30)
