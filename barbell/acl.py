"""Who may do what on the broker: the rights of each role, and the Mosquitto ACL file that holds
them, one block per user.

Mosquitto grants nothing that the file does not list, so each block is the whole of a user's
rights. Only the roles here write data: a station its own measurements, the server its verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from contract.errors import InputError
from contract.topics import DEAD_LETTERS, ROOT, SERVERS

Access = Literal["read", "write", "readwrite"]
Role = Literal["station", "coach", "server", "bridge"]

STATION_WRITES = ("status", "rep", "set", "path", "health")  # what a station measures
STATION_READS = ("cmd", "advice")  # what is meant for it
SERVER_WRITES = ("alert", "advice")  # the server's verdicts, besides its dead letters

HEADER = (
    "# Who may read and write which topics: kept by `barbell provision`, one block per user.\n"
    "# Nothing not granted here is allowed; there are no anonymous clients.\n"
)


@dataclass(frozen=True)
class Grant:
    access: Access
    topic: str

    def line(self) -> str:
        return f"topic {self.access} {self.topic}"


def station(gym: str, station_id: str) -> list[Grant]:
    """Its own measurements out, its own commands and advice in; nothing of any other station."""
    base = f"{ROOT}/{gym}/{station_id}"
    return [Grant("write", f"{base}/{kind}") for kind in STATION_WRITES] + [
        Grant("read", f"{base}/{kind}") for kind in STATION_READS
    ]


def coach(gym: str) -> list[Grant]:
    """A coach's tablet, for every station of one gym: alerts, advice and which stations are
    online in; commands out, since setting athlete, lift and load on a bar is what a coach does.
    A coach may not write measurements or verdicts, so what the server stores is what the
    stations measured."""
    stations = f"{ROOT}/{gym}/+"
    return [Grant("read", f"{stations}/{kind}") for kind in ("alert", "advice", "status")] + [
        Grant("write", f"{stations}/cmd")
    ]


def server() -> list[Grant]:
    """Everything in (the shared subscription needs read on the topics under it); alerts, advice
    and dead letters out; and the servers' states in their share group, which only they see."""
    return (
        [Grant("read", f"{ROOT}/#")]
        + [Grant("write", f"{ROOT}/+/+/{kind}") for kind in SERVER_WRITES]
        + [Grant("write", f"{DEAD_LETTERS}/#"), Grant("readwrite", f"{SERVERS}/#")]
    )


def bridge(gym: str) -> list[Grant]:
    """A gym broker on the central one: it speaks for that gym's stations and hears what is
    meant for them, so a gym cannot forge another gym's reps."""
    stations = f"{ROOT}/{gym}/+"
    return [Grant("write", f"{stations}/{kind}") for kind in STATION_WRITES] + [
        Grant("read", f"{stations}/{kind}") for kind in ("cmd", "alert", "advice")
    ]


class RoleConflict(InputError):
    """The user name is taken by another role."""


def block(role: Role, user: str, grants: Sequence[Grant]) -> str:
    lines = [f"# {role} {user}", f"user {user}", *(g.line() for g in grants)]
    return "\n".join(lines) + "\n"


def upsert(text: str, role: Role, user: str, grants: Sequence[Grant]) -> str:
    """The ACL file `text` with `user`'s block replaced, or added at the end.

    Raises RoleConflict if the user already has a block for another role: a coach and a station
    of one gym cannot share a name.
    """
    paragraphs = [p.strip("\n") for p in text.split("\n\n") if p.strip()] or [HEADER.strip()]
    new = block(role, user, grants).rstrip("\n")
    for index, paragraph in enumerate(paragraphs):
        lines = paragraph.splitlines()
        if f"user {user}" not in lines:
            continue
        held = next((line.split()[1] for line in lines if line.startswith("# ")), "?")
        if held != role:
            raise RoleConflict(f"user {user!r} is already a {held}; choose another name")
        paragraphs[index] = new
        break
    else:
        paragraphs.append(new)
    return "\n\n".join(paragraphs) + "\n"
