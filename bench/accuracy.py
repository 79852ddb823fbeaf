"""Accuracy, latency and throughput of the edge analysis against the simulator's ground truth.

A fixed corpus: every lift, loads from 40 to 100 % 1RM, athletes of different strength,
realistic sensor error, set-up motion, form faults on a third of the sets, and seeds that no
test uses. Chunks of 50 ms are fed as FIFO drains would deliver them.

    .venv/bin/python bench/accuracy.py [--sets 240] [--rate 1000]

Latency is the time from a rep's true end to the end of the drain whose analysis emitted it.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from contract.lifts import LIFTS
from edge.analysis import AnalysisSettings, Rep, RepAnalysis
from hardware.faults import EFFECTS
from hardware.simulate import RepTruth, SimSpec, Simulation, simulate

SEED_BASE = 7_000_000  # tests use small seeds; this corpus uses none of them
CHUNK_S = 0.05
PATH_KEYS = ("height", "ap", "lateral", "velocity", "tilt")


def corpus(count: int, rate_hz: float) -> list[SimSpec]:
    rng = np.random.default_rng(SEED_BASE)
    specs = []
    for i in range(count):
        one_rm = float(rng.uniform(80, 200))
        faults: tuple[str, ...] = ()
        if rng.random() < 1 / 3:
            code = str(rng.choice(sorted(EFFECTS)))
            faults = (f"{code}:{rng.uniform(0, 1):.2f}",)
        fraction = float(rng.uniform(0.4, 1.0))
        # No more reps than a lifter can do at this load (Epley): a set asked beyond failure
        # would be grinding at a speed no accelerometer can tell from standing still.
        possible = max(1, int(30 * (1 / fraction - 1)) + 1)
        specs.append(
            SimSpec(
                lift=LIFTS[i % len(LIFTS)],
                reps=min(int(rng.integers(3, 11)), possible),
                load_kg=round(one_rm * fraction, 1),
                one_rm_kg=one_rm,
                seed=SEED_BASE + i,
                rate_hz=rate_hz,
                faults=faults,
            )
        )
    return specs


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


def run(spec: SimSpec, tally: Tally, by_lift: dict[str, Tally]) -> tuple[int, float]:
    sim = simulate(spec)
    analysis = RepAnalysis(AnalysisSettings(lift=spec.lift, load_kg=spec.load_kg))
    reps: list[Rep] = []
    sent_at: dict[int, float] = {}
    size = max(1, round(CHUNK_S * spec.rate_hz))
    started = time.perf_counter()
    for chunk in sim.recording.split(size):
        for event in analysis.feed(chunk):
            if isinstance(event, Rep):
                sent_at[id(event)] = float(chunk.t[-1])
                reps.append(event)
    analysis.finish()
    elapsed = time.perf_counter() - started
    pairs = match(reps, sim.truth.reps)
    for t in (tally, by_lift[spec.lift]):
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
    return len(sim.recording), elapsed


def path_errors(rep: Rep, sim: Simulation) -> dict[str, float]:
    """RMS error of the rep's path against the true motion at its own sample times. Tilt is
    compared as the change from the rep's start: the absolute angle carries the accelerometer's
    zero-g offset (see tilt° above). The simulator's tilt is + right end down."""
    assert rep.path is not None
    path, t = rep.path, rep.t_start + rep.path.t_s
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
        cells.append(f"{rms.mean():>8.2f}{np.percentile(rms, 95):>7.2f}")
    return f"{name:<13}" + "".join(cells)


def summary(name: str, t: Tally) -> str:
    def mae(key: str) -> float:
        return float(np.mean(np.abs(t.errors[key]))) if t.errors[key] else float("nan")

    def bias(key: str) -> float:
        return float(np.mean(t.errors[key])) if t.errors[key] else float("nan")

    latency = np.array(t.latency_s) * 1000 if t.latency_s else np.array([np.nan])
    return (
        f"{name:<13}{t.sets:>5}{100 * t.exact / max(t.sets, 1):>8.1f}{t.truth_reps:>6}{t.missed:>7}"
        f"{t.ghosts:>7}{mae('mcv'):>9.4f}{bias('mcv'):>+9.4f}{mae('peak'):>8.3f}{bias('peak'):>+8.3f}"
        f"{mae('mpv'):>8.3f}{100 * mae('rom'):>8.2f}{mae('tilt'):>7.2f}{mae('hold'):>7.3f}"
        f"{np.percentile(latency, 50):>7.0f}{np.percentile(latency, 95):>7.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=240)
    parser.add_argument("--rate", type=float, default=1000.0, help="IMU rate, Hz")
    args = parser.parse_args()
    tally, by_lift = Tally(), defaultdict(Tally)
    samples, seconds = 0, 0.0
    for spec in corpus(args.sets, args.rate):
        n, elapsed = run(spec, tally, by_lift)
        samples += n
        seconds += elapsed
    print(f"corpus: {args.sets} sets at {args.rate:.0f} Hz, seeds {SEED_BASE}+")
    print(
        f"{'lift':<13}{'sets':>5}{'exact%':>8}{'reps':>6}{'missed':>7}{'ghosts':>7}"
        f"{'MCV MAE':>9}{'bias':>9}{'PV MAE':>8}{'bias':>8}{'MPV MAE':>8}{'ROM cm':>8}"
        f"{'tilt°':>7}{'hold s':>7}{'p50 ms':>7}{'p95 ms':>7}"
    )
    for lift in LIFTS:
        print(summary(lift, by_lift[lift]))
    print(summary("all", tally))
    print("path RMS per rep vs truth, mean and p95 (cm, cm/s for velocity, ° for tilt change)")
    print(f"{'lift':<13}" + "".join(f"{key:>8}{'p95':>7}" for key in PATH_KEYS))
    for lift in LIFTS:
        print(path_summary(lift, by_lift[lift]))
    print(path_summary("all", tally))
    print(f"throughput in the run above (50 ms drains): {samples / seconds:,.0f} samples/s")
    print(throughput(corpus(24, args.rate)))


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
