"""MQTT topic names (SPEC section 5): `barbell/v1/{gym}/{station}/{kind}`."""

from __future__ import annotations

from typing import Literal, NamedTuple

ROOT = "barbell/v1"
Kind = Literal["status", "rep", "set", "path", "health", "cmd", "alert", "advice"]
SHARE_GROUP = "barbell-ingest"  # a private broker's; a broker with logins has its own secret


def shared_ingest(group: str = SHARE_GROUP) -> str:
    """The servers' shared subscription to every station's messages."""
    return f"$share/{group}/{ROOT}/+/+/#"


SHARED_INGEST = shared_ingest()
DEAD_LETTERS = f"{ROOT}/_dead"
SERVERS = "barbell/servers"  # each server's state in its share group (server/membership.py)

# gym and station ids become topic levels, so they may not hold MQTT's special characters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class StationTopic(NamedTuple):
    gym: str
    station: str
    kind: str


def topic(gym: str, station: str, kind: Kind) -> str:
    return f"{ROOT}/{gym}/{station}/{kind}"


def parse(name: str) -> StationTopic | None:
    """Split a station topic into its levels; None for anything else (dead letters included)."""
    parts = name.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != ROOT or parts[2] == "_dead":
        return None
    return StationTopic(parts[2], parts[3], parts[4])


MAX_TOPIC_BYTES = 65_535  # MQTT's limit
TOO_LONG = f"{DEAD_LETTERS}/_/_/topic_too_long"


def dead_letter(original: str) -> str:
    """Where a message refused on `original` goes. A topic too long to take the prefix goes to
    TOO_LONG instead; the dead letter names it whole either way."""
    letter = f"{DEAD_LETTERS}/{original.removeprefix(ROOT + '/')}"
    return letter if len(letter.encode()) <= MAX_TOPIC_BYTES else TOO_LONG
