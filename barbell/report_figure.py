"""The session report's page: velocity per rep by set, the bar path of each rep, the faults, the
coach's alerts and the next-load advice. Pure drawing: barbell/report.py reads the data."""

from __future__ import annotations

import textwrap
import time

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.patches import Patch

from barbell.report import FaultMark, RepRow, SessionData
from server.alerts import FAULT_WORDS

WIDTH_IN, HEIGHT_IN, DPI = 15.0, 10.0, 120  # 1800 × 1200 px: landscape, legible when printed
MAX_PATH_PANELS = 6  # more sets than this: the first ones are left out of the bar-path row
MAX_LINES = 9  # per text column
PATH_HALF_WIDTH_CM = 8.0

CLEAN, WARN, CRITICAL, INK, MUTED = "#4c72b0", "#e8913a", "#c0392b", "#222222", "#777777"
SEVERITY_COLOUR = {"info": CLEAN, "warn": WARN, "critical": CRITICAL}

# How each fault's value reads, as (scale, unit): edge/faults.py measures them in SI units.
FAULT_UNITS: dict[str, tuple[float, str]] = {
    "partial_lockout": (100, " % of ROM short"),
    "overextension": (100, " cm"),
    "no_lockout_hold": (1, " s hold"),
    "momentum": (1, "× sharpness"),
    "hip_shoot": (1, " s stall"),
    "bar_tilt": (1, "°"),
    "load_asymmetry": (1, " %"),
    "bar_drift": (100, " cm"),
    "fast_eccentric": (1, "× free-fall time"),
    "velocity_loss": (1, " %"),
    "grinding": (1, "× v1RM"),
}


# Short enough to fit up a bar; the fault list below the chart says them in full.
BAR_LABELS: dict[str, str] = {
    "partial_lockout": "partial",
    "overextension": "overarch",
    "no_lockout_hold": "no hold",
    "momentum": "momentum",
    "hip_shoot": "hip shoot",
    "bar_tilt": "tilt",
    "load_asymmetry": "uneven",
    "bar_drift": "drift",
    "fast_eccentric": "fast down",
    "velocity_loss": "v loss",
    "grinding": "grind",
}


def title(data: SessionData) -> str:
    loads = sorted({rep.load_kg for rep in data.reps if rep.load_kg is not None})
    if not loads:
        load = "load not known"
    elif loads[0] == loads[-1]:
        load = f"{loads[0]:g} kg"
    else:
        load = f"{loads[0]:g}–{loads[-1]:g} kg"
    day = time.strftime("%a %d %b %Y, %H:%M", time.localtime(data.started_s))
    athlete = data.athlete.title() or "Unnamed athlete"
    return f"{athlete} · {_lift(data.lift)} · {load} · {day}"


def draw(data: SessionData) -> Figure:
    figure = plt.figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    figure.suptitle(title(data), fontsize=20, fontweight="bold", color=INK)
    rows = figure.subfigures(3, 1, height_ratios=[4.3, 3.4, 2.3])
    top, middle, bottom = (rows[i] for i in range(3))  # type: ignore[index]
    _velocity(top.subplots(), data)
    _paths(middle, data)
    faults, notes = bottom.subplots(1, 2)
    _fault_list(faults, data)
    _alerts_and_advice(notes, data)
    return figure


def _lift(name: str) -> str:
    return name.replace("_", " ").capitalize() if name != "rdl" else "RDL"


def _colour(rep: RepRow) -> str:
    if not rep.faults:
        return CLEAN
    return CRITICAL if any(f.severity == "critical" for f in rep.faults) else WARN


def _velocity(ax: Axes, data: SessionData) -> None:
    """Bars per rep grouped by set, faults named over their bars, each set's loss written."""
    sets = data.sets()
    best = max((r.mean_velocity_mps or 0 for r in data.reps), default=0) or 1.0
    x = 0.0
    ticks: list[float] = []
    labels: list[str] = []
    for set_index, reps in sets.items():
        xs = [x + i for i in range(len(reps))]
        velocities = [r.mean_velocity_mps or 0 for r in reps]
        ax.bar(xs, velocities, width=0.72, color=[_colour(r) for r in reps], zorder=2)
        for xi, rep, v in zip(xs, reps, velocities, strict=True):
            ax.text(
                xi,
                v + best * 0.02,
                f"{v:.2f}",
                ha="center",
                va="bottom",
                fontsize=9,
                bbox={"fc": "white", "ec": "none", "pad": 1},
                zorder=4,
            )
            if rep.faults:  # named inside the bar, so no label collides with its neighbours'
                named = "\n".join(BAR_LABELS.get(f.code, f.code) for f in rep.faults)
                ax.text(
                    xi,
                    best * 0.03,
                    named,
                    ha="center",
                    va="bottom",
                    rotation=90,
                    fontsize=9,
                    color="white",
                    fontweight="bold",
                    zorder=3,
                )
        top = max(velocities)
        ax.hlines(top, xs[0] - 0.4, xs[-1] + 0.4, colors=MUTED, linestyles="--", lw=1, zorder=1)
        loss = reps[-1].velocity_loss_pct
        load = reps[0].load_kg
        heading = f"Set {set_index + 1}" + (f" · {load:g} kg" if load is not None else "")
        if loss is not None:
            heading += f"\nvelocity loss {loss:.0f} %"
        ax.text(
            (xs[0] + xs[-1]) / 2,
            best * 1.42,
            heading,
            ha="center",
            va="top",
            fontsize=11,
            color=INK,
        )
        ticks += xs
        labels += [str(r.rep_index + 1) for r in reps]
        x = xs[-1] + 2
    ax.set_xticks(ticks, labels)
    ax.set_xlabel("rep", color=MUTED)
    ax.set_ylabel("mean concentric velocity (m/s)")
    ax.set_ylim(0, best * 1.45)
    ax.set_xlim(-0.8, x - 1.2)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title("Velocity per rep (dashed: the set's best)", loc="left", fontsize=13)
    ax.legend(
        handles=[
            Patch(color=CLEAN, label="clean rep"),
            Patch(color=WARN, label="form fault"),
            Patch(color=CRITICAL, label="critical fault"),
        ],
        loc="upper right",
        bbox_to_anchor=(1.0, 1.14),
        ncols=3,
        frameon=False,
        fontsize=10,
    )


