"""`barbell replay`: the edge analysis over recording files, each streamed chunk by chunk.

One file prints its reps as a table, or with `--json` its messages, exactly as the station
publishes them. Several files (or folders of them, as a season of sessions) are replayed on all
cores, in the order given, with a progress bar on a terminal: `--json` names the file in each
line, and the table is one row per file.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from contract.errors import BarbellError, InputError
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


def recordings(paths: list[Path]) -> list[Path]:
    """The files named, with each folder's recordings (*.csv, at any depth) in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.rglob("*.csv"))
            if not inside:
                raise InputError(f"{path}: no recordings (*.csv) in this folder")
            found += inside
        else:
            found.append(path)  # a missing file is named when it is read
    return found


def replay(paths: list[Path], lift: str | None, as_json: bool, jobs: int | None = None) -> int:
    if len(paths) == 1 and not paths[0].is_dir():
        return _one(paths[0], lift, as_json)
    return _many(recordings(paths), lift, as_json, jobs or os.cpu_count() or 1)


def _one(path: Path, lift: str | None, as_json: bool) -> int:
    result = replay_file(path, lift)
    _say_why_none(path, result)
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


def _many(files: list[Path], lift: str | None, as_json: bool, jobs: int) -> int:
    """Each file in its own process, printed in the order given as soon as it and those before
    it are done. A file that cannot be read gets its one-line error, and the others go on."""
    table = Table(title=f"{len(files)} recordings")
    table.add_column("file", overflow="fold")
    table.add_column("lift")
    for column in ("sets", "reps", "best MCV (m/s)"):
        table.add_column(column, justify="right")
    failed = 0
    for path, result in _replayed(files, lift, jobs):
        if isinstance(result, str):
            print(f"barbell replay: {result}", file=sys.stderr)
            failed += 1
            continue
        _say_why_none(path, result)
        if as_json:
            named = b'{"file":' + msgspec.json.encode(str(path)) + b","
            sys.stdout.buffer.write(
                b"".join(named + encode(message)[1:] + b"\n" for message in result.messages)
            )
            sys.stdout.buffer.flush()
            continue
        sets = [m for m in result.messages if isinstance(m, SetMessage)]
        best = max((v for s in sets if (v := s.best_mean_velocity_mps) is not None), default=None)
        lifts = {m.lift for m in result.messages}
        table.add_row(
            str(path), ", ".join(sorted(lifts)) or "", str(len(sets)), str(result.reps),
            "" if best is None else f"{best:.2f}",
        )  # fmt: skip
    if not as_json:
        Console().print(table)
    return 2 if failed else 0


def _replayed(
    files: list[Path], lift: str | None, jobs: int
) -> Iterator[tuple[Path, Replayed | str]]:
    console = Console(stderr=True)
    progress = Progress(console=console, transient=True, disable=not console.is_terminal)
    with progress, ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
        bar = progress.add_task("replaying", total=len(files))
        pending = [pool.submit(_replay_or_say_why, path, lift) for path in files]
        for path, future in zip(files, pending, strict=True):
            yield path, future.result()
            progress.advance(bar)


def _replay_or_say_why(path: Path, lift: str | None) -> Replayed | str:
    """In a worker: the replay, or the one-line error of a file that cannot be read."""
    try:
        return replay_file(path, lift)
    except BarbellError as exc:
        return str(exc)


def _say_why_none(path: Path, result: Replayed) -> None:
    if not result.reps:  # a result the analysis cannot vouch for comes with its reason
        print(f"{path}: {result.diagnostics.no_reps_reason()}", file=sys.stderr)


def _topic_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-.")[:64] or "file"
