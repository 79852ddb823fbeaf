"""The bar's attitude, whatever its mounting roll and however biased its gyro: acceleration in the
bar's earth frame (z up, `ap` square to the bar, `lat` along it) and the bar axis' tilt.

imufusion's AHRS pulls the gyro's attitude toward the measured gravity. A gyro offset of several
°/s would leave it tilted by tens of degrees, so the offset is learned online in two ways:
- where the bar is still, the gyro's mean over the window is its offset;
- all the time, the AHRS's own correction is integrated (Mahony's integral term, 2008): on
  average the accelerometer reads gravity, so a correction that always leans one way is a gyro
  offset. This needs no rest at all, which a hand-held bar never gives.
Both act at fixed cell indices, so the result does not depend on how samples were chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import imufusion
import numpy as np

from edge.analysis.units import DEG_PER_RAD, G


@dataclass(frozen=True)
class AttitudeSettings:
    gain: float = 0.5  # how strongly the accelerometer pulls the gyro's attitude back
    # The offset loop: its integral gain (rad/s of offset per rad of correction and second);
    # the offset settles in about gain / bias_rate seconds.
    bias_rate: float = 0.3
    bias_step_s: float = 0.25  # the learned offset is updated this often
    # Only cells whose |a| is within this share of 1 g lean on the offset loop: during a hard
    # push the accelerometer does not point at gravity.
    level_share: float = 0.1
    # The accelerometer steers the attitude only while |a| is within this share of 1 g.
    gravity_share: float = 0.5
    still_bias_share: float = 0.3  # a still window moves the offset this share of the way
    # The first cell's rate is taken as a first offset if it is this small: a bar is usually
    # held or racked when a recording starts, and the offset loop then starts close.
    first_offset_dps: float = 20.0
    # The gyro and the accelerometer must agree on how the bar turns (a right-handed frame
    # in rad/s): judged once the bar has turned this far in all while mostly still.
    frame_check_rad: float = 2.0


@dataclass(frozen=True)
class Motion:
    """Per cell: acceleration in the bar's earth frame (z up, ap, lat) with 1 g removed from z,
    m/s², and the bar axis' angle to the horizontal (+ right end up), degrees."""

    accel_mps2: np.ndarray
    tilt_deg: np.ndarray
    up: np.ndarray  # n×3: the vertical as a unit vector in the sensor frame


