"""Coach alert rules: which messages a coach should hear of, in words for a phone.

Pure: a message in, alerts out, no I/O. Every process of a scaled-out server holds the same rules
and sees any message, so a rule reads only the message itself. Set context (how many reps in a
row had a fault) is computed at the edge and carried by the rep (`fault_streaks`).
server/alerting.py adds the cooldown, storage and delivery; docs/alerts.md explains the defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from contract.config import Section
from contract.errors import ConfigError
from contract.lifts import LIFTS, VELOCITY_AT_1RM_MPS
from contract.messages import (
    AlertMessage,
    HealthMessage,
    Message,
    RepMessage,
    SetMessage,
    Severity,
    StatusMessage,
    plain,
)
from contract.topics import StationTopic

RANK: dict[str, int] = {"info": 0, "warn": 1, "critical": 2}

# Each fault code in a coach's words, and its value against its threshold in the code's units
# (edge/faults.py measures them; docs/faults.md explains each).
_Words = Callable[[RepMessage, float, float], str]
FAULT_WORDS: dict[str, tuple[str, _Words]] = {
    "partial_lockout": (
        "partial lockout",
        # value: the fraction of the reference ROM missing, so the reference is recoverable.
        lambda r, v, t: f"ROM {r.rom_m:.2f} m vs {r.rom_m / max(1 - v, 1e-6):.2f} m reference",
    ),
    "overextension": (
        "overextension",
        lambda r, v, t: f"{v * 100:.1f} cm above lockout vs {t * 100:.1f} cm allowed",
    ),
    "no_lockout_hold": ("no lockout hold", lambda r, v, t: f"held {v:.2f} s vs {t:.2f} s"),
    "momentum": ("momentum", lambda r, v, t: f"start sharpness {v:.2f} vs {t:.2f}"),
    "hip_shoot": ("hips shooting up", lambda r, v, t: f"stalled {v:.2f} s vs {t:.2f} s"),
    "bar_tilt": ("bar tilt", lambda r, v, t: f"tilted {v:.1f}° vs {t:.1f}°"),
    "load_asymmetry": ("uneven load", lambda r, v, t: f"{v:.0f} % off centre vs {t:.0f} %"),
    "bar_drift": (
        "bar drift",
        lambda r, v, t: f"{v * 100:.1f} cm off the usual path vs {t * 100:.1f} cm",
    ),
    "fast_eccentric": (
        "dropping the bar",
        lambda r, v, t: f"lowered in {v:.1f}× free-fall time vs {t:.1f}×",
    ),
    "velocity_loss": ("velocity loss", lambda r, v, t: f"{v:.0f} % slower vs {t:.0f} %"),
    "grinding": ("grinding", lambda r, v, t: f"{v:.2f}× the 1RM speed vs {t:.2f}×"),
}
CODES = tuple(FAULT_WORDS)
# The form codes; velocity loss and grinding have rules of their own.
FORM_CODES = tuple(code for code in CODES if code not in ("velocity_loss", "grinding"))

Name = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class _Rule(
    msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="kind"
):
    """A rule's common keys. `name` (default: its kind) becomes the alert's `rule`, and with the
    athlete and station, the cooldown's key."""

    name: Name | None = None
    severity: Severity = "warn"

    @property
    def id(self) -> str:
        return self.name or str(self.__struct_config__.tag)


