"""The edge analysis: recording chunks in, reps, sets, cues and sensor issues out.

Its stages, each a module here, in order: screen, timebase, stillness, attitude, offset and
strokes, track, reps, metrics, faults, path (see pipeline.py and docs/accuracy.md). Pure: no
clocks, files or network.
"""

from edge.analysis.events import Cue, Event, Rep, SensorIssue, SetEnd
from edge.analysis.pipeline import AnalysisSettings, RepAnalysis

__all__ = ["AnalysisSettings", "Cue", "Event", "Rep", "RepAnalysis", "SensorIssue", "SetEnd"]
