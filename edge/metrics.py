"""What a rep measured: SPEC section 5's metrics from the corrected samples of its two phases.

Definitions follow the velocity-based-training literature: mean concentric velocity is travel
over time; mean propulsive velocity stops where the bar decelerates faster than gravity
(Sánchez-Medina et al. 2010); power is force times velocity, with the force from the load
cells when there are any, else from the load's mass and the bar's acceleration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.orientation import G
from edge.phases import Phase
from edge.track import AZ, FL, FR, PAP, PLAT, TILT, VZ, T, Track, Z


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
    # Peak acceleration × ROM / peak velocity²: how hard the bar was launched for the speed it
    # reached. A smooth push is about 1.7 whatever the load; a jerk off the bottom is over 2.
    # It needs no times, so a slow creep at the top (which ends a phase early) cannot fool it.
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
        sharpness=_sharpness(concentric, rom),
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


def _sharpness(rows: np.ndarray, rom: float) -> float:
    peak = float(rows[:, VZ].max())
    return float(rows[:, AZ].max()) * rom / peak**2 if peak > 0 else 0.0


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
