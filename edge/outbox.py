"""The station's on-disk outbox: every message is stored before it is sent, and deleted only when
the broker acknowledges it (PUBACK). A broker outage, lost Wi-Fi or a power cut loses nothing.

SQLite in WAL mode with synchronous=FULL: a message is on disk when `put` returns. Messages keep
their order and their msg_id, so a resend after a restart overwrites itself on the server.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from contract.errors import BarbellError


class OutboxFull(BarbellError, OSError):
    """A new message cannot be kept: the outbox holds its limit of unsent messages, or the disk
    under it is full or failing."""


@dataclass(frozen=True)
class Stored:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    def __init__(self, path: Path, limit: int = 200_000) -> None:
        """`limit` unsent messages: 200 000 is weeks of a busy bar (a rep is under 2 KB, its
        path about 5 KB)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.limit = path, limit
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " msg_id TEXT UNIQUE NOT NULL,"
            " topic TEXT NOT NULL,"
            " payload BLOB NOT NULL)"
        )

    def put(self, msg_id: str, topic: str, payload: bytes, share: float = 1.0) -> None:
        """Keep a message until acknowledged; a msg_id already waiting is not stored twice.
        It may fill the outbox up to `share` of its limit, so what matters less (bar paths)
        can leave room for what matters most (reps and sets)."""
        with self._lock:
            (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
            if depth >= self.limit * share:
                raise OutboxFull(
                    f"outbox {self.path} is full ({depth} unsent messages): {msg_id} not kept"
                )
            try:
                self._db.execute(
                    "INSERT OR IGNORE INTO outbox (msg_id, topic, payload) VALUES (?, ?, ?)",
                    (msg_id, topic, payload),
                )
            except sqlite3.DatabaseError as exc:  # e.g. "database or disk is full"
                raise OutboxFull(f"outbox {self.path} cannot keep {msg_id}: {exc}") from None

    def pending(self, after: int = 0, limit: int = 100) -> list[Stored]:
        """Unacknowledged messages in the order they were stored, from `after` on."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Stored(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def acknowledge(self, seq: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    @property
    def depth(self) -> int:
        with self._lock:
            (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(depth)

    def close(self) -> None:
        with self._lock:
            self._db.close()
