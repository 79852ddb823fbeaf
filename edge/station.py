"""What a station is measuring now: who, which lift, what load, and the analysis of it. Commands
(`…/cmd` or the button) change it between drains. A new athlete or lift is a new session, so no
msg_id is ever reused; a stopped session measures nothing until the next one starts."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

import msgspec

from contract.errors import InputError
from contract.lifts import LiftOrAuto
from contract.messages import Athlete, CommandMessage
from contract.recording import Chunk
from edge.analysis import AnalysisSettings, Event, RepAnalysis
from edge.analysis.reference import Reference
from edge.config import EdgeConfig
from edge.session import Outgoing, Session, SessionInfo
from edge.state_file import read_json, write_json
from edge.tare import Tare

log = logging.getLogger(__name__)
LOAD_STEP_KG = 1.0  # a change smaller than this is the cells' noise, not a plate
# Per drain: a 5 s time constant at 20 drains a second, so a 1 % fast oscillator leaves the
# stamps 50 ms behind; a wall clock that moves by more than CLOCK_STEP_S is followed at once.
CLOCK_GAIN, CLOCK_STEP_S = 0.01, 1.0
SESSION_FILE = "session.json"  # in the state dir: who and what a real bar was measuring


class Remembered(msgspec.Struct):
    """Who and what a bar is measuring, and whether a session runs."""

    athlete: Athlete
    lift: LiftOrAuto
    load_kg: float | None
    active: bool


class Station:
    def __init__(self, config: EdgeConfig) -> None:
        self._config = config
        self._memory = config.state.dir / SESSION_FILE
        start = self._starting_point()
        self.active = start.active  # False between stop_session and start_session
        self.session = Session(
            SessionInfo(
                gym=config.station.gym,
                station=config.station.id,
                session_id=_new_session_id(),  # a restart is a new session: no msg_id repeats
                lift=start.lift,
                athlete=start.athlete,
                load_kg=start.load_kg,
                epoch_offset_s=time.time(),
            )
        )
        self.analysis = self._analysis(
            Reference(config.reference.rom_m, config.reference.drift_ap_m)
        )
        self.tare = Tare(config.state.dir)

    def _starting_point(self) -> Remembered:
        """A real bar carries on from before a restart (a power blip must not turn Ana's RDLs
        into someone else's hip thrusts), and starts out unnamed, with its lift found and its
        load weighed; a simulated one lifts what `[sim]` says."""
        sim = self._config.sim
        if self._config.sensor.kind != "i2c":
            return Remembered(sim.athlete, sim.lift, sim.load_kg, active=True)
        try:
            kept = read_json(self._memory)
            if kept is not None:
                return msgspec.convert(kept, Remembered)
        except (OSError, ValueError, msgspec.ValidationError) as exc:
            log.warning("ignoring unreadable %s (%s): a fresh session", self._memory, exc)
        return Remembered("", "auto", None, active=True)

    def _remember(self) -> None:
        if self._config.sensor.kind != "i2c":
            return
        info = self.session.info
        remembered = Remembered(info.athlete, info.lift, info.load_kg, self.active)  # type: ignore[arg-type]
        try:
            write_json(self._memory, msgspec.to_builtins(remembered))
        except OSError as exc:
            log.warning("the session is kept until restart only: cannot write %s: %s",
                        self._memory, exc.strerror)  # fmt: skip

    def _analysis(self, reference: Reference) -> RepAnalysis:
        info = self.session.info
        return RepAnalysis(
            AnalysisSettings(
                lift=info.lift,
                load_kg=info.load_kg,
                thresholds=self._config.thresholds(info.lift),
                reference=reference,
            )
        )

    def feed(self, chunk: Chunk) -> list[Event]:
        if len(chunk) and self._config.sensor.kind == "i2c":
            self._follow_wall_clock(float(chunk.t[-1]))
        if not self.active:
            return []
        events = self.analysis.feed(self.tare.apply(chunk))
        self._weigh()
        return events

    def _follow_wall_clock(self, newest_t: float) -> None:
        """Keep the sensor's time tied to UTC. The IMU's oscillator may be a percent off (some
        minutes a day), and NTP may set a Pi's clock after the daemon started: follow the wall
        clock slowly, and jump with it when it jumps. The newest sample of a drain is now."""
        info = self.session.info
        error = (time.time() - newest_t) - info.epoch_offset_s
        step = error if abs(error) > CLOCK_STEP_S else CLOCK_GAIN * error
        self.session.info = dataclasses.replace(info, epoch_offset_s=info.epoch_offset_s + step)

    def _weigh(self) -> None:
        """Nobody has to type the load: at rest the cells carry plates and bar."""
        measured = self.analysis.resting_load_kg
        if measured is None:
            return
        load = round(2 * measured) / 2  # plates come in 1.25 kg: half a kilo is plenty
        known = self.session.info.load_kg
        if load < LOAD_STEP_KG:  # freshly zeroed cells with nothing on them
            if known is not None:
                self._use_load(None)
        elif known is None or abs(load - known) >= LOAD_STEP_KG:
            log.info("load on the bar: %.1f kg", load)
            self._use_load(load)

    def _use_load(self, load_kg: float | None) -> None:
        """The messages and the power figures both carry the load."""
        self.session.info = dataclasses.replace(self.session.info, load_kg=load_kg)
        self.analysis.use_load(load_kg)
        self._remember()

    def messages(self, events: list[Event]) -> list[Outgoing]:
        return self.session.messages(events)

    def apply(self, command: CommandMessage) -> list[Outgoing]:
        """Carry out a command; returns the messages of the set it closed, if it closed one.
        Raises InputError for a command the station cannot carry out now."""
        action = command.action
        if action == "tare":
            self._zero_cells()
            return []
        if action == "seed_reference":
            self.analysis.use_reference(Reference(command.rom_m, command.drift_ap_m))
            return []
        closed = self.messages(self.analysis.finish()) if self.active else []
        if action == "start_session":
            self._new_session(command.athlete, command.lift)
            if command.load_kg is not None:
                self._use_load(command.load_kg)
            self.active = True
        elif action == "stop_session":
            self.active = False
        elif action == "set_athlete":
            self._new_session(command.athlete, None)
        elif action == "set_lift":
            self._new_session(None, command.lift)
        elif action == "set_load":
            self._use_load(command.load_kg)
        self._remember()
        return closed  # start_set and end_set: closing the open set is all they do

    def _new_session(self, athlete: str | None, lift: str | None) -> None:
        """A new session id; someone else or another lift also learns a new reference."""
        info = self.session.info
        athlete = info.athlete if athlete is None else athlete  # "" is a guest, not "the same"
        lift = lift or info.lift
        same = (athlete, lift) == (info.athlete, info.lift)
        reference = self.analysis.reference if same else Reference()
        self.session = Session(
            dataclasses.replace(info, session_id=_new_session_id(), athlete=athlete, lift=lift)
        )
        self.analysis = self._analysis(reference)

    def _zero_cells(self) -> None:
        if not self.active:
            raise InputError("tare refused: no session is running (start_session first)")
        force = self.analysis.resting_force_n
        if force is None:
            raise InputError(
                "tare refused: the bar must rest for half a second first (or has no load cells)"
            )
        try:
            self.tare.zero(force)
        finally:
            self.analysis.restart_weighing()  # the old weighings predate the new zero


def _new_session_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