def _short(code: str) -> str:
    return FAULT_WORDS[code][0] if code in FAULT_WORDS else code.replace("_", " ")


def _paths(figure: SubFigure, data: SessionData) -> None:
    """Side view of the bar through each rep, one panel per set; faulty reps in their colour."""
    if not data.paths:
        ax = figure.subplots()
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color("#cccccc")
        ax.text(
            0.5,
            0.5,
            "No bar path stored for this session\n(no `path` points in InfluxDB)",
            ha="center",
            va="center",
            fontsize=14,
            color=MUTED,
            transform=ax.transAxes,
        )
        ax.set_title("Bar path", loc="left", fontsize=13)
        return
    by_rep = {(r.set_index, r.rep_index): r for r in data.reps}
    set_indices = sorted({p.set_index for p in data.paths})[-MAX_PATH_PANELS:]
    axes = figure.subplots(1, len(set_indices), sharey=True, squeeze=False)[0]
    for ax, set_index in zip(axes, set_indices, strict=True):
        for path in (p for p in data.paths if p.set_index == set_index):
            rep = by_rep.get((path.set_index, path.rep_index))
            faulty = rep is not None and bool(rep.faults)
            ap_cm = [v * 100 for v in path.ap_m]
            height_cm = [v * 100 for v in path.height_m]
            ax.plot(
                ap_cm,
                height_cm,
                lw=2.2 if faulty else 1.4,
                alpha=0.95 if faulty else 0.6,
                color=_colour(rep) if rep else CLEAN,
                zorder=3 if faulty else 2,
            )
        faulty_reps = [r.rep_index + 1 for r in data.reps if r.set_index == set_index and r.faults]
        named = f" (faults: rep {', '.join(map(str, faulty_reps))})" if faulty_reps else ""
        ax.set_title(f"Set {set_index + 1}{named}", fontsize=11)
        ax.set_xlabel("front–back (cm)")
        ax.grid(alpha=0.3)
        # Centred on the start and never narrower than ±PATH_HALF_WIDTH_CM, so a few millimetres
        # of wobble do not look like drift.
        reach = max((abs(v) * 100 for p in data.paths for v in p.ap_m), default=0.0)
        half = max(PATH_HALF_WIDTH_CM, reach * 1.15)
        ax.set_xlim(-half, half)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("height (cm)")
    figure.suptitle(
        "Bar path, side view (from where each rep starts)", x=0.01, ha="left", fontsize=13
    )


def _fault_list(ax: Axes, data: SessionData) -> None:
    ax.axis("off")
    ax.set_title("Form faults", loc="left", fontsize=13)
    faulty = data.faulty_reps
    if not faulty:
        _lines(ax, [("No form faults: every rep clean.", CLEAN)])
        return
    lines = [
        (
            f"Set {rep.set_index + 1}, rep {rep.rep_index + 1}: {_short(f.code)} "
            f"{_reading(f)} ({f.severity})",
            SEVERITY_COLOUR.get(f.severity, INK),
        )
        for rep in faulty
        for f in rep.faults
    ]
    _lines(ax, lines)


def _reading(fault: FaultMark) -> str:
    scale, unit = FAULT_UNITS.get(fault.code, (1, ""))
    return f"{fault.value * scale:.1f}{unit}, limit {fault.threshold * scale:.1f}"


def _alerts_and_advice(ax: Axes, data: SessionData) -> None:
    ax.axis("off")
    ax.set_title("Coach alerts and next session", loc="left", fontsize=13)
    lines: list[tuple[str, str]] = [
        (
            f"{time.strftime('%H:%M:%S', time.localtime(a.t_s))}  {a.message}",
            SEVERITY_COLOUR.get(a.severity, INK),
        )
        for a in data.alerts
    ] or [("No alerts.", MUTED)]
    if data.advice:
        wrapped = textwrap.wrap(f"Next load: {data.advice}", 95)
        lines = [*lines[: MAX_LINES - len(wrapped) - 1], ("", INK)]
        lines += [(line, INK) for line in wrapped]
    _lines(ax, lines)


def _lines(ax: Axes, lines: list[tuple[str, str]]) -> None:
    if len(lines) > MAX_LINES:
        lines = [*lines[: MAX_LINES - 1], (f"… and {len(lines) - MAX_LINES + 1} more", MUTED)]
    for i, (text, colour) in enumerate(lines):
        ax.text(
            0.0,
            0.95 - i * 0.105,
            textwrap.shorten(text, 100),
            transform=ax.transAxes,
            fontsize=10.5,
            color=colour,
            va="top",
        )
