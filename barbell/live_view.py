"""The demo's coach's-eye view: every rep, set, alert and advice as the broker delivers it, a line
each, under a live table of the stations; at the end, a summary per athlete.

It is an MQTT client like any coach's display: it reads only what the wire carries.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import msgspec
import paho.mqtt.client as mqtt
from rich.console import Console
from rich.table import Table
from rich.text import Text

from contract import topics
from contract.config import MqttSettings
from contract.messages import AdviceMessage, AlertMessage, Message, RepMessage, SetMessage, decode
from contract.mqtt import connect, make_client

WATCHED = ("rep", "set", "alert", "advice")
SEVERITY_STYLE = {"info": "cyan", "warn": "yellow", "critical": "bold red"}


def lift_name(lift: str) -> str:
    return "RDL" if lift == "rdl" else lift.replace("_", " ")


@dataclass
class Athlete:
    """What the board has seen of one athlete."""

    station: str = ""
    lift: str = ""
    load_kg: float | None = None
    sessions: set[str] = field(default_factory=set)
    sets: int = 0
    reps: list[RepMessage] = field(default_factory=list)
    alerts: list[AlertMessage] = field(default_factory=list)
    advice: AdviceMessage | None = None

    @property
    def best_mcv(self) -> float | None:
        return max((r.mean_velocity_mps or 0 for r in self.reps), default=None)

    @property
    def faults(self) -> Counter[str]:
        return Counter(f.code for rep in self.reps for f in rep.faults)


class Board:
    """Thread-safe: paho's network thread feeds it, the demo's thread draws it."""

    def __init__(self, console: Console, since_s: float) -> None:
        self.console = console
        self._since_s = since_s  # retained advice from before the demo is old news
        self._lock = threading.Lock()
        self.athletes: dict[str, Athlete] = {}
        self.advised = 0  # advice messages seen: the server gives one per stored set

    def take(self, message: Message) -> None:
        with self._lock:
            if isinstance(message, RepMessage):
                self._rep(message)
            elif isinstance(message, SetMessage):
                self._set(message)
            elif isinstance(message, AlertMessage):
                self._alert(message)
            elif isinstance(message, AdviceMessage) and message.t >= self._since_s:
                self._advice(message)

    def _athlete(self, name: str) -> Athlete:
        return self.athletes.setdefault(name or "(unnamed)", Athlete())

    def _rep(self, rep: RepMessage) -> None:
        athlete = self._athlete(rep.athlete)
        athlete.station, athlete.lift, athlete.load_kg = rep.station, rep.lift, rep.load_kg
        athlete.sessions.add(rep.session_id)
        athlete.reps.append(rep)
        line = Text.assemble(
            (f"{rep.station:<5} {rep.athlete:<6} {lift_name(rep.lift):<11}", "bold"),
            f" set {rep.set_index + 1} rep {rep.rep_index + 1:<2}",
            f" {rep.load_kg or 0:5.1f} kg",
            (f"  {rep.mean_velocity_mps or 0:4.2f} m/s", "bold green"),
            f"  ROM {rep.rom_m * 100:4.1f} cm  loss {rep.velocity_loss_pct or 0:3.0f} %",
        )
        for fault in rep.faults:
            line.append(f"  {fault.code}", SEVERITY_STYLE[fault.severity])
        self.console.print(line, soft_wrap=True)

    def _set(self, done: SetMessage) -> None:
        self._athlete(done.athlete).sets += 1
        self.console.print(
            f"[green]{done.station:<5} {done.athlete:<6} set {done.set_index + 1} done:[/] "
            f"{done.reps} reps, best {done.best_mean_velocity_mps or 0:.2f} m/s, "
            f"velocity loss {done.velocity_loss_pct or 0:.0f} %",
            soft_wrap=True,
        )

    def _alert(self, alert: AlertMessage) -> None:
        if alert.athlete:
            self._athlete(alert.athlete).alerts.append(alert)
        style = SEVERITY_STYLE[alert.severity]
        self.console.print(
            f"[{style}]ALERT {alert.severity}[/] {alert.rule}: {alert.message}", soft_wrap=True
        )

    def _advice(self, advice: AdviceMessage) -> None:
        self._athlete(advice.athlete).advice = advice
        self.advised += 1
        self.console.print(
            f"[bold cyan]ADVICE[/] {advice.athlete}, {lift_name(advice.lift)}: "
            f"{advice_words(advice)}",
            soft_wrap=True,
        )

    def stations(self) -> Table:
        """The live table under the scrolling lines: where each athlete is now."""
        table = Table(title="stations now", title_justify="left", expand=False)
        for name in ("station", "athlete", "lift", "load", "set·rep", "last MCV", "faults"):
            table.add_column(name)
        with self._lock:
            for name, athlete in sorted(self.athletes.items(), key=lambda a: a[1].station):
                last = athlete.reps[-1] if athlete.reps else None
                table.add_row(
                    athlete.station,
                    name,
                    lift_name(athlete.lift),
                    f"{athlete.load_kg:g} kg" if athlete.load_kg else "",
                    f"{last.set_index + 1}·{last.rep_index + 1}" if last else "",
                    f"{last.mean_velocity_mps or 0:.2f} m/s" if last else "",
                    str(sum(athlete.faults.values())),
                )
        return table

    def summary(self) -> Table:
        """Per athlete: what was done, what went wrong, and the load for next time."""
        table = Table(title="session summary", title_justify="left")
        for name in ("athlete", "lift", "sets", "reps", "best MCV", "faults", "alerts"):
            table.add_column(name, overflow="fold")
        table.add_column("next load", overflow="fold")
        with self._lock:
            for name, athlete in sorted(self.athletes.items()):
                faults = "\n".join(f"{code} ×{n}" for code, n in sorted(athlete.faults.items()))
                best = athlete.best_mcv
                advice = athlete.advice
                table.add_row(
                    name,
                    lift_name(athlete.lift),
                    str(athlete.sets),
                    str(len(athlete.reps)),
                    f"{best:.2f} m/s" if best is not None else "",
                    faults or "none",
                    str(len(athlete.alerts)),
                    "no advice yet" if advice is None else _next_load(advice),
                )
        return table

    def advice_reasons(self) -> list[str]:
        """The server's reasons for each athlete's latest advice, for the lines under the table."""
        with self._lock:
            return [
                f"{name}: {athlete.advice.reason}"
                for name, athlete in sorted(self.athletes.items())
                if athlete.advice is not None
            ]


def _next_load(advice: AdviceMessage) -> str:
    if advice.next_load_kg is None:
        return "not yet (see below)"
    return f"{advice.next_load_kg:g} kg" + (" (held back)" if advice.held_back else "")


def advice_words(advice: AdviceMessage) -> str:
    if advice.next_load_kg is None:
        return f"no load yet ({advice.reason})"
    held = " (held back)" if advice.held_back else ""
    return f"next {advice.next_load_kg:g} kg{held}: {advice.reason}"


def watch(settings: MqttSettings, board: Board) -> mqtt.Client:
    """Subscribe the board to every station's reps, sets, alerts and advice."""
    client = make_client(settings, client_id=f"barbell-demo-view-{time.monotonic_ns() % 10**6}")

    def on_connect(client, userdata, flags, reason, properties) -> None:
        for kind in WATCHED:
            client.subscribe(f"{topics.ROOT}/+/+/{kind}", qos=1)

    def on_message(client, userdata, message: mqtt.MQTTMessage) -> None:
        # The server dead-letters bad payloads; a display just skips them.
        with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
            board.take(decode(message.payload))

    client.on_connect = on_connect
    client.on_message = on_message
    connect(client, settings, clean_start=True)
    return client
