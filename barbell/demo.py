"""`barbell demo`: the whole pipeline on this machine, live.

It starts its own Mosquitto and InfluxDB unless given URLs, runs the server (ingest, coach
alerts, load advice) and two simulated stations: Ana doing hip thrusts on bar1 and Ben doing
RDLs on bar2, with some faulty reps. A live view shows what a coach's display would receive;
at the end come a summary per athlete and a PNG report of each session, read back from InfluxDB.
Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler

from barbell.live_view import Board, lift_name, watch
from barbell.report import load_session, write_report
from barbell.services import LocalInfluxDB, LocalMosquitto
from contract.config import MqttSettings
from contract.errors import BarbellError
from edge.config import EdgeConfig, SimSettings, StateSettings, StationSettings
from edge.daemon import run_edge
from server.app import run_server
from server.config import InfluxSettings, ServerConfig
from server.influx import InfluxReader

GYM = "demo-gym"
SETTLE_S = 20.0  # after the stations finish, how long the server may take to store and advise


@dataclass(frozen=True)
class DemoStation:
    id: str
    athlete: str
    lift: str
    load_kg: float  # the top set's; the sets before it ramp up to it
    faults: tuple[str, ...]  # the simulator's `code[:magnitude][@rep,…]`, reps of every set

    def ramp(self, sets: int) -> list[float]:
        """A warm-up ramp from 60 % of the top load, in 2.5 kg steps: three loads or more are
        what the server's load–velocity profile needs before it advises a load."""
        if sets == 1:
            return [self.load_kg]
        return [round(self.load_kg * (0.6 + 0.4 * i / (sets - 1)) / 2.5) * 2.5 for i in range(sets)]


LINE_UP = (
    # The bar tilts on the last three reps of each set: a run of three raises the `form` alert.
    DemoStation("bar1", "ana", "hip_thrust", 100.0, ("bar_tilt:0.3@3,4,5",)),
    # Hips shoot up on rep 4 (a critical fault, alerted at once), the bar drifts on rep 5.
    DemoStation("bar2", "ben", "rdl", 110.0, ("hip_shoot:0.7@4", "bar_drift:0.8@5")),
)


def run_demo(
    mqtt_url: str | None,
    influx_url: str | None,
    sets: int = 3,
    reps: int = 5,
    seed: int = 7,
    realtime: bool = True,
    out_dir: Path = Path("."),
    console: Console | None = None,
) -> int:
    console = console or Console()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_logs_above_the_view(console))
        broker = None if mqtt_url else stack.enter_context(LocalMosquitto())
        influx = None if influx_url else stack.enter_context(LocalInfluxDB())
        mqtt_settings = MqttSettings(url=mqtt_url or broker.url)  # type: ignore[union-attr]
        influx_settings = InfluxSettings(url=influx_url or influx.url)  # type: ignore[union-attr]
        console.print(f"broker {mqtt_settings.url}, InfluxDB {influx_settings.url}")

        stop_server = _start_server(stack, mqtt_settings, influx_settings)
        board = Board(console, since_s=time.time())
        view = watch(mqtt_settings, board)
        stack.callback(view.loop_stop)
        stack.callback(view.disconnect)

        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="barbell-demo-")))
        stop = threading.Event()
        stations = [
            _start_station(station, mqtt_settings, state, stop, sets, reps, seed + i, realtime)
            for i, station in enumerate(LINE_UP)
        ]
        for s in LINE_UP:
            console.print(
                f"[bold]{s.id}[/]: {s.athlete}, {sets} sets of {reps} {lift_name(s.lift)}s "
                f"at {', '.join(f'{kg:g}' for kg in s.ramp(sets))} kg"
            )
        pace = "in real time" if realtime else "as fast as they can be analysed"
        console.print(f"lifting {pace}; Ctrl-C stops\n")
        try:
            with Live(board.stations(), console=console, transient=True) as live:
                while any(thread.is_alive() for thread in stations):
                    live.update(board.stations())
                    for thread in stations:
                        thread.join(0.25)
                _settle(board, sets * len(LINE_UP))
        except KeyboardInterrupt:
            console.print("[yellow]stopping: finishing the sets in progress[/]")
            stop.set()
            for thread in stations:
                thread.join(15)
            stop_server()
            _summary(console, board)
            return 130
        stop_server()
        _summary(console, board)
        _reports(console, InfluxReader(influx_settings), board, out_dir)
    return 0


