"""Reps from phases: a rep leaves its start height and comes back to it.

Concentric-first lifts (hip thrust, glute bridge, deadlift) go up then down; eccentric-first
ones (squat, bench, RDL) down then up; `auto` takes the order of the set's first rep. A first
phase that the next one does not bring back (unracking, picking the bar up, setting it down)
is set-up motion, never a rep.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.phases import Phase


@dataclass(frozen=True)
class RepSettings:
    return_tolerance: float = 0.35  # |up + down| may be this share of the larger of the two
    join_gap_s: float = 1.0  # a stall shorter than this inside a phase does not split it
    forget_after_s: float = 4.0  # a first phase left this long without its return is set-up


class RepAssembler:
    def __init__(self, first_direction: int | None, settings: RepSettings | None = None) -> None:
        """`first_direction`: +1 concentric-first, −1 eccentric-first, None to learn per set."""
        self.settings = settings or RepSettings()
        self._fixed = first_direction
        self.first_direction = first_direction
        self._pending: Phase | None = None

    @property
    def pending(self) -> Phase | None:
        """A first phase waiting for its return."""
        return self._pending

    def new_set(self) -> None:
        self._pending = None
        self.first_direction = self._fixed

    def interrupt(self) -> None:
        """Handling or bad data came between: no rep may span it."""
        self._pending = None

    def expire(self, now_s: float) -> None:
        """The bar rests at `now_s`, so any next phase starts later: a first phase that ended
        more than `forget_after_s` before can no longer be returned from. Forgetting it now,
        not at the next phase, lets the set end and its samples go."""
        pending = self._pending
        if pending is not None and now_s - pending.t_stop > self.settings.forget_after_s:
            self._pending = None

    def add(self, phase: Phase) -> tuple[Phase, Phase] | None:
        """Feed the next phase; returns (first, second) when it completes a rep."""
        s, pending = self.settings, self._pending
        if pending is not None and phase.t_start - pending.t_stop > s.forget_after_s:
            pending = None
        if pending is not None and phase.direction == pending.direction:
            if phase.t_start - pending.t_stop <= s.join_gap_s:  # e.g. hips shooting: a stall
                self._pending = _join(pending, phase)
                return None
            pending = None
        if pending is not None and _returns(pending, phase, s.return_tolerance):
            self._pending = None
            self.first_direction = pending.direction
            return pending, phase
        wanted = self.first_direction
        self._pending = phase if wanted is None or phase.direction == wanted else None
        return None


def _returns(first: Phase, second: Phase, tolerance: float) -> bool:
    larger = max(abs(first.travel_m), abs(second.travel_m))
    return abs(first.travel_m + second.travel_m) <= tolerance * larger


def _join(a: Phase, b: Phase) -> Phase:
    return Phase(
        direction=a.direction,
        start=a.start,
        stop=b.stop,
        t_start=a.t_start,
        t_stop=b.t_stop,
        travel_m=a.travel_m + b.travel_m,
    )
