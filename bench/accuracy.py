"""Accuracy, latency and throughput of the edge analysis against the simulator's ground truth,
per condition of the randomized world (hardware/world.py).

Each condition gets the same sets (every lift in turn, loads from 40 to 100 % 1RM, athletes of
different strength, form faults on a third of them, seeds that no test uses), drawn under its
own sensor, handling and timing, so rows differ by condition and not by luck. Rows arrive in
50 ms drains by their stamps, as the station would read them; repeated stamps (a Bluetooth
host's duplicate rows) are dropped first, as the recording reader does (SPEC section 3).

    .venv/bin/python bench/accuracy.py [--sets-per-condition 48] [--condition NAME ...]
                                       [--true-stamps]

Latency is the time from a rep's true end to the end of the drain whose analysis emitted it.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec
import numpy as np

from contract.lifts import LIFTS
from contract.recording import Chunk
from edge.analysis import AnalysisSettings, Rep, RepAnalysis
from hardware.simulate import RepTruth, SimSpec, Simulation, simulate
from hardware.world import CONDITIONS, RATE_BANDS_HZ, draw_spec

SEED_BASE = 7_000_000  # tests use small seeds; this corpus uses none of them
CHUNK_S = 0.05
PATH_KEYS = ("height", "ap", "lateral", "velocity", "tilt")
BANDS = {f"{low:.0f}-{high:.0f} Hz": (low, high) for low, high in RATE_BANDS_HZ}


def corpus(condition: str, count: int) -> list[SimSpec]:
    """The same seeds under every condition: every lift in turn."""
    return [draw_spec(condition, SEED_BASE + i, LIFTS[i % len(LIFTS)]) for i in range(count)]


def band(rate_hz: float) -> str:
    return next(name for name, (low, high) in BANDS.items() if low <= rate_hz <= high)


@dataclass
class Tally:
    sets: int = 0
    exact: int = 0
    truth_reps: int = 0
    missed: int = 0
    ghosts: int = 0
    errors: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency_s: list[float] = field(default_factory=list)


def match(measured: list[Rep], truth: list[RepTruth]) -> list[tuple[Rep, RepTruth]]:
    """Pairs whose concentric phases overlap by more than half of the true one."""
    pairs, used = [], set()
    for rep in measured:
        for k, true in enumerate(truth):
            overlap = min(rep.t_concentric_end, true.t_concentric_end) - max(
                rep.t_concentric_start, true.t_concentric_start
            )
            if k not in used and overlap > 0.5 * (true.t_concentric_end - true.t_concentric_start):
                pairs.append((rep, true))
                used.add(k)
                break
    return pairs


def as_read(recording: Chunk) -> Chunk:
    """The rows a reader passes on: a repeated stamp is a duplicate row (SPEC section 3)."""
    return recording[np.diff(recording.t, prepend=-np.inf) > 0]


def drains(recording: Chunk, drain_s: float) -> Iterator[tuple[float, Chunk]]:
    """The rows in each `drain_s` by their stamps, with the time the drain ends."""
    edges = np.arange(0.0, recording.t[-1] + drain_s, drain_s) + drain_s
    ends = np.searchsorted(recording.t, edges, side="right")
    starts = np.concatenate([[0], ends[:-1]])
    for edge, start, end in zip(edges, starts, ends, strict=True):
        if end > start:
            yield float(edge), recording[start:end]


def run(spec: SimSpec, tallies: list[Tally]) -> tuple[int, float]:
    sim = simulate(spec)
    recording = as_read(sim.recording)
    analysis = RepAnalysis(AnalysisSettings(lift=spec.lift, load_kg=spec.load_kg))
    reps: list[Rep] = []
    sent_at: dict[int, float] = {}
    started = time.perf_counter()
    for drained_at, chunk in drains(recording, CHUNK_S):
        for event in analysis.feed(chunk):
            if isinstance(event, Rep):
                sent_at[id(event)] = drained_at
                reps.append(event)
    analysis.finish()
    elapsed = time.perf_counter() - started
    pairs = match(reps, sim.truth.reps)
    for t in tallies:
        t.sets += 1
        t.exact += len(reps) == len(sim.truth.reps) and len(pairs) == len(reps)
        t.truth_reps += len(sim.truth.reps)
        t.missed += len(sim.truth.reps) - len(pairs)
        t.ghosts += len(reps) - len(pairs)
        for rep, true in pairs:
            t.errors["mcv"].append(rep.mean_velocity_mps - true.mean_velocity_mps)
            t.errors["peak"].append(rep.peak_velocity_mps - true.peak_velocity_mps)
            t.errors["mpv"].append(
                rep.mean_propulsive_velocity_mps - true.mean_propulsive_velocity_mps
            )
            t.errors["rom"].append(rep.rom_m - true.rom_m)
            t.errors["tilt"].append(rep.tilt_max_deg - true.tilt_max_deg)
            t.errors["hold"].append(rep.lockout_hold_s - true.lockout_hold_s)
            t.latency_s.append(sent_at[id(rep)] - true.t_end)
            for key, rms in path_errors(rep, sim).items():
                t.errors[f"path_{key}"].append(rms)
    return len(recording), elapsed


def path_errors(rep: Rep, sim: Simulation) -> dict[str, float]:
    """RMS error of the rep's path against the true motion at its own sample times. Tilt is
    compared as the change from the rep's start: the absolute angle carries the accelerometer's
    zero-g offset (see tilt° above). The simulator's tilt is + right end down. Rows stamped on
    arrival are compared at their stamps less the link's latency: the path's shape, not its
    delay."""
    assert rep.path is not None
    delay_s = sim.truth.link.latency_s if sim.truth.link else 0.0
    path, t = rep.path, rep.t_start + rep.path.t_s - delay_s
    position, velocity, _ = sim.kinematics(t)
    position -= position[0]
    true_tilt = -np.degrees(sim.plan.channels["tilt"].evaluate(t)[0])
    errors = {
        "height": path.height_m - position[:, 2],
        "ap": path.ap_m - position[:, 1],
        "lateral": path.lateral_m - position[:, 0],
        "velocity": path.velocity_mps - velocity[:, 2],
        "tilt": (path.tilt_deg - path.tilt_deg[0]) - (true_tilt - true_tilt[0]),
    }
    return {key: float(np.sqrt(np.mean(error**2))) for key, error in errors.items()}


def path_summary(name: str, t: Tally) -> str:
    """Per-rep RMS errors of the path: the mean over reps, and the 95th percentile."""
    cells = []
    for key in PATH_KEYS:
        rms = np.array(t.errors[f"path_{key}"]) * (1 if key == "tilt" else 100)
        cells.append(f"{rms.mean():>8.2f}{np.percentile(rms, 95):>7.2f}" if rms.size else " " * 15)
    return f"{name:<15}" + "".join(cells)


def summary(name: str, t: Tally) -> str:
    def mae(key: str) -> float:
        return float(np.mean(np.abs(t.errors[key]))) if t.errors[key] else float("nan")

    def bias(key: str) -> float:
        return float(np.mean(t.errors[key])) if t.errors[key] else float("nan")

    latency = np.array(t.latency_s) * 1000 if t.latency_s else np.array([np.nan])
    return (
        f"{name:<15}{t.sets:>5}{100 * t.exact / max(t.sets, 1):>8.1f}{t.truth_reps:>6}{t.missed:>7}"
        f"{t.ghosts:>7}{mae('mcv'):>9.4f}{bias('mcv'):>+9.4f}{mae('peak'):>8.3f}{bias('peak'):>+8.3f}"
        f"{mae('mpv'):>8.3f}{100 * mae('rom'):>8.2f}{mae('tilt'):>7.2f}{mae('hold'):>7.3f}"
        f"{np.percentile(latency, 50):>7.0f}{np.percentile(latency, 95):>7.0f}"
    )


def table(title: str, rows: dict[str, Tally]) -> None:
    print(
        f"{title:<15}{'sets':>5}{'exact%':>8}{'reps':>6}{'missed':>7}{'ghosts':>7}"
        f"{'MCV MAE':>9}{'bias':>9}{'PV MAE':>8}{'bias':>8}{'MPV MAE':>8}{'ROM cm':>8}"
        f"{'tilt°':>7}{'hold s':>7}{'p50 ms':>7}{'p95 ms':>7}"
    )
    for name, tally in rows.items():
        print(summary(name, tally))


def add_condition_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--condition NAME`, repeatable, one of the world's conditions."""
    parser.add_argument("--condition", action="append", choices=list(CONDITIONS), help=help)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets-per-condition", type=int, default=48)
    add_condition_option(parser, "run only this condition (repeatable; default: all)")
    parser.add_argument(
        "--true-stamps",
        action="store_true",
        help="the same sets stamped when measured, not when a Bluetooth link delivered them",
    )
    args = parser.parse_args()
    conditions = args.condition or list(CONDITIONS)
    by_condition = {name: Tally() for name in conditions}
    by_band = {name: Tally() for name in BANDS}
    by_lift = {lift: Tally() for lift in LIFTS}
    everything = Tally()
    samples, seconds = 0, 0.0
    for condition in conditions:
        for drawn in corpus(condition, args.sets_per_condition):
            spec = msgspec.structs.replace(drawn, timing="steady") if args.true_stamps else drawn
            tallies = [by_condition[condition], by_band[band(spec.rate_hz)], by_lift[spec.lift]]
            n, elapsed = run(spec, [*tallies, everything])
            samples += n
            seconds += elapsed
    print(f"{args.sets_per_condition} sets per condition, seeds {SEED_BASE}+")
    table("condition", {**by_condition, "all": everything})
    print()
    table("rate band", by_band)
    print()
    table("lift", by_lift)
    print()
    print("path RMS per rep vs truth, mean and p95 (cm, cm/s for velocity, ° for tilt change)")
    print(f"{'condition':<15}" + "".join(f"{key:>8}{'p95':>7}" for key in PATH_KEYS))
    for name, tally in {**by_condition, "all": everything}.items():
        print(path_summary(name, tally))
    print(f"throughput in the run above (50 ms drains): {samples / seconds:,.0f} samples/s")
    specs = [msgspec.structs.replace(spec, rate_hz=1000.0) for spec in corpus("baseline", 24)]
    print(throughput(specs))


def throughput(specs: list[SimSpec]) -> str:
    """Samples per second on one core for the full chain, by FIFO drain length: each feed
    costs a fixed overhead, so longer drains (a 1 kHz FIFO holds about 128 ms) go faster."""
    sims = [simulate(spec) for spec in specs]
    figures = []
    for drain_s in (0.05, 0.1, 0.2):
        samples, seconds = 0, 0.0
        for spec, sim in zip(specs, sims, strict=True):
            chunks = list(sim.recording.split(max(1, round(drain_s * spec.rate_hz))))
            analysis = RepAnalysis(AnalysisSettings(lift=spec.lift, load_kg=spec.load_kg))
            started = time.perf_counter()
            for chunk in chunks:
                analysis.feed(chunk)
            seconds += time.perf_counter() - started
            samples += len(sim.recording)
        figures.append(f"{1000 * drain_s:.0f} ms drains {samples / seconds:,.0f}")
    return "throughput, samples/s on one core: " + ", ".join(figures)


if __name__ == "__main__":
    main()