class Attitude:
    def __init__(self, period_s: float, settings: AttitudeSettings | None = None) -> None:
        self.settings = s = settings or AttitudeSettings()
        self.period_s = period_s
        self._block = max(1, round(s.bias_step_s / period_s))
        self._ahrs = imufusion.Ahrs()
        self._started = False
        self._offset_started = False
        self.gyro_bias_radps = np.zeros(3)
        # What the offset loop has gathered in the current block, cell by cell: summed once
        # the block is whole, so the sums do not depend on how its cells arrived.
        self._corrections: list[np.ndarray] = []
        self._still_gyro: list[np.ndarray] = []
        # Frame check: how the accelerometer's direction moved against what the gyro predicts.
        self._agreement = np.zeros(2)  # Σ seen·predicted, Σ predicted²
        self._turned_rad = 0.0

    def restart(self) -> None:
        """After a break: level again from the next gravity reading (the offset is kept)."""
        self._started = False

    def update(
        self,
        first: int,
        accel_mps2: np.ndarray,
        gyro_radps: np.ndarray,
        still: np.ndarray,
        still_gyro_radps: np.ndarray,
    ) -> Motion:
        """Cells with global indices first…; `still` marks still windows and `still_gyro_radps`
        their mean gyro."""
        if not self._started:
            self._start(accel_mps2[0], gyro_radps[0])
        n, block = len(accel_mps2), self._block
        quaternions, up = np.empty((n, 4)), np.empty((n, 3))
        # Each block ends where the global index reaches a multiple of the block length.
        stops = list(range((-first) % block or block, n + 1, block))
        start = 0
        for stop in stops if stops and stops[-1] == n else [*stops, n]:
            part = slice(start, stop)
            quaternions[part] = self._run(accel_mps2[part], gyro_radps[part])
            up[part] = _up(quaternions[part])
            self._gather(up[part], accel_mps2[part], still[part], still_gyro_radps[part])
            if (first + stop) % block == 0:
                self._learn_bias()
            start = stop
        self._check_frame(accel_mps2, gyro_radps)
        return _in_bar_frame(quaternions, up, accel_mps2)

    @property
    def frame_problem(self) -> str | None:
        """Why the gyro and the accelerometer disagree, once the bar has turned enough to tell."""
        seen, predicted = self._agreement
        if self._turned_rad < self.settings.frame_check_rad or predicted <= 0:
            return None
        ratio = seen / predicted
        if ratio < -0.5:
            return "the gyro turns the other way from the accelerometer (a left-handed frame?)"
        # Units read wrong are out by 57 (degrees for radians) or more; a lifted bar's own
        # acceleration blurs the ratio by a few times at most.
        if 0 <= ratio < 0.1 or ratio > 10.0:
            return f"the gyro reads {ratio:.3g} times the turn the accelerometer shows (units?)"
        return None  # near 0 but below it: too blurred to tell

    def _start(self, accel_mps2: np.ndarray, gyro_radps: np.ndarray) -> None:
        """Begin level with the measured gravity, so there is no start-up convergence, and
        with the first cell's rate as the offset if it is small (a first guess)."""
        s = self.settings
        if not self._offset_started:
            if np.linalg.norm(gyro_radps) * DEG_PER_RAD < s.first_offset_dps:
                self.gyro_bias_radps = gyro_radps.copy()
            self._offset_started = True
        settings = imufusion.AhrsSettings()
        settings.convention = imufusion.CONVENTION_NWU  # z up
        settings.gain = s.gain
        settings.gyroscope_range = 2000.0
        # No acceleration rejection: with a biased gyro, trusting the gyro alone during a
        # rep lets the attitude run away (seen on real bars).
        settings.acceleration_rejection = 0.0
        settings.sample_rate = 1.0 / self.period_s
        self._ahrs = imufusion.Ahrs()
        self._ahrs.set_settings(settings)
        self._ahrs.set_sample_period(self.period_s)
        self._ahrs.set_quaternion(level_quaternion(accel_mps2))
        self._ahrs.skip_startup()
        self._started = True

    def _run(self, accel_mps2: np.ndarray, gyro_radps: np.ndarray) -> np.ndarray:
        gyro_dps = np.ascontiguousarray((gyro_radps - self.gyro_bias_radps) * DEG_PER_RAD)
        accel_g = accel_mps2 / G
        # Near free fall (the bar braked at 1 g) or pushed hard, the reading's direction is the
        # offset's and the push's, not gravity's: imufusion skips a zero reading.
        far = np.abs(np.linalg.norm(accel_g, axis=1) - 1.0) > self.settings.gravity_share
        accel_g = np.ascontiguousarray(np.where(far[:, None], 0.0, accel_g))
        update, quaternion = self._ahrs.update_no_magnetometer, self._ahrs.get_quaternion
        out = []
        # The one per-cell loop of the analysis: imufusion takes one sample per call.
        for gyro, accel in zip(gyro_dps, accel_g, strict=True):
            update(gyro, accel)
            out.append(quaternion())
        return np.array(out).reshape(-1, 4)

    def _gather(
        self, up: np.ndarray, accel: np.ndarray, still: np.ndarray, still_gyro: np.ndarray
    ) -> None:
        norm = np.linalg.norm(accel, axis=1)
        level = np.abs(norm - G) < self.settings.level_share * G
        if level.any():
            # Gravity's direction in the sensor frame as the AHRS has it, against the measured
            # one: their cross product is the correction the AHRS applies.
            measured = accel[level] / norm[level, None]
            self._corrections.append(np.cross(measured, up[level]))
        if still.any():
            self._still_gyro.append(still_gyro[still])

    def _learn_bias(self) -> None:
        s = self.settings
        if self._corrections:
            correction = np.concatenate(self._corrections).sum(axis=0) * self.period_s
            self.gyro_bias_radps = self.gyro_bias_radps - s.bias_rate * correction
        if self._still_gyro:
            mean = np.concatenate(self._still_gyro).mean(axis=0)
            self.gyro_bias_radps += s.still_bias_share * (mean - self.gyro_bias_radps)
        self._corrections, self._still_gyro = [], []

    def _check_frame(self, accel: np.ndarray, gyro: np.ndarray) -> None:
        """A turning bar moves gravity's direction in the sensor frame by u × ω (u the direction,
        ω the rate): compare what the accelerometer saw with what the gyro predicts."""
        if len(accel) < 2:
            return
        u = accel / np.linalg.norm(accel, axis=1, keepdims=True)
        rate = gyro[1:] - self.gyro_bias_radps
        turning = (np.linalg.norm(rate, axis=1) > 0.5) & (
            np.abs(np.linalg.norm(accel[1:], axis=1) - G) < 0.2 * G
        )
        if not turning.any():
            return
        seen = (u[1:] - u[:-1])[turning]
        predicted = np.cross(u[1:], rate)[turning] * self.period_s
        self._agreement += [float((seen * predicted).sum()), float((predicted**2).sum())]
        self._turned_rad += float(np.linalg.norm(rate[turning], axis=1).sum() * self.period_s)


def level_quaternion(accel: np.ndarray) -> np.ndarray:
    """The rotation (w, x, y, z) that takes the measured gravity direction onto +z."""
    up = accel / np.linalg.norm(accel)
    axis = np.array([up[1], -up[0], 0.0])  # up × ẑ
    sin, cos = float(np.hypot(up[0], up[1])), float(up[2])
    if sin < 1e-9:
        return np.array([1.0, 0.0, 0.0, 0.0]) if cos > 0 else np.array([0.0, 1.0, 0.0, 0.0])
    half = np.arctan2(sin, cos) / 2
    return np.concatenate([[np.cos(half)], axis / sin * np.sin(half)])


def _in_bar_frame(q: np.ndarray, up: np.ndarray, accel: np.ndarray) -> Motion:
    """Rotate each reading to the earth frame; lateral follows the bar's own horizontal axis,
    ap is square to it (the heading is unknown and nothing needs it)."""
    earth = _rotate(q, accel)
    w, x, y, z = q.T
    # The bar's axis (sensor x) in the earth frame is the rotation's first column.
    axis_x, axis_y, axis_z = 1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)
    norm = np.maximum(np.hypot(axis_x, axis_y), 1e-9)
    lat_x, lat_y = axis_x / norm, axis_y / norm
    bar = np.empty_like(earth)
    bar[:, 0] = earth[:, 2] - G
    bar[:, 1] = earth[:, 1] * lat_x - earth[:, 0] * lat_y
    bar[:, 2] = earth[:, 0] * lat_x + earth[:, 1] * lat_y
    return Motion(bar, np.degrees(np.arcsin(np.clip(axis_z, -1.0, 1.0))), up)


def _up(q: np.ndarray) -> np.ndarray:
    """The earth's vertical in the sensor frame: the rotation's third row."""
    w, x, y, z = q.T
    return np.column_stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)])


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
