"""MQTT payloads (SPEC section 5), as msgspec structs tagged by their `schema` field.

The edge encodes them and the server decodes them with the same types, so the wire contract
lives here once. Field names are the contract; fields may be added, never renamed.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.faults import FaultCode
from contract.lifts import LiftOrAuto
from contract.topics import ID_PATTERN

Id = Annotated[str, Meta(pattern=ID_PATTERN)]
# Every number within what a bar can do, so a value like 1e308 is refused, not stored.
Seconds = Annotated[float, Meta(ge=0, le=1e10)]  # recording seconds, or UTC epoch (to 2286)
Duration = Annotated[float, Meta(ge=0, le=86400)]
Share = Annotated[float, Meta(ge=-100, le=100)]  # a percentage
Metres = Annotated[float, Meta(ge=0, le=5)]
Speed = Annotated[float, Meta(ge=-20, le=20)]
Index = Annotated[int, Meta(ge=0, le=1_000_000)]
Severity = Literal["info", "warn", "critical"]
# Text bound for InfluxDB: no control character nor backslash. InfluxDB 1.x cannot give either
# back from a tag, and in a line of protocol they are what a forged line is made of (a newline
# and an escaped quote). (`\Z`, not `$`, which would let a final newline through.)
_UNSAFE = r"\x00-\x1f\x7f\\"  # control characters and the backslash, as a character class
PLAIN = rf"^[^{_UNSAFE}]*\Z"
# A person's name as a coach types it.
Athlete = Annotated[str, Meta(max_length=100, pattern=PLAIN)]
MsgId = Annotated[str, Meta(min_length=1, max_length=200, pattern=PLAIN)]
WORDS_MAX = 1000
Words = Annotated[str, Meta(max_length=WORDS_MAX, pattern=PLAIN)]  # a sentence for a person


def plain(text: str) -> str:
    """`text` as Words: control characters and backslashes (an error quoting a regex, say)
    become spaces and slashes, and it is cut to length."""
    cleaned = re.sub(rf"[{_UNSAFE}]", lambda bad: "/" if bad[0] == "\\" else " ", text)
    return cleaned if len(cleaned) <= WORDS_MAX else cleaned[: WORDS_MAX - 1] + "…"


class Fault(msgspec.Struct, frozen=True):
    code: FaultCode
    severity: Severity
    value: Annotated[float, Meta(ge=-1e6, le=1e6)]
    threshold: Annotated[float, Meta(ge=-1e6, le=1e6)]


class SetContext(msgspec.Struct, tag_field="schema"):
    """Who, where and what: the identity every rep and set message carries, first on the wire.

    `msg_id` is unique and stable across resends, so the server's writes stay idempotent.
    (Not kw_only, so these fields lead the subclasses' kw_only ones in every payload.)
    """

    msg_id: MsgId
    gym: Id
    station: Id
    session_id: Annotated[str, Meta(min_length=1, max_length=100, pattern=PLAIN)]
    lift: LiftOrAuto
    set_index: Index
    athlete: Athlete = ""
    load_kg: Annotated[float, Meta(ge=0, le=1000)] | None = None


class RepMessage(SetContext, kw_only=True, tag="barbell.rep/1"):
    """One rep. `t_*` are recording seconds in replay and UTC epoch seconds live."""

    rep_index: Index
    t_start: Seconds
    t_concentric_start: Seconds
    t_concentric_end: Seconds
    t_end: Seconds
    rom_m: Metres
    mean_velocity_mps: Speed | None = None
    peak_velocity_mps: Speed | None = None
    mean_propulsive_velocity_mps: Speed | None = None
    concentric_s: Duration | None = None
    eccentric_s: Duration | None = None
    lockout_hold_s: Duration | None = None
    tilt_max_deg: Annotated[float, Meta(ge=0, le=180)] | None = None
    drift_ap_m: Annotated[float, Meta(ge=-5, le=5)] | None = None
    drift_lateral_m: Annotated[float, Meta(ge=-5, le=5)] | None = None
    asymmetry_pct: Share | None = None
    peak_power_w: Annotated[float, Meta(ge=-1e6, le=1e6)] | None = None
    velocity_loss_pct: Share | None = None
    faults: list[Fault] = msgspec.field(default_factory=list)
    unjudged: list[FaultCode] = msgspec.field(default_factory=list)  # rules with no reference yet
    # Per fault code of this rep, how many reps in a row of this set have had it (this one
    # included): set context computed at the edge, so any server process can alert on a streak.
    fault_streaks: dict[FaultCode, Annotated[int, Meta(ge=1)]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.t_start <= self.t_concentric_start <= self.t_concentric_end <= self.t_end:
            raise ValueError("rep times must run t_start <= t_concentric_* <= t_end")


Samples = Annotated[list[float], Meta(max_length=2000)]


class PathMessage(SetContext, kw_only=True, tag="barbell.path/1"):
    """The bar's path through one rep, downsampled (about 50 Hz) for dashboards and reports:
    parallel lists, one entry per sample. Positions are metres from where the rep started;
    `t_s` is seconds after the rep's `t_start`. Its msg_id is the rep's with `/path` added."""

    rep_index: Index
    t_start: Seconds
    t_s: Samples
    height_m: Samples  # vertical, up positive
    ap_m: Samples  # horizontal, front–back
    lateral_m: Samples  # horizontal, left–right
    tilt_deg: Samples  # the bar's roll, one side lower
    velocity_mps: Samples  # vertical

    def __post_init__(self) -> None:
        lengths = {
            len(self.t_s),
            len(self.height_m),
            len(self.ap_m),
            len(self.lateral_m),
            len(self.tilt_deg),
            len(self.velocity_mps),
        }
        if len(lengths) != 1:
            raise ValueError("path lists must all have one entry per sample")
        if any(b <= a for a, b in zip(self.t_s, self.t_s[1:], strict=False)):
            raise ValueError("path t_s must rise from sample to sample")


class SetMessage(SetContext, kw_only=True, tag="barbell.set/1"):
    """One set, sent when it ends."""

    reps: Index
    t_start: Seconds
    t_end: Seconds
    best_mean_velocity_mps: Speed | None = None
    last_mean_velocity_mps: Speed | None = None
    velocity_loss_pct: Share | None = None
    fault_counts: dict[FaultCode, Annotated[int, Meta(ge=1)]] = msgspec.field(default_factory=dict)


class HealthMessage(msgspec.Struct, kw_only=True, tag_field="schema", tag="barbell.health/1"):
    """How the station is doing: every few seconds, and at once when something goes wrong."""

    gym: Id
    station: Id
    t: Seconds  # UTC epoch
    sample_rate_hz: Annotated[float, Meta(ge=0, le=100_000)] | None = None  # over the period
    dropped_samples: Annotated[int, Meta(ge=0)] | None = None  # lost to gaps in the period
    outbox_depth: Annotated[int, Meta(ge=0)] | None = None  # messages waiting for the broker
    cpu_temp_c: Annotated[float, Meta(ge=-100, le=200)] | None = None  # where the board tells
    sensor_error: Words | None = None  # a fault the sensor reported, in words


class CommandMessage(msgspec.Struct, kw_only=True, tag_field="schema", tag="barbell.cmd/1"):
    """To a station on `…/cmd`. Each action names the fields it needs; others are refused."""

    action: Literal[
        "start_session",
        "stop_session",
        "start_set",
        "end_set",
        "set_athlete",
        "set_lift",
        "set_load",
        "tare",
        "seed_reference",
    ]
    athlete: Athlete | None = None
    lift: LiftOrAuto | None = None
    load_kg: Annotated[float, Meta(gt=0, le=1000)] | None = None
    rom_m: Annotated[float, Meta(gt=0, le=1.5)] | None = None
    drift_ap_m: Annotated[float, Meta(ge=0, le=0.5)] | None = None

    def __post_init__(self) -> None:
        needed, allowed = NEEDS[self.action], ALLOWS.get(self.action, ())
        given = [
            n for n in self.__struct_fields__ if n != "action" and getattr(self, n) is not None
        ]
        missing = [name for name in needed if name not in given]
        extra = [name for name in given if name not in needed and name not in allowed]
        if missing or extra:
            also = f" (and may give {', '.join(allowed)})" if allowed else ""
            raise ValueError(f"{self.action} needs {', '.join(needed) or 'no field'}{also}")


NEEDS: dict[str, tuple[str, ...]] = {
    "start_session": (),
    "stop_session": (),
    "start_set": (),
    "end_set": (),
    "set_athlete": ("athlete",),
    "set_lift": ("lift",),
    "set_load": ("load_kg",),
    "tare": (),
    "seed_reference": ("rom_m", "drift_ap_m"),
}
# A new session may name its athlete, lift and load at once.
ALLOWS: dict[str, tuple[str, ...]] = {"start_session": ("athlete", "lift", "load_kg")}


class StatusMessage(msgspec.Struct, kw_only=True, tag_field="schema", tag="barbell.status/1"):
    """Retained on `…/status`; the last will sets it offline. `since` is UTC epoch seconds.
    (gym and station were added after the first stations: the topic names them too.)"""

    state: Literal["online", "offline"]
    version: Annotated[str, Meta(max_length=100, pattern=PLAIN)]
    since: Seconds
    gym: Id | None = None
    station: Id | None = None


class AlertMessage(msgspec.Struct, kw_only=True, tag_field="schema", tag="barbell.alert/1"):
    """From the server on `…/alert` when a coach should look: form breaking down, a station
    gone quiet, a sensor fault. `rep_ref` is the msg_id of the rep that raised it, if one did."""

    rule: Annotated[str, Meta(min_length=1, max_length=100, pattern=PLAIN)]
    severity: Severity
    athlete: Athlete
    message: Words
    rep_ref: MsgId | None = None
    gym: Id
    station: Id
    lift: LiftOrAuto | None = None
    t: Seconds  # UTC epoch


class AdviceMessage(msgspec.Struct, kw_only=True, tag_field="schema", tag="barbell.advice/1"):
    """From the server, retained on `…/advice`: the next session's load for an athlete and lift,
    from their load–velocity profile. `next_load_kg` is None until there is enough history."""

    gym: Id
    station: Id
    athlete: Athlete
    lift: LiftOrAuto
    t: Seconds  # UTC epoch
    next_load_kg: float | None
    last_load_kg: float | None = None
    e1rm_kg: float | None = None  # estimated 1RM: the profile at the lift's velocity at 1RM
    v1rm_mps: float | None = None
    step_kg: float  # the plate step the advice moves in
    held_back: bool = False  # form faults last session: the load is not raised
    reason: Words  # for the coach


class DeadLetter(msgspec.Struct, kw_only=True, omit_defaults=True):
    """From the server on `barbell/v1/_dead/…`, and in InfluxDB's `dead_letter`: a message it
    refused, with the reason, byte for byte (as text, or as base64 when it was not UTF-8)."""

    reason: str
    topic: str
    payload: str | None = None
    payload_b64: str | None = None
    received: float  # UTC epoch seconds


Message = (
    RepMessage
    | PathMessage
    | SetMessage
    | HealthMessage
    | CommandMessage
    | StatusMessage
    | AlertMessage
    | AdviceMessage
)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[Message] = msgspec.json.Decoder(Message)


def encode(message: Message | DeadLetter) -> bytes:
    return _encoder.encode(message)


def decode(payload: bytes | bytearray) -> Message:
    """Decode and validate a payload; raises msgspec.ValidationError or DecodeError."""
    return _decoder.decode(payload)
