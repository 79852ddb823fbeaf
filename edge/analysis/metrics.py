"""What a rep measured: SPEC section 5's metrics from the corrected samples of its two phases.

Definitions follow the velocity-based-training literature: mean concentric velocity is travel
over time; mean propulsive velocity stops where the bar decelerates faster than gravity
(Sánchez-Medina et al. 2010); power is force times velocity, with the force from the load
cells when there are any, else from the load's mass and the bar's acceleration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.analysis.phases import Phase
from edge.analysis.track import AZ, FL, FR, PAP, PLAT, TILT, VZ, T, Track, Z
from edge.analysis.units import G


@dataclass(frozen=True)
class RepMetrics:
    t_start: float
    t_concentric_start: float
    t_concentric_end: float
    t_end: float
    rom_m: float
    mean_velocity_mps: float
    peak_velocity_mps: float
    mean_propulsive_velocity_mps: float
    concentric_s: float
    eccentric_s: float
    lockout_hold_s: float
    tilt_max_deg: float
    tilt_change_deg: float  # largest change from the tilt at the rep's start (no sensor offset)
    stall_s: float  # time the bar all but stopped inside the concentric (hips shooting)
    # Peak acceleration × launch travel / peak velocity²: how hard the bar was launched for the
    # speed it reached over the travel that launch carried it (see _sharpness). A smooth push is
    # about 1.7 whatever the load; a jerk off the bottom is over 2. It needs no times, so a slow
    # creep at the top (which ends a phase early) cannot fool it.
    sharpness: float
    peak_at_frac: float  # share of the ROM covered when the bar was fastest
    drift_ap_m: float
    drift_lateral_m: float
    asymmetry_pct: float | None
    peak_power_w: float | None


def measure(
    track: Track, first: Phase, second: Phase, hold_s: float, load_kg: float | None
) -> RepMetrics:
    up, down = (first, second) if first.direction > 0 else (second, first)
    rep = track.rows(first.start, second.stop + 1)
    concentric = track.rows(up.start, up.stop + 1)
    rom = up.travel_m
    mean = rom / max(up.duration_s, 1e-6)
    return RepMetrics(
        t_start=first.t_start,
        t_concentric_start=up.t_start,
        t_concentric_end=up.t_stop,
        t_end=second.t_stop,
        rom_m=rom,
        mean_velocity_mps=mean,
        peak_velocity_mps=float(concentric[:, VZ].max()),
        mean_propulsive_velocity_mps=_propulsive(concentric, up, mean),
        concentric_s=up.duration_s,
        eccentric_s=down.duration_s,
        lockout_hold_s=hold_s,
        tilt_max_deg=float(np.abs(rep[:, TILT]).max()),
        tilt_change_deg=float(np.abs(rep[:, TILT] - rep[0, TILT]).max()),
        stall_s=_stall(concentric),
        sharpness=_sharpness(concentric),
        peak_at_frac=_peak_at(concentric, rom),
        drift_ap_m=float(np.ptp(rep[:, PAP])),
        drift_lateral_m=float(np.ptp(rep[:, PLAT])),
        asymmetry_pct=_asymmetry(rep),
        peak_power_w=_peak_power(concentric, load_kg),
    )


def _propulsive(rows: np.ndarray, up: Phase, mean: float) -> float:
    braking = np.flatnonzero(rows[:, AZ] < -G)
    if braking.size == 0 or braking[0] == 0:
        return mean
    end = braking[0]
    return float((rows[end, Z] - rows[0, Z]) / max(rows[end, T] - up.t_start, 1e-6))


# A second push: after slowing from its peak, the bar speeds up again by this share of the peak.
# A sticking region dips several times deeper (about 40 % in the simulator); the velocity's
# noise after the end-point correction is a few mm/s.
REPUSH_FRAC = 0.1
# Acceleration is read as the steepest gain in velocity over this share of the concentric. The
# largest raw sample would read the IMU's noise (about 0.015 m/s² rms at 1 kHz) as well, which
# matters when a grinding rep's launch peaks at 0.2 m/s². A share, not a time, so fast and slow
# reps of the same shape score the same.
ACCEL_WINDOW_FRAC = 0.05


def _sharpness(rows: np.ndarray) -> float:
    """The launch's peak acceleration × its travel / its peak velocity² (dimensionless).

    The launch is the rep's first push. A jerk wins its speed early and the bar coasts on it to
    lockout, so the launch travels the whole ROM. A heavy rep also peaks early, but then slows
    in the sticking region and is pushed again (van den Tillaar & Ettema 2010): its launch ends
    at the sticking point, and scored over that travel it is as smooth as any push.
    """
    v, z, t = rows[:, VZ], rows[:, Z], rows[:, T]
    if v.max() <= 0:
        return 0.0
    peak, end = _launch(v, REPUSH_FRAC * float(v.max()))
    if peak == 0:
        return 0.0
    rising_v, rising_t = v[: peak + 1], t[: peak + 1]
    w = min(max(1, round(ACCEL_WINDOW_FRAC * len(v))), peak)
    gain = (rising_v[w:] - rising_v[:-w]) / np.maximum(rising_t[w:] - rising_t[:-w], 1e-6)
    return float(gain.max()) * float(z[end] - z[0]) / float(v[peak]) ** 2


def _launch(v: np.ndarray, rise_mps: float) -> tuple[int, int]:
    """The first push: the index of its fastest sample and of its end, the sticking point if
    the bar is pushed again after it, else the last sample."""
    peak = int(v.argmax())
    # Going back from the peak, slower and then faster again: an earlier push came first.
    while (back := _sticking_point(v[peak::-1], rise_mps)) is not None:
        peak = int(v[: peak - back + 1].argmax())
    end = _sticking_point(v[peak:], rise_mps)
    return peak, len(v) - 1 if end is None else peak + end


def _sticking_point(v: np.ndarray, rise_mps: float) -> int | None:
    """The slowest sample before the bar speeds up again by `rise_mps`, if it ever does."""
    again = np.flatnonzero(v - np.minimum.accumulate(v) > rise_mps)
    return int(v[: again[0]].argmin()) if again.size else None


def _peak_at(rows: np.ndarray, rom: float) -> float:
    fastest = int(rows[:, VZ].argmax())
    return float((rows[fastest, Z] - rows[0, Z]) / rom) if rom > 0 else 0.0


def _stall(rows: np.ndarray) -> float:
    """Seconds inside the concentric (its first and last fifth aside, where every rep is slow)
    during which the bar moved at under a tenth of its peak speed."""
    v, t = rows[:, VZ], rows[:, T]
    middle = (t > t[0] + 0.2 * (t[-1] - t[0])) & (t < t[-1] - 0.2 * (t[-1] - t[0]))
    slow = middle & (v < 0.1 * v.max())
    return float(np.diff(t, prepend=t[0])[slow].sum())


def _asymmetry(rows: np.ndarray) -> float | None:
    """Left minus right share of the load, % of the total, where it is largest in the rep."""
    force = rows[:, FL : FR + 1]
    force = force[~np.isnan(force).any(axis=1)]
    if force.shape[0] < 3:
        return None
    total = force.sum(axis=1)
    # Near free fall (a fast lockout) the bar carries almost nothing and the share is noise.
    loaded = total > 0.5 * np.median(total)
    if loaded.sum() < 3:
        return None
    share = 100 * (force[loaded, 0] - force[loaded, 1]) / total[loaded]
    smooth = np.convolve(share, np.ones(3) / 3, mode="valid")
    return float(smooth[np.abs(smooth).argmax()])


def _peak_power(rows: np.ndarray, load_kg: float | None) -> float | None:
    have = ~np.isnan(rows[:, FL]) & ~np.isnan(rows[:, FR])
    if have.sum() >= 3:
        force = rows[have, FL] + rows[have, FR]
        return float((force * rows[have, VZ]).max())
    if load_kg is None:
        return None
    return float((load_kg * (G + rows[:, AZ]) * rows[:, VZ]).max())
