"""`barbell replay`: the edge analysis over a recording file, streamed chunk by chunk."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from contract.messages import RepMessage, SetMessage, encode
from contract.recording import RecordingReader
from edge.analysis import AnalysisSettings, RepAnalysis
from edge.analysis.diagnostics import Diagnostics
from edge.session import Outgoing, Session, SessionInfo

# Rows per feed. The analysis emits the same messages however its samples are chunked
# (tests/test_analysis.py), and each feed has a fixed cost, so a file is fed in large ones.
CHUNK = 8192


@dataclass(frozen=True)
class Replayed:
    """Rep messages in order, then the set messages (the `--json` order of SPEC section 4), and
    what the analysis saw. Each rep's path message goes to MQTT only: `--json` prints reps and
    sets."""

    messages: list[RepMessage | SetMessage]
    diagnostics: Diagnostics

    @property
    def reps(self) -> int:
        return sum(isinstance(m, RepMessage) for m in self.messages)


def replay_file(path: Path, lift: str | None = None, chunk_rows: int = CHUNK) -> Replayed:
    with RecordingReader(path) as reader:
        header = reader.header
        chosen = lift or header.lift or "auto"
        analysis = RepAnalysis(AnalysisSettings(lift=chosen, load_kg=header.load_kg))
        session = Session(
            SessionInfo(
                gym=header.extra.get("gym", "replay"),
                station=header.extra.get("station", _topic_safe(path.stem)),
                session_id=header.extra.get("session_id", _topic_safe(path.stem)),
                lift=chosen,
                athlete=header.athlete or "",
                load_kg=header.load_kg,
            )
        )
        messages: list[Outgoing] = []
        for chunk in reader.chunks(chunk_rows):
            messages += session.messages(analysis.feed(chunk))
        messages += session.messages(analysis.finish())
        analysis.diagnostics.duplicates += reader.duplicates
    ordered = [m for m in messages if isinstance(m, RepMessage)] + [
        m for m in messages if isinstance(m, SetMessage)
    ]
    return Replayed(ordered, analysis.diagnostics)


def replay(path: Path, lift: str | None, as_json: bool) -> int:
    result = replay_file(path, lift)
    if not result.reps:  # a result the analysis cannot vouch for comes with its reason
        print(f"{path}: {result.diagnostics.no_reps_reason()}", file=sys.stderr)
    if as_json:
        out = sys.stdout.buffer
        for message in result.messages:
            out.write(encode(message) + b"\n")
        out.flush()
        return 0
    table = Table(title=f"{path.name}: {result.reps} reps", caption=result.diagnostics.summary())
    for column in ("set", "rep", "t (s)", "ROM (cm)", "MCV (m/s)", "loss %"):
        table.add_column(column, justify="right")
    for m in result.messages:
        if isinstance(m, RepMessage):
            table.add_row(
                str(m.set_index + 1),
                str(m.rep_index + 1),
                f"{m.t_concentric_start:.2f}",
                f"{m.rom_m * 100:.1f}",
                f"{m.mean_velocity_mps or 0:.2f}",
                f"{m.velocity_loss_pct or 0:.0f}",
            )
    Console().print(table)
    return 0


def _topic_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-.")[:64] or "file"