def _start_server(
    stack: contextlib.ExitStack, mqtt_settings: MqttSettings, influx_settings: InfluxSettings
) -> Callable[[], None]:
    """The real `barbell server` in a thread, subscribed before the function returns: a
    station that starts sooner could publish its first reps before anyone keeps them."""
    subscribed = threading.Event()
    config = ServerConfig(
        mqtt=MqttSettings(url=mqtt_settings.url, client_id="barbell-demo-server"),
        influx=influx_settings,
    )
    stop = threading.Event()
    server = threading.Thread(
        target=run_server, args=(config, stop, subscribed), name="server", daemon=True
    )
    server.start()

    def stop_server() -> None:
        stop.set()
        server.join(30)

    stack.callback(stop_server)
    if not subscribed.wait(20):
        raise BarbellError(f"the server did not subscribe at {mqtt_settings.url} within 20 s")
    return stop_server


@contextlib.contextmanager
def _logs_above_the_view(console: Console) -> Iterator[None]:
    """Warnings print above the live view; the daemons' routine info lines are not shown."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    verbose = root.level == logging.DEBUG  # `barbell -v demo`
    level = logging.DEBUG if verbose else logging.WARNING
    root.handlers = [RichHandler(console=console, level=level, show_path=False)]
    root.setLevel(level)
    try:
        yield
    finally:
        root.handlers, root.level = saved[0], saved[1]


def _start_station(
    station: DemoStation,
    mqtt_settings: MqttSettings,
    state: Path,
    stop: threading.Event,
    sets: int,
    reps: int,
    seed: int,
    realtime: bool,
) -> threading.Thread:
    """A simulated `barbell edge` in a thread, each with its own outbox."""
    (state / station.id).mkdir()
    config = EdgeConfig(
        mqtt=mqtt_settings,
        station=StationSettings(gym=GYM, id=station.id),
        sim=SimSettings(
            lift=station.lift,  # type: ignore[arg-type]
            sets=sets,
            reps=reps,
            load_kg=station.load_kg,
            set_loads_kg=station.ramp(sets),
            seed=seed,
            faults=list(station.faults),
            athlete=station.athlete,
            realtime=realtime,
        ),
        state=StateSettings(dir=state / station.id),
    )
    thread = threading.Thread(
        target=run_edge, args=(config, stop), name=f"station-{station.id}", daemon=True
    )
    thread.start()
    return thread


def _settle(board: Board, sets: int) -> None:
    """Wait until the board has every set's advice (the server gives it after storing the set)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline and board.advised < sets:
        time.sleep(0.1)


def _summary(console: Console, board: Board) -> None:
    console.print()
    console.print(board.summary())
    for line in board.advice_reasons():
        console.print(f"advice for {line}", soft_wrap=True)


def _reports(console: Console, reader: InfluxReader, board: Board, out_dir: Path) -> None:
    """Each athlete's session drawn from what InfluxDB stored, as `barbell report` does."""
    for name, athlete in sorted(board.athletes.items()):
        for session_id in sorted(athlete.sessions):
            try:
                data = load_session(reader, session_id)
            except BarbellError as exc:
                console.print(f"[red]no report for {name}: {exc}[/]")
                continue
            out = write_report(data, out_dir / f"barbell-demo-{name}.png")
            console.print(f"report for {name}: [bold]{out.resolve()}[/]")
