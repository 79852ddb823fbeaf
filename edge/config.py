"""The edge daemon's settings (SPEC section 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.config import MqttSettings, Section
from contract.lifts import LIFTS, LiftOrAuto
from contract.messages import Athlete
from contract.topics import ID_PATTERN
from edge.analysis.faults import Thresholds, thresholds_for
from hardware.icm42688 import ODR_CODES

Id = Annotated[str, Meta(pattern=ID_PATTERN)]


class StationSettings(Section):
    gym: Id = "gym"
    id: Id = "bar1"
    health_period_s: Annotated[float, Meta(gt=0)] = 10.0  # how often …/health reports


FIFO_PACKETS = 128  # the ICM-42688-P's 2 KB FIFO holds this many 16-byte samples


class SensorSettings(Section):
    kind: Literal["i2c", "emulated", "sim"] = "sim"
    bus: int = 1
    rate_hz: Annotated[float, Meta(ge=50, le=1000)] = 1000.0
    # How often the FIFO is read. Longer costs less CPU (each drain has a fixed cost) but delays
    # the cue; it must leave the FIFO a fifth of its room for a late wake-up.
    drain_s: Annotated[float, Meta(ge=0.01, le=1.0)] = 0.05

    def __post_init__(self) -> None:
        if self.kind != "sim" and self.rate_hz not in ODR_CODES:
            raise ValueError(
                f"sensor.rate_hz {self.rate_hz:g}: the ICM-42688-P runs at "
                f"{', '.join(str(hz) for hz in sorted(ODR_CODES))} Hz"
            )
        most = 0.8 * FIFO_PACKETS / self.rate_hz
        if self.drain_s > most:
            raise ValueError(
                f"sensor.drain_s {self.drain_s} s would nearly fill the IMU's FIFO at "
                f"{self.rate_hz:g} Hz; at most {most:.3f} s"
            )


class SimSettings(Section):
    lift: LiftOrAuto = "hip_thrust"
    sets: Annotated[int, Meta(ge=1, le=50)] = 1
    reps: Annotated[int, Meta(ge=1, le=50)] = 5
    load_kg: Annotated[float, Meta(gt=0, le=500)] = 100.0
    # A load per set, e.g. a warm-up ramp: BARBELL_SIM_SET_LOADS_KG=60,80,100 (needs as many sets)
    set_loads_kg: list[Annotated[float, Meta(gt=0, le=500)]] = msgspec.field(default_factory=list)
    seed: int = 0
    faults: list[str] = msgspec.field(default_factory=list)
    events: list[str] = msgspec.field(default_factory=list)  # sensor faults: gone:8:0.5
    athlete: Athlete = "sim"
    realtime: bool = True  # pace the samples like a real sensor; off for fast tests


class StateSettings(Section):
    dir: Path = Path("/var/lib/barbell")


class CueSettings(Section):
    enabled: bool = False  # on for a Pi with a buzzer and LED wired (docs/hardware.md)
    buzzer_pin: int = 17
    led_pin: int = 27


class ButtonSettings(Section):
    enabled: bool = False  # on for a Pi with the push button wired (docs/hardware.md)
    pin: int = 22
    hold_s: Annotated[float, Meta(gt=0, le=10)] = 2.0  # held this long: tare, not a new set


class ReferenceSettings(Section):
    """The athlete's stored profile; learning from good reps takes over once it can."""

    rom_m: Annotated[float, Meta(gt=0, le=1.5)] | None = None
    drift_ap_m: Annotated[float, Meta(ge=0, le=0.5)] | None = None


class EdgeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mqtt: MqttSettings = msgspec.field(default_factory=MqttSettings)
    station: StationSettings = msgspec.field(default_factory=StationSettings)
    sensor: SensorSettings = msgspec.field(default_factory=SensorSettings)
    sim: SimSettings = msgspec.field(default_factory=SimSettings)
    state: StateSettings = msgspec.field(default_factory=StateSettings)
    cue: CueSettings = msgspec.field(default_factory=CueSettings)
    button: ButtonSettings = msgspec.field(default_factory=ButtonSettings)
    reference: ReferenceSettings = msgspec.field(default_factory=ReferenceSettings)
    # Per-lift threshold overrides: [faults.hip_thrust] bar_tilt_deg = 4.0
    faults: dict[str, dict[str, float | None]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for lift, changes in self.faults.items():
            if lift not in LIFTS:
                raise ValueError(f"faults.{lift}: not a lift; choose from {', '.join(LIFTS)}")
            try:
                thresholds_for(lift, changes)
            except (TypeError, msgspec.ValidationError) as exc:
                raise ValueError(f"faults.{lift}: {exc}") from None

    def thresholds(self, lift: str) -> Thresholds:
        return thresholds_for(lift, self.faults.get(lift))
