"""Precision and recall of the form-fault rules against the simulator's labels.

A labelled corpus: every fault code on every lift it applies to, at subtle (0), middle (0.5)
and obvious (1) magnitude, and clean sets for the false-alarm rate. The clean sets cover every
load band up to 97 % 1RM, where heavy reps slow in the sticking region, and their false faults
are printed per band. Seeds differ from the tests and from bench/accuracy.py.

By default the sets are drawn on the simulator's datasheet sensor at 1 kHz. Each `--condition`
(hardware/world.py) puts the same sets under that condition's rate, sensor, habits and timing
instead, and prints a table of its own.

    .venv/bin/python bench/faults.py [--seeds 2] [--condition NAME ...]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script, bench/ is on the path but the repo is not: bench and tests import each other.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from bench.accuracy import add_condition_option, match
from contract.lifts import LIFTS
from edge.analysis import AnalysisSettings, Rep, RepAnalysis
from edge.analysis.faults import CODES, DEFAULTS
from hardware.simulate import SimSpec, simulate
from hardware.world import draw_conditions

SEED_BASE = 8_000_000
MAGNITUDES = (0.0, 0.5, 1.0)
# SPEC: hips shooting includes the bar drifting off the line, so a drift found on such a rep
# is right, not a false alarm (nor a hit: it was not the fault injected).
IMPLIED = {"hip_shoot": {"bar_drift"}}
# Clean sets are drawn in each band of %1RM; reps of 85 % and more have a sticking region.
LOAD_BANDS = ((0.40, 0.55), (0.55, 0.70), (0.70, 0.85), (0.85, 0.97))


def applies(code: str, lift: str) -> bool:
    thresholds = DEFAULTS[lift]
    if code == "hip_shoot":
        return thresholds.hip_shoot_stall_s is not None
    if code == "fast_eccentric":
        return thresholds.fast_eccentric_ratio is not None
    if code == "no_lockout_hold":
        return thresholds.lockout_hold_s is not None
    return True


def judged(code: str, spec: SimSpec) -> bool:
    """The rule judges this set: it applies to the lift, and the bar has the sensor it reads (a
    clip-on IMU has no load cells to weigh an asymmetry with)."""
    return applies(code, spec.lift) and (code != "load_asymmetry" or spec.force_sps is not None)


def specs(seeds: int, condition: str | None = None) -> list[SimSpec]:
    """The corpus; under `condition`, each set with that condition's own draws for its seed."""
    rng = np.random.default_rng(SEED_BASE)
    out, n = [], 0
    for code in CODES:
        for lift in LIFTS:
            if not applies(code, lift):
                continue
            for magnitude in MAGNITUDES:
                for _ in range(seeds):
                    n += 1
                    fraction = float(rng.uniform(0.45, 0.8))
                    out.append(_spec(lift, n, fraction, (f"{code}:{magnitude}",), rng, condition))
    for lift in LIFTS:  # clean sets for the false-alarm rate
        for low, high in LOAD_BANDS:
            for _ in range(3 * seeds):
                n += 1
                fraction = float(rng.uniform(low, high))
                out.append(_spec(lift, n, fraction, (), rng, condition))
    return out


def band(spec: SimSpec) -> str:
    fraction = spec.load_kg / spec.one_rm_kg
    low, high = next(b for b in LOAD_BANDS if fraction < b[1] + 0.001)
    return f"{100 * low:.0f}-{100 * high:.0f} %"


def _spec(
    lift: str,
    n: int,
    fraction: float,
    faults: tuple[str, ...],
    rng: np.random.Generator,
    condition: str | None,
) -> SimSpec:
    one_rm = float(rng.uniform(80, 200))
    # No more reps than a lifter can do at this load (Epley), but at least three so that the
    # rules needing a reference judge some of them.
    possible = max(3, int(30 * (1 / fraction - 1)) + 1)
    return SimSpec(
        lift=lift,
        reps=min(int(rng.integers(5, 9)), possible),
        load_kg=round(one_rm * fraction, 1),
        one_rm_kg=one_rm,
        seed=SEED_BASE + n,
        faults=faults,
        **(draw_conditions(condition, SEED_BASE + n) if condition else {}),
    )


@dataclass
class Tally:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    # code → magnitude → [found, labelled]
    hits: dict[str, dict[float, list[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(lambda: [0, 0]))
    )
    clean_reps: Counter[str] = field(default_factory=Counter)  # load band → reps
    clean_false: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # load band → code → count


def run(spec: SimSpec, t: Tally) -> None:
    sim = simulate(spec)
    analysis = RepAnalysis(AnalysisSettings(lift=spec.lift, load_kg=spec.load_kg))
    reps: list[Rep] = []
    for chunk in sim.recording.split(50):
        reps += [e for e in analysis.feed(chunk) if isinstance(e, Rep)]
    for rep, true in match(reps, sim.truth.reps):
        found = {f.code for f in rep.faults}
        labelled = set(true.faults)
        found -= {code for label in labelled for code in IMPLIED.get(label, ())} - labelled
        for code in (c for c in CODES if judged(c, spec)):  # a label it does not judge
            if code in found and code in labelled:
                t.tp[code] += 1
            elif code in found:
                t.fp[code] += 1
            elif code in labelled:
                t.fn[code] += 1
            if code in labelled and spec.faults and spec.faults[0].startswith(code):
                magnitude = float(spec.faults[0].split(":")[1])
                t.hits[code][magnitude][0] += code in found
                t.hits[code][magnitude][1] += 1
        if not spec.faults:
            t.clean_reps[band(spec)] += 1
            for code in found - labelled:
                t.clean_false[band(spec)][code] += 1


def report(title: str, t: Tally) -> None:
    print(title)
    print(
        f"{'code':<17}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"
        f"{'subtle':>8}{'middle':>8}{'obvious':>9}"
    )
    for code in CODES:
        precision = t.tp[code] / max(t.tp[code] + t.fp[code], 1)
        recall = t.tp[code] / max(t.tp[code] + t.fn[code], 1)
        by_magnitude = [t.hits[code][m] for m in MAGNITUDES]
        rates = [
            f"{found / labelled:>8.2f}" if labelled else f"{'-':>8}"
            for found, labelled in by_magnitude
        ]
        print(
            f"{code:<17}{t.tp[code]:>5}{t.fp[code]:>5}{t.fn[code]:>5}{precision:>11.3f}"
            f"{recall:>8.3f}{''.join(rates)}"
        )
    print("clean sets, false faults by load band (% 1RM):")
    rows = {name: (count, t.clean_false[name]) for name, count in sorted(t.clean_reps.items())}
    rows["all"] = (sum(t.clean_reps.values()), sum(t.clean_false.values(), Counter()))
    for name, (count, false) in rows.items():
        total = sum(false.values())
        print(
            f"  {name:<9}{count:>5} reps {total:>4} false faults "
            f"({100 * total / max(count, 1):.2f} per 100 reps) {dict(false)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    add_condition_option(parser, "the same sets under this condition of the world (repeatable)")
    args = parser.parse_args()
    for condition in args.condition or [None]:
        tally = Tally()
        for spec in specs(args.seeds, condition):
            run(spec, tally)
        report(f"condition: {condition or 'the datasheet sensor at 1 kHz'}", tally)
        print()


if __name__ == "__main__":
    main()
