"""An ICM-42688-P as the simulator's sensor: true motion in, datasheet-like readings out.

Error terms (datasheet typical values, scaled together by `noise`): white noise at the noise
density over the ODR's bandwidth, zero-g offset, gyro zero-rate offset with a random-walk drift,
scale-factor and cross-axis error, 16-bit quantisation, and saturation at ±16 g / ±2000 dps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G = 9.80665  # m/s², standard gravity
DEG = np.pi / 180.0


@dataclass(frozen=True)
class ImuErrors:
    """Datasheet-derived error magnitudes (one standard deviation unless noted)."""

    accel_noise_density_g: float = 70e-6  # g/√Hz, low-noise mode
    gyro_noise_density_dps: float = 2.8e-3  # dps/√Hz
    accel_offset_g: float = 0.020  # zero-g offset, board level
    gyro_offset_dps: float = 0.5  # zero-rate offset
    gyro_drift_dps_per_sqrt_s: float = 0.005  # bias random walk
    scale_error: float = 0.005  # sensitivity tolerance, fraction
    cross_axis: float = 0.01  # cross-axis sensitivity, fraction
    accel_range_g: float = 16.0
    gyro_range_dps: float = 2000.0


FULL_SCALE_LSB = 32768.0


class ImuModel:
    """Draws one sensor's fixed errors from a seed, then reads any true motion through them."""

    def __init__(
        self, rng: np.random.Generator, noise: float = 1.0, errors: ImuErrors | None = None
    ):
        self.errors = e = errors or ImuErrors()
        self.noise = noise
        self._rng = rng
        self.accel_offset_mps2 = rng.normal(0, e.accel_offset_g * G * noise, 3)
        self.gyro_offset_radps = rng.normal(0, e.gyro_offset_dps * DEG * noise, 3)
        self.accel_matrix = self._misalignment(rng, noise)
        self.gyro_matrix = self._misalignment(rng, noise)

    def _misalignment(self, rng: np.random.Generator, noise: float) -> np.ndarray:
        e = self.errors
        matrix = np.eye(3) + rng.normal(0, e.cross_axis * noise, (3, 3)) * (1 - np.eye(3))
        return matrix * (1 + rng.normal(0, e.scale_error * noise, 3))[:, None]

    def read(
        self, t: np.ndarray, specific_force_mps2: np.ndarray, rate_radps: np.ndarray, odr_hz: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Readings in SI units (quantised and clipped like the chip's 16-bit registers)."""
        e, n, rng = self.errors, self.noise, self._rng
        bandwidth = np.sqrt(odr_hz / 2)
        accel = specific_force_mps2 @ self.accel_matrix.T + self.accel_offset_mps2
        accel += rng.normal(0, e.accel_noise_density_g * G * bandwidth * n, accel.shape)
        steps = rng.normal(0, 1, rate_radps.shape) * np.sqrt(np.gradient(t))[:, None]
        drift = np.cumsum(steps, axis=0) * e.gyro_drift_dps_per_sqrt_s * DEG * n
        gyro = rate_radps @ self.gyro_matrix.T + self.gyro_offset_radps + drift
        gyro += rng.normal(0, e.gyro_noise_density_dps * DEG * bandwidth * n, gyro.shape)
        return (
            _quantise(accel, e.accel_range_g * G),
            _quantise(gyro, e.gyro_range_dps * DEG),
        )


def random_direction(rng: np.random.Generator) -> np.ndarray:
    """A unit vector, uniform over the sphere."""
    vector = rng.normal(size=3)
    return vector / np.linalg.norm(vector)


def _quantise(values: np.ndarray, full_scale: float) -> np.ndarray:
    lsb = full_scale / FULL_SCALE_LSB
    # −32768 is the chip's marker for an invalid axis, so real readings stop one count short.
    counts = np.clip(np.round(values / lsb), -(FULL_SCALE_LSB - 1), FULL_SCALE_LSB - 1)
    return counts * lsb


def is_saturated(values: np.ndarray, full_scale: float) -> np.ndarray:
    """Samples at a rail of the 16-bit range, for any axis."""
    lsb = full_scale / FULL_SCALE_LSB
    return np.any(np.abs(values) >= full_scale - lsb, axis=-1)
