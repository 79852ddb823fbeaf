"""A lifting session at one station: turns analysis events into wire messages.

It owns the identity the analysis does not know (gym, station, athlete, lift, load) and the
time base: recording seconds in replay, UTC epoch seconds live.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.messages import RepMessage, SetMessage
from edge.analysis import Event, Rep, SetEnd


@dataclass(frozen=True)
class SessionInfo:
    gym: str
    station: str
    session_id: str
    lift: str
    athlete: str = ""
    load_kg: float | None = None
    epoch_offset_s: float = 0.0  # added to recording seconds; 0 in replay


class Session:
    def __init__(self, info: SessionInfo) -> None:
        self.info = info
        self._velocities: dict[int, list[float]] = {}

    def messages(self, events: list[Event]) -> list[RepMessage | SetMessage]:
        return [self._rep(e) if isinstance(e, Rep) else self._set(e) for e in events]

    def _context(self, set_index: int, suffix: str) -> dict[str, object]:
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
            "load_kg": i.load_kg,
        }

    def _rep(self, rep: Rep) -> RepMessage:
        base = self.info.epoch_offset_s
        velocities = self._velocities.setdefault(rep.set_index, [])
        velocities.append(rep.mean_velocity_mps)
        best = max(velocities)
        return RepMessage(
            **self._context(rep.set_index, f"r{rep.rep_index}"),  # type: ignore[arg-type]
            rep_index=rep.rep_index,
            t_start=base + rep.t_start,
            t_concentric_start=base + rep.t_concentric_start,
            t_concentric_end=base + rep.t_concentric_end,
            t_end=base + rep.t_end,
            rom_m=round(rep.rom_m, 4),
            mean_velocity_mps=round(rep.mean_velocity_mps, 4),
            concentric_s=round(rep.t_concentric_end - rep.t_concentric_start, 4),
            velocity_loss_pct=round(100 * (1 - rep.mean_velocity_mps / best), 2),
        )

    def _set(self, end: SetEnd) -> SetMessage:
        base = self.info.epoch_offset_s
        velocities = self._velocities.pop(end.set_index, [])
        best = max(velocities, default=None)
        last = velocities[-1] if velocities else None
        return SetMessage(
            **self._context(end.set_index, "set"),  # type: ignore[arg-type]
            reps=end.reps,
            t_start=base + end.t_start,
            t_end=base + end.t_end,
            best_mean_velocity_mps=best,
            last_mean_velocity_mps=last,
            velocity_loss_pct=round(100 * (1 - last / best), 2) if best and last else None,
        )
