"""A lifting session at one station: turns analysis events into wire messages.

It owns the identity the analysis does not know (gym, station, athlete, lift, load) and the
time base: recording seconds in replay, UTC epoch seconds live.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.faults import FaultCode
from contract.messages import PathMessage, RepMessage, SetMessage
from edge.analysis import Event, Rep, SetEnd
from edge.analysis.path import RepPath

# What a session sends: each rep, its path right after it, and each set when it ends.
Outgoing = RepMessage | PathMessage | SetMessage


@dataclass(frozen=True)
class SessionInfo:
    gym: str
    station: str
    session_id: str
    lift: str
    athlete: str = ""
    load_kg: float | None = None
    epoch_offset_s: float = 0.0  # added to recording seconds; 0 in replay


@dataclass(frozen=True)
class _SentSoFar:
    """What a set's reps were sent with, which its own message repeats. Their load: plates may
    change before the rest shows the set is over. The span of their stamped times: the offset
    to UTC may move between reps (a real bar follows the wall clock), and the server finds a
    set's reps by its times."""

    set_index: int
    load_kg: float | None
    t_start: float
    t_end: float

    @staticmethod
    def after(sent: _SentSoFar | None, rep: RepMessage) -> _SentSoFar:
        if sent is None or sent.set_index != rep.set_index:
            return _SentSoFar(rep.set_index, rep.load_kg, rep.t_start, rep.t_end)
        return _SentSoFar(
            rep.set_index, rep.load_kg, min(sent.t_start, rep.t_start), max(sent.t_end, rep.t_end)
        )


class Session:
    def __init__(self, info: SessionInfo) -> None:
        self.info = info
        self._streaks: dict[FaultCode, int] = {}  # fault code → reps in a row with it, this set
        self._streak_set = -1
        self._open: _SentSoFar | None = None  # of the set whose reps are being sent

    def messages(self, events: list[Event]) -> list[Outgoing]:
        """Wire messages for the reps (each followed by its path) and sets among the events
        (sensor issues are not)."""
        out: list[Outgoing] = []
        for event in events:
            if isinstance(event, Rep):
                rep = self._rep(event)
                self._open = _SentSoFar.after(self._open, rep)
                out.append(rep)
                if event.path is not None:
                    out.append(self._path(rep, event.path))
            elif isinstance(event, SetEnd):
                out.append(self._set(event))
        return out

    def _context(self, set_index: int, suffix: str, load_kg: float | None) -> dict[str, object]:
        """The identity fields of a rep or set message (contract.messages.SetContext)."""
        i = self.info
        return {
            # Stable across resends, so the server's writes stay idempotent.
            "msg_id": f"{i.gym}/{i.station}/{i.session_id}/s{set_index}/{suffix}",
            "gym": i.gym,
            "station": i.station,
            "session_id": i.session_id,
            "lift": i.lift,
            "set_index": set_index,
            "athlete": i.athlete,
            "load_kg": load_kg,
        }

    def _fault_streaks(self, rep: Rep) -> dict[FaultCode, int]:
        if rep.set_index != self._streak_set:
            self._streaks, self._streak_set = {}, rep.set_index
        codes = {fault.code for fault in rep.faults}
        self._streaks = {code: self._streaks.get(code, 0) + 1 for code in sorted(codes)}
        return dict(self._streaks)

    def _rep(self, rep: Rep) -> RepMessage:
        base = self.info.epoch_offset_s
        return RepMessage(
            **self._context(rep.set_index, f"r{rep.rep_index}", self.info.load_kg),  # type: ignore[arg-type]
            rep_index=rep.rep_index,
            t_start=base + rep.t_start,
            t_concentric_start=base + rep.t_concentric_start,
            t_concentric_end=base + rep.t_concentric_end,
            t_end=base + rep.t_end,
            rom_m=round(rep.rom_m, 4),
            mean_velocity_mps=round(rep.mean_velocity_mps, 4),
            peak_velocity_mps=round(rep.peak_velocity_mps, 4),
            mean_propulsive_velocity_mps=round(rep.mean_propulsive_velocity_mps, 4),
            concentric_s=round(rep.concentric_s, 4),
            eccentric_s=round(rep.eccentric_s, 4),
            lockout_hold_s=round(rep.lockout_hold_s, 3),
            tilt_max_deg=round(rep.tilt_max_deg, 2),
            drift_ap_m=round(rep.drift_ap_m, 4),
            drift_lateral_m=round(rep.drift_lateral_m, 4),
            asymmetry_pct=_rounded(rep.asymmetry_pct, 2),
            peak_power_w=_rounded(rep.peak_power_w, 1),
            velocity_loss_pct=round(rep.velocity_loss_pct, 2),
            faults=list(rep.faults),
            unjudged=list(rep.unjudged),
            fault_streaks=self._fault_streaks(rep),
        )

    def _path(self, rep: RepMessage, path: RepPath) -> PathMessage:
        # Rounded to well under the path's accuracy: a 100-sample path is about 5 KB of JSON.
        return PathMessage(
            **self._context(rep.set_index, f"r{rep.rep_index}/path", rep.load_kg),  # type: ignore[arg-type]
            rep_index=rep.rep_index,
            t_start=rep.t_start,
            t_s=path.t_s.round(4).tolist(),
            height_m=path.height_m.round(4).tolist(),
            ap_m=path.ap_m.round(4).tolist(),
            lateral_m=path.lateral_m.round(4).tolist(),
            tilt_deg=path.tilt_deg.round(2).tolist(),
            velocity_mps=path.velocity_mps.round(3).tolist(),
        )

    def _set(self, end: SetEnd) -> SetMessage:
        sent = self._open
        if sent is None or sent.set_index != end.set_index:  # no rep of it was sent
            base = self.info.epoch_offset_s
            sent = _SentSoFar(
                end.set_index, self.info.load_kg, base + end.t_start, base + end.t_end
            )
        return SetMessage(
            **self._context(end.set_index, "set", sent.load_kg),  # type: ignore[arg-type]
            reps=end.reps,
            t_start=sent.t_start,
            t_end=sent.t_end,
            best_mean_velocity_mps=round(end.best_mean_velocity_mps, 4),
            last_mean_velocity_mps=round(end.last_mean_velocity_mps, 4),
            velocity_loss_pct=round(end.velocity_loss_pct, 2),
            fault_counts=end.fault_counts,
        )


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
