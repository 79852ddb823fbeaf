"""Accuracy of next-load advice against the simulator's true 1RM, over many simulated athletes.

Each athlete has a true 1RM (60–200 kg) and a velocity against the population profile drawn
once (±6 %: their v1RM moves with it, which the advice cannot know), and trains two sessions a
week apart, each with its own day-form (±3 %). A session is a warm-up ladder at 40, 55 and 70 %
1RM (or one set at 50 %, with --one-warmup) and two work sets at 70–90 %, 3 reps each,
through the real edge analysis at 1 kHz with set-up motion. The advice after the second
session's last set is scored. Seeds start at 9 000 000, which no test and no other benchmark uses.

    .venv/bin/python bench/advice.py [--athletes 120] [--one-warmup]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

# Run as a script, bench/ is on the path but the repo is not: bench and tests import each other.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from contract.lifts import LIFTS
from contract.messages import RepMessage, SetMessage
from server.advice import AdviceSettings, RepRecord, advise_from
from tests.helpers import simulated_session

SEED_BASE = 9_000_000
START_S = 1_750_000_000.0
WEEK_S = 7 * 86_400.0


def athlete_history(
    index: int, ladder: bool
) -> tuple[str, float, list[RepMessage | SetMessage], SetMessage]:
    rng = np.random.default_rng(SEED_BASE + index)
    lift = LIFTS[index % len(LIFTS)]
    one_rm = float(rng.uniform(60, 200))
    scale = float(rng.normal(1.0, 0.06))
    messages: list[RepMessage | SetMessage] = []
    for week in range(2):
        warmups = [0.40, 0.55, 0.70] if ladder else [0.50]
        work = float(rng.uniform(0.70, 0.90))
        loads = [round(one_rm * f / 2.5) * 2.5 for f in [*warmups, work, work]]
        messages += simulated_session(
            lift,
            one_rm,
            loads,
            f"a{index}w{week}",
            START_S + week * WEEK_S,
            athlete=f"a{index}",
            seed=SEED_BASE + index * 100 + week * 10,
            velocity_scale=scale * float(rng.normal(1.0, 0.03)),
        )
    last = [m for m in messages if isinstance(m, SetMessage)][-1]
    return lift, one_rm, messages, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=120)
    parser.add_argument("--one-warmup", action="store_true")
    args = parser.parse_args()
    settings = AdviceSettings()
    errors: dict[str, list[tuple[float, float]]] = defaultdict(list)  # lift → (kg, %)
    next_pct: dict[str, list[float]] = defaultdict(list)
    missing: dict[str, list[str]] = defaultdict(list)
    held: dict[str, int] = defaultdict(int)
    began = time.perf_counter()
    for index in range(args.athletes):
        lift, one_rm, messages, last = athlete_history(index, not args.one_warmup)
        history = [RepRecord.of(m) for m in messages if isinstance(m, RepMessage)]
        advice = advise_from(last, history, settings)
        held[lift] += advice.held_back  # no fault was simulated: every hold is a false one
        if advice.e1rm_kg is None or advice.next_load_kg is None:
            missing[lift].append(advice.reason)
            continue
        errors[lift].append((advice.e1rm_kg - one_rm, 100 * (advice.e1rm_kg / one_rm - 1)))
        next_pct[lift].append(100 * advice.next_load_kg / one_rm)
    elapsed = time.perf_counter() - began

    print(
        f"{args.athletes} athletes, {'one warm-up set' if args.one_warmup else 'warm-up ladder'}, "
        f"{elapsed:.0f} s; e1RM against the true 1RM; next load as % of the true 1RM "
        f"(target {settings.target_pct_1rm:g} % of e1RM, +{settings.max_increase_pct:g} % cap)"
    )
    header = "| lift | advised | no advice | held (false) | e1RM MAE | bias | MAE % | bias % "
    print(header + "| |err| p90 % | next % 1RM |")
    print("|" + "---|" * 10)
    for lift in [*LIFTS, "all"]:
        picked = [lift] if lift != "all" else list(LIFTS)
        found = np.array([e for name in picked for e in errors[name]]).reshape(-1, 2)
        nexts = [p for name in picked for p in next_pct[name]]
        unadvised = sum(len(missing[name]) for name in picked)
        holds = sum(held[name] for name in picked)
        if not len(found):
            print(f"| {lift} | 0 | {unadvised} | {holds} | – | – | – | – | – | – |")
            continue
        kg, pct = found[:, 0], found[:, 1]
        print(
            f"| {lift} | {len(found)} | {unadvised} | {holds} | {np.abs(kg).mean():.1f} kg "
            f"| {kg.mean():+.1f} | {np.abs(pct).mean():.1f} % | {pct.mean():+.1f} "
            f"| {np.percentile(np.abs(pct), 90):.1f} | {np.mean(nexts):.1f} % |"
        )
    reasons = sorted({r.split(";")[0] for name in missing for r in missing[name]})
    if reasons:
        print("no advice because: " + " / ".join(reasons))


if __name__ == "__main__":
    main()
