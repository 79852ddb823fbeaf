"""The bar's attitude from gyro and accelerometer (imufusion's AHRS), whatever its mounting roll.

Only x is known to lie along the bar; the AHRS finds gravity itself, so acceleration can be
taken to the earth frame (z up) and the bar axis' angle to the horizontal measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import imufusion
import numpy as np

G = 9.80665  # m/s²
DEG_PER_RAD = 180.0 / np.pi


@dataclass(frozen=True)
class OrientationSettings:
    gain: float = 0.5  # how strongly the accelerometer pulls the gyro's attitude back
    acceleration_rejection_deg: float = 10.0  # trust the gyro alone while the bar accelerates
    rejection_timeout_s: float = 5.0
    gyro_bias_rate: float = 0.2  # share of the gap to the rest mean taken at each rest


@dataclass(frozen=True)
class Attitude:
    """Per-sample results for a chunk."""

    accel_mps2: np.ndarray  # n×3 in the bar's earth frame (z up, ap, lat), gravity removed
    tilt_deg: np.ndarray  # angle of the bar's axis to the horizontal, + right end up


class Orientation:
    def __init__(self, settings: OrientationSettings | None = None) -> None:
        self.settings = settings or OrientationSettings()
        self._ahrs = imufusion.Ahrs()
        self._started = False
        self.gyro_bias_radps = np.zeros(3)

    def reset(self) -> None:
        """Forget the attitude: after clipped data, or a gap, it cannot be trusted."""
        self._started = False

    def _start(self, accel_mps2: np.ndarray, rate_hz: float) -> None:
        """Begin level with the measured gravity, so there is no start-up convergence."""
        s = self.settings
        settings = imufusion.AhrsSettings()
        settings.convention = imufusion.CONVENTION_NWU  # z up
        settings.gain = s.gain
        settings.gyroscope_range = 2000.0
        settings.acceleration_rejection = s.acceleration_rejection_deg
        settings.rejection_timeout = max(1, round(s.rejection_timeout_s * rate_hz))
        settings.sample_rate = rate_hz
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(settings)
        self._ahrs.set_quaternion(_level_quaternion(accel_mps2))
        self._ahrs.skip_startup()
        self._started = True

    def update(
        self, accel_mps2: np.ndarray, gyro_radps: np.ndarray, dt: np.ndarray, period_s: float
    ) -> Attitude:
        """Attitude for each sample; `dt` is each sample's period and `period_s` the typical
        one (s)."""
        if not self._started:
            self._start(accel_mps2[0], 1.0 / period_s)
        gyro_dps = np.ascontiguousarray((gyro_radps - self.gyro_bias_radps) * DEG_PER_RAD)
        accel_g = np.ascontiguousarray(accel_mps2 / G)
        ahrs = self._ahrs
        update, quaternion, set_period = (
            ahrs.update_no_magnetometer,
            ahrs.get_quaternion,
            ahrs.set_sample_period,
        )
        # Timestamps jitter by a percent or two, which changes nothing the gyro integrates;
        # only a dropped sample or a gap needs its own period.
        odd = np.flatnonzero(np.abs(dt - period_s) > 0.25 * period_s).tolist()
        out: list[np.ndarray] = []
        keep = out.append
        start = 0
        for stop in [*odd, dt.size]:
            set_period(period_s)
            # The one per-sample loop of the analysis: imufusion takes one sample per call.
            for gyro, accel in zip(gyro_dps[start:stop], accel_g[start:stop], strict=True):
                update(gyro, accel)
                keep(quaternion())
            if stop < dt.size:
                set_period(dt[stop])
                update(gyro_dps[stop], accel_g[stop])
                keep(quaternion())
            start = stop + 1
        quaternions = np.array(out)
        earth = _rotate(quaternions, accel_mps2)
        w, x, y, z = quaternions.T
        # The bar's axis (sensor x) in the earth frame is the rotation's first column.
        axis_x, axis_y, axis_z = 1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)
        # Its horizontal direction sets the lateral axis; ap is square to it (z × lat).
        norm = np.maximum(np.hypot(axis_x, axis_y), 1e-9)
        lat_x, lat_y = axis_x / norm, axis_y / norm
        bar_frame = np.empty_like(earth)
        bar_frame[:, 0] = earth[:, 2] - G
        bar_frame[:, 1] = earth[:, 1] * lat_x - earth[:, 0] * lat_y
        bar_frame[:, 2] = earth[:, 0] * lat_x + earth[:, 1] * lat_y
        tilt = np.degrees(np.arcsin(np.clip(axis_z, -1.0, 1.0)))
        return Attitude(bar_frame, tilt)

    def relevel(self, accel_at_rest_mps2: np.ndarray) -> None:
        """At rest the accelerometer reads gravity alone: take the attitude from it.

        The heading is lost, which nothing needs: lateral and ap follow the bar's own axis.
        """
        if self._started:
            self._ahrs.set_quaternion(_level_quaternion(accel_at_rest_mps2.mean(axis=0)))

    def learn_gyro_bias(self, gyro_at_rest_radps: np.ndarray) -> None:
        """At rest the gyro should read zero; what it reads is its bias."""
        mean = gyro_at_rest_radps.mean(axis=0)
        self.gyro_bias_radps += self.settings.gyro_bias_rate * (mean - self.gyro_bias_radps)


def _level_quaternion(accel: np.ndarray) -> np.ndarray:
    """The rotation (w, x, y, z) that takes the measured gravity direction onto +z."""
    up = accel / np.linalg.norm(accel)
    axis = np.array([up[1], -up[0], 0.0])  # up × ẑ
    sin, cos = float(np.hypot(up[0], up[1])), float(up[2])
    if sin < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0]) if cos > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    half = np.arctan2(sin, cos) / 2
    return np.concatenate([[np.cos(half)], axis / sin * np.sin(half)])


def _rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate n vectors by n unit quaternions (w, x, y, z): v + w·t + q × t, t = 2 q × v."""
    w, x, y, z = q.T
    vx, vy, vz = v.T
    tx, ty, tz = 2 * (y * vz - z * vy), 2 * (z * vx - x * vz), 2 * (x * vy - y * vx)
    out = np.empty_like(v)
    out[:, 0] = vx + w * tx + (y * tz - z * ty)
    out[:, 1] = vy + w * ty + (z * tx - x * tz)
    out[:, 2] = vz + w * tz + (x * ty - y * tx)
    return out
