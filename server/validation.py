"""What the server takes from a station: one check per way a payload can be wrong, each with a
reason a person can act on. Anything refused here becomes a dead letter."""

from __future__ import annotations

import msgspec

from contract import topics
from contract.messages import (
    HealthMessage,
    PathMessage,
    RepMessage,
    SetMessage,
    StatusMessage,
    decode,
)

Stored = RepMessage | PathMessage | SetMessage | HealthMessage | StatusMessage
# What each station topic carries; the server stores these kinds and ignores the rest.
EXPECTED: dict[str, type[Stored]] = {
    "rep": RepMessage,
    "path": PathMessage,
    "set": SetMessage,
    "health": HealthMessage,
    "status": StatusMessage,
}
# Written by the server or for the stations: not for ingest, so left alone.
NOT_OURS = frozenset({"cmd", "alert", "advice"})


class Refused(ValueError):
    """A payload the server will not store; the message is the dead letter's reason."""


def validate(
    topic: str, payload: bytes, now_s: float, max_bytes: int, window_s: tuple[float, float]
) -> Stored:
    """The decoded message, or Refused. `now_s` is UTC epoch seconds; a message stamped more than
    `window_s` (behind, ahead) from it comes from a clock gone wrong, and would poison the
    series."""
    where = topics.parse(topic)
    if where is None or where.kind not in EXPECTED:
        raise Refused(f"no station messages belong on {topic}")
    if len(payload) > max_bytes:
        raise Refused(f"payload of {len(payload)} bytes is over the {max_bytes}-byte limit")
    try:
        message = decode(payload)
    except msgspec.ValidationError as exc:  # unknown schema versions land here too
        raise Refused(f"invalid {where.kind} message: {exc}") from None
    except msgspec.DecodeError as exc:  # not JSON; NaN and ±inf are not JSON either
        raise Refused(f"not JSON: {exc}") from None
    expected = EXPECTED[where.kind]
    if not isinstance(message, expected):
        raise Refused(f"a {type(message).__name__} on a {where.kind} topic")
    if isinstance(message, StatusMessage):
        message = _from_topic(message, where)
    if (message.gym, message.station) != (where.gym, where.station):
        raise Refused(
            f"names gym {message.gym!r}, station {message.station!r} "
            f"but came on {where.gym}/{where.station}"
        )
    offline = isinstance(message, StatusMessage) and message.state == "offline"
    # An offline status is stamped on arrival (wills.py): a will's own `since` is when its
    # connection began, which a Pi without a real-time clock may have read as 1970.
    stamp, (behind_s, ahead_s) = (now_s if offline else _time_of(message)), window_s
    if stamp > now_s + ahead_s:
        raise Refused(f"stamped {stamp - now_s:.0f} s in the future: is the station's clock set?")
    if stamp < now_s - behind_s:
        days = (now_s - stamp) / 86400
        raise Refused(f"stamped {days:.0f} days before it arrived: is the station's clock set?")
    return message


def _from_topic(status: StatusMessage, where: topics.StationTopic) -> StatusMessage:
    """A status names its station by its topic (older stations leave gym and station out). An
    offline one is placed in time by the ingest (wills.py)."""
    if status.gym is None and status.station is None:
        status = msgspec.structs.replace(status, gym=where.gym, station=where.station)
    return status


def _time_of(message: Stored) -> float:
    """UTC epoch seconds of the message's point."""
    if isinstance(message, RepMessage | SetMessage):
        return message.t_end
    if isinstance(message, PathMessage):  # its last sample: the latest point it writes
        return message.t_start + (message.t_s[-1] if message.t_s else 0.0)
    if isinstance(message, HealthMessage):
        return message.t
    return message.since