class FaultRule(_Rule, frozen=True, tag="fault"):
    """A fault on `streak` reps in a row: fires on the rep where the run reaches it (once per
    run), if that rep's fault is at least `min_severity`. Each code alerts as `{name}.{code}`."""

    codes: list[str] | Literal["all"] = "all"
    min_severity: Literal["warn", "critical"] = "warn"
    streak: Annotated[int, Meta(ge=1, le=100)] = 3

    def __post_init__(self) -> None:
        unknown = [c for c in self.codes if c not in FAULT_WORDS] if self.codes != "all" else []
        if unknown:
            raise ValueError(f"unknown fault code {unknown[0]!r}; choose from {', '.join(CODES)}")

    def alerts(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        if not isinstance(message, RepMessage):
            return []
        alerts = []
        for fault in message.faults:
            covered = self.codes == "all" or fault.code in self.codes
            # An edge too old to count streaks sends none: each fault is then a run of one.
            streak = message.fault_streaks.get(fault.code, 1)
            severe = RANK[fault.severity] >= RANK[self.min_severity]
            if not (covered and severe and streak == self.streak):
                continue
            words, detail = FAULT_WORDS.get(fault.code, (fault.code.replace("_", " "), _plain))
            run = f" on {streak} reps in a row" if streak > 1 else ""
            text = (
                f"{_who(message)}: {words}{run}, {fault.severity} ({_where(message)}): "
                + detail(message, fault.value, fault.threshold)
            )
            alerts.append(_rep_alert(f"{self.id}.{fault.code}", self.severity, message, text))
        return alerts


class VelocityLossRule(_Rule, frozen=True, tag="velocity_loss"):
    """A rep's (or a set's) mean velocity this many percent below the set's best rep."""

    threshold_pct: Annotated[float, Meta(gt=0, le=100)] = 30.0

    def alerts(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        if not isinstance(message, RepMessage | SetMessage):
            return []
        loss = message.velocity_loss_pct
        if loss is None or loss < self.threshold_pct:
            return []
        if isinstance(message, RepMessage):
            now = message.mean_velocity_mps
            best = None if now is None or loss >= 100 else now / (1 - loss / 100)
        else:
            now, best = message.last_mean_velocity_mps, message.best_mean_velocity_mps
        speeds = f": {now:.2f} m/s vs best {best:.2f} m/s" if now is not None and best else ""
        text = (
            f"{_who(message)}: {loss:.0f} % velocity loss ({_where(message)}), "
            f"limit {self.threshold_pct:.0f} %{speeds}"
        )
        return [_rep_alert(self.id, self.severity, message, text)]


class NearFailureRule(_Rule, frozen=True, tag="near_failure"):
    """A rep's mean velocity at most `ratio` × the lift's velocity at 1RM (contract.lifts), or a
    `grinding` fault from the edge at `grinding` severity or worse ("off": ignored)."""

    ratio: Annotated[float, Meta(ge=1, le=3)] = 1.1
    grinding: Literal["warn", "critical", "off"] = "critical"
    # Per lift, over the table; the server adds `[advice] v1rm_mps`, so alerts and advice agree.
    v1rm_mps: dict[str, Annotated[float, Meta(gt=0, lt=3)]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.v1rm_mps) - set(LIFTS))
        if unknown:
            raise ValueError(f"near_failure rule: unknown lift {unknown[0]!r} in v1rm_mps")

    def alerts(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        if not isinstance(message, RepMessage):
            return []
        # None for "auto": the lift is unknown.
        v1rm = self.v1rm_mps.get(message.lift, VELOCITY_AT_1RM_MPS.get(message.lift))
        mcv = message.mean_velocity_mps
        slow = v1rm is not None and mcv is not None and mcv <= v1rm * self.ratio
        grinding = self.grinding != "off" and any(
            f.code == "grinding" and RANK[f.severity] >= RANK[self.grinding] for f in message.faults
        )
        if not (slow or grinding):
            return []
        if v1rm is not None and mcv is not None:
            detail = f"{mcv:.2f} m/s vs {self.ratio:g} × the 1RM speed {v1rm:.2f} m/s"
        else:
            detail = "grinding"
        text = f"{_who(message)}: near failure ({_where(message)}): {detail}"
        return [_rep_alert(self.id, self.severity, message, text)]


class StationOfflineRule(_Rule, frozen=True, tag="station_offline"):
    """A station's status went offline (its last will, or a clean stop)."""

    def alerts(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        if not (isinstance(message, StatusMessage) and message.state == "offline"):
            return []
        text = f"{where.station} at {where.gym} went offline"
        # `since` is fixed per connection, so the retained status seen again is the same alert.
        return [_station_alert(self, where.gym, where.station, message.since, text)]


class SensorFaultRule(_Rule, frozen=True, tag="sensor_fault"):
    """A station's health message reports a sensor error."""

    def alerts(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        if not (isinstance(message, HealthMessage) and message.sensor_error):
            return []
        text = f"{message.station} at {message.gym}: sensor fault: {message.sensor_error}"
        return [_station_alert(self, message.gym, message.station, message.t, text)]


AlertRule = FaultRule | VelocityLossRule | NearFailureRule | StationOfflineRule | SensorFaultRule


def default_rules() -> list[AlertRule]:
    """What a coach wants without configuring anything (docs/alerts.md gives the reasons)."""
    return [
        FaultRule(name="form", codes=list(FORM_CODES), streak=3),
        FaultRule(
            name="form_critical",
            codes=list(FORM_CODES),
            min_severity="critical",
            streak=1,
            severity="critical",
        ),
        VelocityLossRule(threshold_pct=30.0),
        NearFailureRule(ratio=1.1),
        StationOfflineRule(severity="info"),
        SensorFaultRule(),
    ]


class AlertSettings(Section):
    """The `[alerts]` section. Without a `rules` key the defaults apply; `rules = []` is none."""

    rules: list[AlertRule] = msgspec.field(default_factory=default_rules)
    cooldown_s: Annotated[float, Meta(ge=0, le=86_400)] = 120.0  # per gym, station, athlete, rule
    urls: list[str] = msgspec.field(default_factory=list)  # apprise URLs
    urls_file: Path | None = None  # more apprise URLs, one a line, for those holding secrets
    queue_size: Annotated[int, Meta(ge=1, le=100_000)] = 100  # alerts waiting for notifiers
    # A process back from a crash pushes the alerts it still owed, if no older than this.
    push_within_s: Annotated[float, Meta(ge=0, le=86_400)] = 3600.0

    def __post_init__(self) -> None:
        names = [rule.id for rule in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"alert rule name {twice[0]!r} is used twice; give each a `name`")

    def notify_urls(self) -> list[str]:
        """`urls`, then the lines of `urls_file` (blank lines and `#` comments skipped)."""
        urls = list(self.urls)
        if self.urls_file is not None:
            try:
                text = self.urls_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"cannot read alerts.urls_file {self.urls_file}: {exc.strerror}"
                ) from None
            urls += [s for line in text.splitlines() if (s := line.strip()) and s[0] != "#"]
        return urls


class AlertRules:
    """The configured rules, applied to one message at a time."""

    def __init__(self, rules: Sequence[AlertRule], v1rm_mps: Mapping[str, float] = {}) -> None:
        """`v1rm_mps`: per lift, the velocities at 1RM the advice uses (`[advice] v1rm_mps`);
        a near-failure rule's own table wins over it."""
        self._rules = tuple(
            msgspec.structs.replace(rule, v1rm_mps={**v1rm_mps, **rule.v1rm_mps})
            if isinstance(rule, NearFailureRule)
            else rule
            for rule in rules
        )

    def evaluate(self, message: Message, where: StationTopic) -> list[AlertMessage]:
        """The alerts this message raises, before any cooldown. `where` is the topic it came on:
        a status message names no station itself."""
        return [alert for rule in self._rules for alert in rule.alerts(message, where)]


def _plain(rep: RepMessage, value: float, threshold: float) -> str:
    return f"{value:g} vs {threshold:g}"


def _who(message: RepMessage | SetMessage) -> str:
    return message.athlete or f"{message.station} at {message.gym}"


def _where(message: RepMessage | SetMessage) -> str:
    """Lift, set and rep as a coach counts them, from one."""
    lift = message.lift.replace("_", " ")
    rep = f", rep {message.rep_index + 1}" if isinstance(message, RepMessage) else ""
    return f"{lift}, set {message.set_index + 1}{rep}"


def _rep_alert(
    rule: str, severity: Severity, message: RepMessage | SetMessage, text: str
) -> AlertMessage:
    is_rep = isinstance(message, RepMessage)
    return AlertMessage(
        rule=rule,
        severity=severity,
        athlete=message.athlete,
        message=plain(text),
        rep_ref=message.msg_id if is_rep else None,
        gym=message.gym,
        station=message.station,
        lift=message.lift,
        # The trigger's own time, as its point has, so a redelivered trigger meets its alert.
        t=message.t_concentric_end if isinstance(message, RepMessage) else message.t_end,
    )


def _station_alert(rule: _Rule, gym: str, station: str, t: float, text: str) -> AlertMessage:
    return AlertMessage(
        rule=rule.id,
        severity=rule.severity,
        athlete="",
        message=plain(text),
        gym=gym,
        station=station,
        t=t,
    )
