"""The edge daemon's settings (SPEC section 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.config import MqttSettings, Section
from contract.lifts import LiftOrAuto
from contract.topics import ID_PATTERN

Id = Annotated[str, Meta(pattern=ID_PATTERN)]


class StationSettings(Section):
    gym: Id = "gym"
    id: Id = "bar1"


class SensorSettings(Section):
    kind: Literal["i2c", "emulated", "sim"] = "sim"
    bus: int = 1
    rate_hz: Annotated[float, Meta(ge=50, le=1000)] = 1000.0


class SimSettings(Section):
    lift: LiftOrAuto = "hip_thrust"
    sets: Annotated[int, Meta(ge=1, le=50)] = 1
    reps: Annotated[int, Meta(ge=1, le=50)] = 5
    load_kg: Annotated[float, Meta(gt=0, le=500)] = 100.0
    seed: int = 0
    faults: list[str] = msgspec.field(default_factory=list)
    athlete: str = "sim"
    realtime: bool = True  # pace the samples like a real sensor; off for fast tests


class StateSettings(Section):
    dir: Path = Path("/var/lib/barbell")


class EdgeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    station: StationSettings = msgspec.field(default_factory=StationSettings)
    sensor: SensorSettings = msgspec.field(default_factory=SensorSettings)
    sim: SimSettings = msgspec.field(default_factory=SimSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
