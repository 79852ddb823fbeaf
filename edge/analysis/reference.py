"""The athlete's own reference: full ROM (lockout height) and bar path, learned from good reps.

The median of the good reps so far (the newest hundred), so one odd rep barely moves it; until
two good reps are in, there is none (a stored profile can seed it). A rep flagged for ROM or
path does not teach it.
"""

from __future__ import annotations

from collections import deque
from statistics import median

MIN_REPS = 2
KEPT_REPS = 100  # the newest good reps: a station running all day must not grow with it


class Reference:
    def __init__(self, rom_m: float | None = None, drift_ap_m: float | None = None) -> None:
        """Seed values from a stored profile, if any; learning takes over from them."""
        self._seed_rom, self._seed_drift = rom_m, drift_ap_m
        self._roms: deque[float] = deque(maxlen=KEPT_REPS)
        self._drifts: deque[float] = deque(maxlen=KEPT_REPS)

    @property
    def rom_m(self) -> float | None:
        if len(self._roms) >= MIN_REPS:
            return median(self._roms)
        return self._seed_rom

    @property
    def drift_ap_m(self) -> float | None:
        if len(self._drifts) >= MIN_REPS:
            return median(self._drifts)
        return self._seed_drift

    def learn(self, rom_m: float, drift_ap_m: float, fault_codes: set[str]) -> None:
        if not fault_codes & {"partial_lockout", "overextension"}:
            self._roms.append(rom_m)
        if "bar_drift" not in fault_codes:
            self._drifts.append(drift_ap_m)
