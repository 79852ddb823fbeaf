"""The station's on-disk outbox: every message is stored before it is sent, and deleted only when
the broker acknowledges it (PUBACK). A broker outage, lost Wi-Fi or a power cut loses nothing.

SQLite in WAL mode with synchronous=FULL: a message is on disk when `put` returns. Messages keep
their order and their msg_id, so a resend after a restart overwrites itself on the server.

A full SD card must not wedge it. Deleting a row writes to the write-ahead log too, so on a full
card an acknowledged message could not be deleted and went again at every start. The outbox
keeps a small reserve file beside it, given up when a delete finds no room (and taken again
later); and its log is checkpointed and truncated often, so what deleting frees goes back to
the card instead of staying in the log.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from contract.errors import BarbellError

# The write-ahead log is checkpointed every CHECKPOINT_PAGES pages (4 KB each; SQLite's default
# is 1000) and cut back to LOG_BYTES after; RESERVE_BYTES is far more than a delete writes.
CHECKPOINT_PAGES = 64
LOG_BYTES = 256 * 1024
RESERVE_BYTES = 256 * 1024


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
        self._db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
        self._db.execute(f"PRAGMA journal_size_limit = {LOG_BYTES}")
        self._reserve = path.with_name(path.name + ".reserve")
        self._keep_reserve()
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
            try:
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            except sqlite3.OperationalError:  # "database or disk is full": use the reserve
                self._reserve.unlink(missing_ok=True)
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._keep_reserve()

    def _keep_reserve(self) -> None:
        """Hold RESERVE_BYTES of the card for deleting, if they are free."""
        if self._reserve.exists():
            return
        try:
            with self._reserve.open("wb") as file:
                file.write(bytes(RESERVE_BYTES))
                file.flush()
                os.fsync(file.fileno())
        except OSError:  # the card is full: try again at the next delete that needs it
            self._reserve.unlink(missing_ok=True)

    @property
    def depth(self) -> int:
        with self._lock:
            (depth,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(depth)

    def close(self) -> None:
        with self._lock:
            self._db.close()
