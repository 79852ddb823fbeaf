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
        self, t: np.ndarray, accel_mps2: np.ndarray, gyro_radps: np.ndarray, dt: np.ndarray
    ) -> Attitude:
        """Attitude for each sample; `dt` is each sample's period (s)."""
        if not self._started:
            self._start(accel_mps2[0], 1.0 / float(np.median(dt)))
        gyro_dps = np.ascontiguousarray((gyro_radps - self.gyro_bias_radps) * DEG_PER_RAD)
        accel_g = np.ascontiguousarray(accel_mps2 / G)
        quaternions = np.empty((t.size, 4))
        ahrs = self._ahrs
        period, update, quaternion = (
            ahrs.set_sample_period,
            ahrs.update_no_magnetometer,
            ahrs.get_quaternion,
        )
        # The one per-sample loop of the analysis: imufusion takes one sample per call.
        for i in range(t.size):
            period(dt[i])
            update(gyro_dps[i], accel_g[i])
            quaternions[i] = quaternion()
        rotation = _matrices(quaternions)  # sensor → earth
        earth = np.einsum("nij,nj->ni", rotation, accel_mps2)
        # The bar's horizontal direction sets the lateral axis; ap is square to it (z × lat).
        axis = rotation[:, :2, 0]
        lateral = axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-9)
        bar_frame = np.stack(
            [
                earth[:, 2] - G,
                earth[:, 1] * lateral[:, 0] - earth[:, 0] * lateral[:, 1],
                earth[:, 0] * lateral[:, 0] + earth[:, 1] * lateral[:, 1],
            ],
            axis=1,
        )
        tilt = np.degrees(np.arcsin(np.clip(rotation[:, 2, 0], -1.0, 1.0)))
        return Attitude(bar_frame, tilt)

    def learn_gyro_bias(self, gyro_at_rest_radps: np.ndarray) -> None:
        """At rest the gyro should read zero; what it reads is its bias."""
        mean = gyro_at_rest_radps.mean(axis=0)
        self.gyro_bias_radps += self.settings.gyro_bias_rate * (mean - self.gyro_bias_radps)


def _level_quaternion(accel: np.ndarray) -> np.ndarray:
    """The rotation (w, x, y, z) that takes the measured gravity direction onto +z."""
    up = accel / np.linalg.norm(accel)
    axis = np.cross(up, [0.0, 0.0, 1.0])
    sin, cos = np.linalg.norm(axis), float(up[2])
    if sin < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0]) if cos > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    half = np.arctan2(sin, cos) / 2
    return np.concatenate([[np.cos(half)], axis / sin * np.sin(half)])


def _matrices(q: np.ndarray) -> np.ndarray:
    """n×3×3 rotation matrices from n quaternions (w, x, y, z)."""
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )
