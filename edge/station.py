"""What a station is measuring now: who, which lift, what load, and the analysis of it. Commands
change it between drains. A new athlete or lift is a new session, so no msg_id is ever reused."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid

from contract.messages import CommandMessage, RepMessage, SetMessage
from contract.recording import Chunk
from edge.analysis import AnalysisSettings, Event, RepAnalysis
from edge.config import EdgeConfig
from edge.reference import Reference
from edge.session import Session, SessionInfo

log = logging.getLogger(__name__)
LOAD_STEP_KG = 1.0  # a change smaller than this is the cells' noise, not a plate


class Station:
    def __init__(self, config: EdgeConfig) -> None:
        self._config = config
        self.session = Session(
            SessionInfo(
                gym=config.station.gym,
                station=config.station.id,
                session_id=_new_session_id(),
                lift=config.sim.lift,
                athlete=config.sim.athlete,
                load_kg=config.sim.load_kg,
                epoch_offset_s=time.time(),
            )
        )
        self.analysis = self._analysis(
            Reference(config.reference.rom_m, config.reference.drift_ap_m)
        )

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
        events = self.analysis.feed(chunk)
        self._weigh()
        return events

    def _weigh(self) -> None:
        """Nobody has to type the load: at rest the cells carry plates and bar."""
        measured = self.analysis.resting_load_kg
        if measured is None:
            return
        load = round(2 * measured) / 2  # plates come in 1.25 kg: half a kilo is plenty
        if (
            self.session.info.load_kg is None
            or abs(load - self.session.info.load_kg) >= LOAD_STEP_KG
        ):
            log.info("load on the bar: %.1f kg", load)
            self._use_load(load)

    def _use_load(self, load_kg: float | None) -> None:
        """The messages and the power figures both carry the load."""
        self.session.info = dataclasses.replace(self.session.info, load_kg=load_kg)
        self.analysis.use_load(load_kg)

    def messages(self, events: list[Event]) -> list[RepMessage | SetMessage]:
        return self.session.messages(events)

    def apply(self, command: CommandMessage) -> list[RepMessage | SetMessage]:
        """Carry out a command; returns the messages of the set it closed, if it closed one."""
        closed = self.messages(self.analysis.finish()) if command.action != "seed_reference" else []
        info = self.session.info
        if command.action in ("set_athlete", "set_lift"):
            # Someone else, or another lift: a new session whose reference is learned afresh.
            changes = (
                {"athlete": command.athlete}
                if command.action == "set_athlete"
                else {"lift": command.lift}
            )
            self.session = Session(
                dataclasses.replace(info, session_id=_new_session_id(), **changes)
            )
            self.analysis = self._analysis(Reference())
        elif command.action == "set_load":
            self._use_load(command.load_kg)
        elif command.action == "seed_reference":
            self.analysis.use_reference(Reference(command.rom_m, command.drift_ap_m))
        return closed


def _new_session_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
