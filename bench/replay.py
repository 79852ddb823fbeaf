"""Replay speed as a user gets it: `barbell replay --json` run as a process on a long 1 kHz
recording, wall time with start-up included, and the folder form over several such recordings
on one process and on all cores.

    .venv/bin/python bench/replay.py [--minutes 10] [--files 4] [--runs 3]

The recordings are simulated (`barbell simulate`: six sets of eight hip thrusts at 1 kHz,
padded with rest); the folder holds copies of one, so each file is the same work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARBELL = [sys.executable, "-m", "barbell.cli"]


def wall_s(*args: str, runs: int) -> float:
    """The median wall time of `barbell replay --json ARGS`, its output thrown away."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*BARBELL, "replay", "--json", *args], stdout=subprocess.DEVNULL,
                       check=True)  # fmt: skip
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def samples_in(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line[:1].isdigit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "season"
        folder.mkdir()
        one = folder / "session-0.csv"
        subprocess.run(
            [*BARBELL, "simulate", str(one), "--sets", "6", "--reps", "8", "--rate", "1000",
             "--rest", "60", "--duration", str(args.minutes * 60), "--seed", "3"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (one.with_suffix(".truth.json")).unlink()
        for i in range(1, args.files):
            shutil.copy(one, folder / f"session-{i}.csv")
        samples = samples_in(one)
        single = wall_s(str(one), runs=args.runs)
        serial = wall_s("--jobs", "1", str(folder), runs=args.runs)
        parallel = wall_s("--jobs", str(cores), str(folder), runs=args.runs)
    total = samples * args.files
    print(f"host: {cores} cores; median of {args.runs} runs, wall time with start-up")
    print(f"one file, {samples:,} samples ({args.minutes:g} min at 1 kHz): "
          f"{single:.2f} s, {samples / single:,.0f} samples/s")  # fmt: skip
    print(f"folder of {args.files}, --jobs 1: {serial:.2f} s, {total / serial:,.0f} samples/s")
    speedup = serial / parallel
    print(f"folder of {args.files}, --jobs {cores}: {parallel:.2f} s, "
          f"{total / parallel:,.0f} samples/s ({speedup:.2f} times --jobs 1)")  # fmt: skip


if __name__ == "__main__":
    main()
