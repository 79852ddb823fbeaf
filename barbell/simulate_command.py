"""`barbell simulate`: a recording file and, beside it, its ground truth as JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec

from contract.errors import InputError
from contract.recording import write_recording
from hardware.simulate import SimSpec, simulate
from hardware.world import draw_spec


def truth_path(recording: Path) -> Path:
    return recording.with_suffix(".truth.json")


def spec_from(args: argparse.Namespace) -> SimSpec:
    """The flags' set, or with --condition the world's draw for --seed (and --lift, if given)."""
    if args.condition:
        return draw_spec(args.condition, args.seed, args.lift)
    return SimSpec(
        lift=args.lift or "hip_thrust",
        sets=args.sets,
        reps=args.reps,
        load_kg=args.load,
        one_rm_kg=args.one_rm,
        seed=args.seed,
        rate_hz=args.rate,
        noise=args.noise,
        force_sps=None if args.no_load_cells else args.force_rate,
        faults=tuple(args.fault),
        events=tuple(args.event),
        rest_s=args.rest,
        min_duration_s=args.duration,
        setup=not args.no_setup,
    )


def simulate_to_files(args: argparse.Namespace) -> int:
    spec = spec_from(args)
    if not args.output.parent.is_dir():
        raise InputError(f"cannot write {args.output}: no folder {args.output.parent}")
    result = simulate(spec)
    write_recording(args.output, result.header, result.recording.split(4096))
    truth_path(args.output).write_bytes(msgspec.json.format(msgspec.json.encode(result.truth)))
    print(
        f"wrote {args.output} ({len(result.recording)} samples, {len(result.truth.reps)} reps) "
        f"and {truth_path(args.output)}"
    )
    return 0
