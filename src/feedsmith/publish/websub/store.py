"""``state_dir/websub.sqlite``: the WebSub outbox and the built-in hub's state, shared by
processes.

Why SQLite (WAL): the builder process queues and sends, web workers (separate processes,
restarted at any time) accept subscription requests and read counts for ``/metrics`` and
``/healthz``, and everything must survive a restart. WAL lets readers and the one writer at a
time proceed without blocking each other; ``busy_timeout`` covers the short write overlaps.

Tables:

* ``topics`` — each subscription document's sha256 as last handed to the notifier. A topic
  changed when its published sha differs: that comparison, inside the same transaction that
  queues its pings and deliveries, is what makes one change produce exactly one ping per hub
  and one delivery per subscriber, across crashes and catch-up builds.
* ``pings`` — the outbox of publish pings to external hubs, one row per (hub, topic): a second
  change before the first ping went out is the same news, so it is coalesced.
* ``requests`` — (un)subscription requests accepted by a web worker, not verified yet, plus
  denials to send.
* ``subscriptions`` — verified, active subscriptions with their lease expiry.

  The ``host`` column of both is the callback's *network* (:func:`.guard.network_key`), what
  ``websub.max_per_host`` counts; rows written by older versions hold the host name.
* ``bodies`` / ``deliveries`` — content distribution: a topic's new bytes stored once, one
  delivery row per active subscriber.
* ``counters`` — running totals (pings sent/failed, …) for ``/metrics``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from feedsmith.disk.statedir import open_private

__all__ = ["DB_FILE", "WebSubStore", "backoff"]

DB_FILE = "websub.sqlite"

#: Retry schedule of every outgoing request (ping, verification, delivery): 2 s, 4 s, … capped
#: at an hour, dropped after ``MAX_ATTEMPTS`` (about ten hours of a hub or callback down).
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600.0
MAX_ATTEMPTS = 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    rel TEXT PRIMARY KEY, url TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pings (
    id INTEGER PRIMARY KEY, hub TEXT NOT NULL, topic TEXT NOT NULL, queued REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL, last_error TEXT,
    UNIQUE (hub, topic)
);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, mode TEXT NOT NULL, callback TEXT NOT NULL, topic TEXT NOT NULL,
    host TEXT, lease_seconds INTEGER, secret BLOB, reason TEXT, received REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY, callback TEXT NOT NULL, topic TEXT NOT NULL, host TEXT NOT NULL,
    secret BLOB, lease_seconds INTEGER NOT NULL, expires REAL NOT NULL,
    UNIQUE (callback, topic)
);
CREATE TABLE IF NOT EXISTS bodies (
    sha256 TEXT PRIMARY KEY, body BLOB NOT NULL, content_type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, sub_id INTEGER NOT NULL, topic TEXT NOT NULL,
    sha256 TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL,
    last_error TEXT, UNIQUE (sub_id, sha256)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure (exponential, capped)."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS)


class WebSubStore:
    """One SQLite file, one connection per thread (sqlite3 connections are not shareable)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / DB_FILE
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(open_private(self.path))  # 0600: SQLite gives -wal/-shm the db's mode
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: take the write lock first, so a read-then-write cannot be
        overtaken by another process between the two."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- counters -------------------------------------------------------------------------

    @staticmethod
    def count(conn: sqlite3.Connection, name: str, by: int = 1) -> None:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def counters(self) -> dict[str, int]:
        rows = self.connect().execute("SELECT name, value FROM counters").fetchall()
        return {row["name"]: int(row["value"]) for row in rows}

    def depths(self) -> dict[str, int]:
        """Rows waiting in each queue (and active subscriptions): the gauges of ``/metrics``."""
        conn = self.connect()
        out = {}
        for table in ("pings", "requests", "deliveries", "subscriptions"):
            out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        return out

    def snapshot(self) -> dict[str, object]:
        """What ``/healthz`` shows: queue depths, totals, the oldest failing ping's error."""
        conn = self.connect()
        failing = conn.execute(
            "SELECT hub, topic, attempts, last_error FROM pings"
            " WHERE attempts > 0 ORDER BY queued LIMIT 1"
        ).fetchone()
        return {
            "outbox": self.depths()["pings"],
            "pending_verifications": self.depths()["requests"],
            "pending_deliveries": self.depths()["deliveries"],
            "subscriptions": self.depths()["subscriptions"],
            "counters": self.counters(),
            "failing": None
            if failing is None
            else {
                "hub": failing["hub"],
                "topic": failing["topic"],
                "attempts": failing["attempts"],
                "error": failing["last_error"],
            },
        }
