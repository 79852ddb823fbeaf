"""What the analysis reports: reps, the end of each set, cues for the bar, sensor trouble."""

from __future__ import annotations

from dataclasses import dataclass, field

from contract.faults import FaultCode
from contract.messages import Fault
from edge.analysis.metrics import RepMetrics
from edge.analysis.path import RepPath


@dataclass(frozen=True)
class Rep(RepMetrics):
    set_index: int = 0
    rep_index: int = 0
    velocity_loss_pct: float = 0.0  # against the set's best rep so far
    faults: tuple[Fault, ...] = ()
    unjudged: tuple[FaultCode, ...] = ()  # rules with no reference yet
    path: RepPath | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SetEnd:
    set_index: int
    reps: int
    t_start: float
    t_end: float
    best_mean_velocity_mps: float
    last_mean_velocity_mps: float
    velocity_loss_pct: float
    fault_counts: dict[FaultCode, int]


@dataclass(frozen=True)
class SensorIssue:
    kind: str  # "saturated", "nan" or "gap"
    t: float
    samples: int


@dataclass(frozen=True)
class Cue:
    """Faults to signal on the bar now: at the concentric's end, not the rep's."""

    t: float
    faults: tuple[Fault, ...]

    @property
    def severity(self) -> str:
        return "critical" if any(f.severity == "critical" for f in self.faults) else "warn"


Event = Rep | SetEnd | SensorIssue | Cue
