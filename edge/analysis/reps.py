"""Reps from phases: a rep leaves its start height and comes back to it.

Concentric-first lifts (hip thrust, glute bridge, deadlift) go up then down; eccentric-first
ones (squat, bench, RDL) down then up; `auto` takes the order of the set's first rep. A first
phase that the next one does not bring back (unracking, picking the bar up, setting it down)
is set-up motion, never a rep.

A concentric return that stops well short of where the first phase started and holds there
may be a stall (a squat or an RDL grinding up): the rep waits up to `join_gap_s` for the bar to
go on the same way, and takes both parts as one return if it does. A lowering does not stall
so: a short one is the rep it is, sent at once (a concentric first phase that stalls, hips
shooting in a deadlift's pull, is joined before its return comes). A return that stops on the
way back (a hitch, a sway at the top) and goes on within `join_gap_s` is one return; one that
turns back first was no rep. A phase that turned the bar (rolled over the thighs onto the hips)
is set-up, never half of a stall: a stall does not turn the bar.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.analysis.phases import Phase


@dataclass(frozen=True)
class RepSettings:
    # |up + down| may be this share of the larger of the two, as measured (true to the bar
    # where the offset is learned) or as high-passed (free of any offset, but smaller for
    # slow strokes): either will do.
    return_tolerance: float = 0.35
    excursion_tolerance: float = 0.8
    join_gap_s: float = 1.0  # a stall shorter than this inside a phase does not split it
    stall_share: float = 0.7  # a held return shorter than this share of the first may go on
    forget_after_s: float = 4.0  # a first phase left this long without its return is set-up
    stall_turn_deg: float = 30.0  # a phase that turned the bar this far is not half a stall


class RepAssembler:
    def __init__(self, first_direction: int | None, settings: RepSettings | None = None) -> None:
        """`first_direction`: +1 concentric-first, −1 eccentric-first, None to learn per set."""
        self.settings = settings or RepSettings()
        self._fixed = first_direction
        self.first_direction = first_direction
        self._pending: Phase | None = None
        self._stalled: tuple[Phase, Phase] | None = None  # a rep whose return may go on
        self._partial: Phase | None = None  # a return that stopped on the way back

    @property
    def pending(self) -> Phase | None:
        """A first phase waiting for its return."""
        return self._pending

    @property
    def stalled(self) -> tuple[Phase, Phase] | None:
        """A rep held back: its return stopped short, and may yet go on."""
        return self._stalled

    def new_set(self) -> None:
        self._pending = self._stalled = self._partial = None
        self.first_direction = self._fixed

    def interrupt(self) -> tuple[Phase, Phase] | None:
        """Handling, bad data or a hole came between: no rep may span it. A rep held back for
        the rest of its return cannot get it across: it is the rep it was, returned."""
        stalled, self._pending, self._stalled, self._partial = self._stalled, None, None, None
        return stalled

    def expire(self, now_s: float) -> tuple[Phase, Phase] | None:
        """A first phase that ended more than `forget_after_s` before now can no longer be
        returned from: forgetting it lets the set end and its cells go. A rep held back for
        `join_gap_s` with no more of its return is the rep it was: returned."""
        pending, stalled = self._pending, self._stalled
        if pending is not None and now_s - pending.t_stop > self.settings.forget_after_s:
            self._pending = None
        if stalled is not None and now_s - stalled[1].t_stop > self.settings.join_gap_s:
            self._stalled = None
            return stalled
        return None

    def add(self, phase: Phase) -> list[tuple[Phase, Phase]]:
        """Feed the next phase; returns the reps (first, second) it completed: one held back
        that it does not go on with, and its own."""
        stalled, self._stalled = self._stalled, None
        if stalled is not None:
            first, second = stalled
            if (
                phase.direction == second.direction
                and not phase.tainted
                and (phase.t_start - second.t_stop <= self.settings.join_gap_s)
            ):
                return self._hold_back_or_give(first, _join(second, phase))
            done = [stalled]
        else:
            done = []
        pair = self._paired(phase)
        return done + (self._hold_back_or_give(*pair) if pair else [])

    def _hold_back_or_give(self, first: Phase, second: Phase) -> list[tuple[Phase, Phase]]:
        stalls = second.direction > 0 and second.held
        if stalls and _short(first, second, self.settings.stall_share):
            self._stalled = (first, second)
            return []
        return [(first, second)]

    def _paired(self, phase: Phase) -> tuple[Phase, Phase] | None:
        s, pending = self.settings, self._pending
        partial, self._partial = self._partial, None
        if phase.tainted:
            self._pending = None
            return None
        if partial is not None:
            if phase.direction == partial.direction and _soon(partial, phase, s):
                phase = _join(partial, phase)  # the rest of the return
            else:
                pending = None  # the bar turned back before it came back: not a rep
        if pending is not None and phase.t_start - pending.t_stop > s.forget_after_s:
            pending = None
        if pending is not None and phase.direction == pending.direction:
            turned = max(pending.turned_deg, phase.turned_deg) > s.stall_turn_deg
            if _soon(pending, phase, s) and _measured(pending) and not turned:
                self._pending = _join(pending, phase)  # e.g. hips shooting: a stall
                return None
            pending = None
        if pending is not None and _returns(pending, phase, s):
            self._pending = None
            self.first_direction = pending.direction
            return pending, phase
        if pending is not None and _short(pending, phase, 1.0):
            self._partial = phase  # stopped on the way back (a sway, a hitch): it may go on
            return None
        wanted = self.first_direction
        self._pending = phase if wanted is None or phase.direction == wanted else None
        return None


def _soon(before: Phase, after: Phase, s: RepSettings) -> bool:
    return after.t_start - before.t_stop <= s.join_gap_s


def _short(first: Phase, second: Phase, share: float) -> bool:
    """The return came less than `share` of the way back, as measured and as high-passed."""
    return abs(second.travel_m) < share * abs(first.travel_m) and abs(
        second.excursion_m
    ) < share * abs(first.excursion_m)


def _measured(phase: Phase) -> bool:
    """The bar's measured travel goes the way the stroke did (set-up motion that turned the
    bar, such as rolling it onto the hips, can leave it going the other way)."""
    return phase.travel_m * phase.direction > 0


def _returns(first: Phase, second: Phase, s: RepSettings) -> bool:
    """The second phase brings the bar back."""
    return _back(first.travel_m, second.travel_m, s.return_tolerance) or _back(
        first.excursion_m, second.excursion_m, s.excursion_tolerance
    )


def _back(there: float, back: float, tolerance: float) -> bool:
    return abs(there + back) <= tolerance * max(abs(there), abs(back))


def _join(a: Phase, b: Phase) -> Phase:
    return Phase(
        direction=a.direction,
        start=a.start,
        stop=b.stop,
        bounds=(a.bounds[0], b.bounds[1]),
        t_start=a.t_start,
        t_stop=b.t_stop,
        travel_m=a.travel_m + b.travel_m,
        excursion_m=a.excursion_m + b.excursion_m,
        held=b.held,
        offsets=b.offsets,
        turned_deg=max(a.turned_deg, b.turned_deg),
        anchored=a.anchored and b.anchored,
    )
