"""Calibration of a bar, measured at rest and kept for the daemon: the gyro's bias, and each load
cell's tare and scale (`barbell calibrate`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np

from contract.errors import InputError
from hardware.bar_sensor import BarSensor
from hardware.nau7802 import Scale

G = 9.80665
STILL_GYRO_RADPS = 0.02  # std of the gyro at rest, on a bar nobody touches
STILL_ACCEL_MPS2 = 0.05


class CellCalibration(msgspec.Struct, frozen=True):
    tare_counts: float = 0.0
    n_per_count: float = 1.0e-4


class Calibration(msgspec.Struct, frozen=True):
    gyro_bias_radps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cells: tuple[CellCalibration, ...] = (CellCalibration(), CellCalibration())

    def scales(self) -> list[Scale]:
        return [Scale(c.tare_counts, c.n_per_count) for c in self.cells]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(msgspec.json.format(msgspec.json.encode(self)))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """The saved calibration, or the defaults when there is none yet."""
        if not path.exists():
            return cls()
        try:
            return msgspec.json.decode(path.read_bytes(), type=cls)
        except msgspec.DecodeError as exc:
            raise InputError(f"{path}: not a calibration file ({exc})") from None


def at_rest(
    sensor: BarSensor, drains: int, between: Callable[[], None]
) -> tuple[np.ndarray, list[float]]:
    """Mean gyro (rad/s) and mean raw counts per cell over `drains` FIFO drains of a still bar;
    `between` waits for (or, emulated, produces) the next drain's samples."""
    gyro: list[np.ndarray] = []
    accel: list[np.ndarray] = []
    counts: list[list[int]] = [[] for _ in sensor.cells]
    for _ in range(drains):
        between()
        drain = sensor.imu.drain()
        gyro.append(drain.gyro_radps)
        accel.append(drain.accel_mps2)
        for side, cell in enumerate(sensor.cells):
            reading = cell.read_counts()
            if reading is not None:
                counts[side].append(reading)
    gyro_all, accel_all = np.concatenate(gyro), np.concatenate(accel)
    if gyro_all.shape[0] < 10:
        raise InputError("too few IMU samples to calibrate: is the IMU running?")
    if (
        gyro_all.std(axis=0).max() > STILL_GYRO_RADPS
        or accel_all.std(axis=0).max() > STILL_ACCEL_MPS2
    ):
        raise InputError("the bar moved during calibration: keep it still and try again")
    if any(not side for side in counts):
        raise InputError("a load cell gave no readings during calibration")
    return gyro_all.mean(axis=0), [float(np.mean(side)) for side in counts]


def calibrate(
    sensor: BarSensor,
    previous: Calibration,
    drains: int,
    known_kg: float | None,
    between: Callable[[], None],
) -> Calibration:
    """Without `known_kg`: the gyro bias and the cells' tare (no plates on the cells). With it
    (that mass loaded evenly): each cell's newtons per count, from the saved tare."""
    gyro, counts = at_rest(sensor, drains, between)
    pairs = list(zip(counts, previous.cells, strict=True))
    if known_kg is None:
        cells = [CellCalibration(tare, old.n_per_count) for tare, old in pairs]
    else:
        if any(abs(count - old.tare_counts) < 100 for count, old in pairs):
            raise InputError(
                "the cells read no more than their tare: is the known mass on the bar?"
            )
        per_side_n = known_kg * G / len(counts)
        cells = [
            CellCalibration(old.tare_counts, per_side_n / (count - old.tare_counts))
            for count, old in pairs
        ]
    x, y, z = (float(v) for v in gyro)
    return Calibration(gyro_bias_radps=(x, y, z), cells=tuple(cells))
