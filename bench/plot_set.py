"""Draw a simulated set as a PNG: bar height, vertical velocity and load-cell force over time,
with the true rep boundaries, so a person can judge whether it looks like a real lift.

    .venv/bin/python bench/plot_set.py --lift hip_thrust --reps 6 --out out/hip_thrust.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from contract.lifts import LIFTS
from hardware.simulate import SimSpec, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lift", choices=LIFTS, default="hip_thrust")
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--load", type=float, default=120.0)
    parser.add_argument("--one-rm", type=float, default=160.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("out/set.png"))
    args = parser.parse_args()

    spec = SimSpec(
        lift=args.lift,
        reps=args.reps,
        load_kg=args.load,
        one_rm_kg=args.one_rm,
        seed=args.seed,
        faults=tuple(args.fault),
    )
    sim = simulate(spec)
    t = sim.recording.t
    position, velocity, _ = sim.kinematics(t)
    force = sim.recording.force_n
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(12, 8), constrained_layout=True)
    axes[0].plot(t, position[:, 2], label="height z")
    axes[0].plot(t, position[:, 1] + position[0, 2], label="horizontal y (offset)", alpha=0.7)
    axes[0].set_ylabel("m")
    axes[1].plot(t, velocity[:, 2], color="tab:green")
    axes[1].set_ylabel("vertical velocity, m/s")
    if force is not None:
        for side, name in enumerate(("left", "right")):
            have = ~np.isnan(force[:, side])
            axes[2].plot(t[have], force[have, side], label=name, lw=0.8)
    axes[2].set_ylabel("load cell, N")
    axes[2].set_xlabel("time, s")
    for rep in sim.truth.reps:
        for ax in axes:
            ax.axvspan(rep.t_concentric_start, rep.t_concentric_end, color="tab:orange", alpha=0.15)
            ax.axvline(rep.t_start, color="k", lw=0.6, ls="--")
            ax.axvline(rep.t_end, color="k", lw=0.6, ls=":")
        label = f"{rep.mean_velocity_mps:.2f} m/s" + (
            " " + ",".join(rep.faults) if rep.faults else ""
        )
        axes[1].annotate(label, (rep.t_concentric_start, rep.peak_velocity_mps), fontsize=7)
    for ax in (axes[0], axes[2]):
        ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(
        f"{args.lift}, {args.load:.0f} kg of {args.one_rm:.0f} kg 1RM, seed {args.seed}: "
        "concentric shaded, rep start dashed, rep end dotted"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
