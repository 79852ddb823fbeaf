"""A phase: the bar going up or going down, between two points where its velocity is zero."""

from __future__ import annotations

from dataclasses import dataclass

# The accelerometer's offsets a phase was measured with (track.py): the vertical one as a
# vector in the sensor frame, and the horizontal ones (ap, lat), m/s².
Offsets = tuple[tuple[float, float, float], tuple[float, float]]


@dataclass(frozen=True)
class Phase:
    direction: int  # +1 up, −1 down
    start: int  # global cell indices: [start, stop], the bar going
    stop: int
    # The stroke it was measured in: from the stop or turn before it to the one after, where
    # the velocity was taken to be zero (the phase is that less the pauses at its ends).
    bounds: tuple[int, int]
    t_start: float  # s, at zero velocity
    t_stop: float
    travel_m: float  # signed vertical displacement
    excursion_m: float = 0.0  # the same in the high-passed motion: offset-free, for returns
    tainted: bool = False  # clipped data inside, or cut by a break: derive nothing from it
    held: bool = False  # it ended where the bar held still (not a turnaround)
    offsets: Offsets = ((0.0, 0.0, 0.0), (0.0, 0.0))
    turned_deg: float = 0.0  # how far the bar turned from start to stop (the vertical, seen by it)
    anchored: bool = True  # its stroke's ends were where the bar's own velocity reached zero

    @property
    def duration_s(self) -> float:
        return self.t_stop - self.t_start
