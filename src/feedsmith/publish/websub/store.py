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

Every statement on these tables is a method here, so the schema and its queries change
together; methods that take ``conn`` run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from feedsmith.system.sqlite import LocalDatabase

__all__ = ["DB_FILE", "WebSubStore"]

DB_FILE = "websub.sqlite"

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


class WebSubStore(LocalDatabase):
    """One SQLite file, one connection per thread (sqlite3 connections are not shareable)."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(Path(state_dir) / DB_FILE, _SCHEMA, named_rows=True)

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

    def _row(self, sql: str, *args: object) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.connect().execute(sql, args).fetchone()
        return row

    # -- every queue ------------------------------------------------------------------------

    @staticmethod
    def rewind(conn: sqlite3.Connection, table: str, now: float) -> None:
        """Make the rows waiting for a retry in ``table`` due now (a sender starting up)."""
        assert table in _QUEUES
        conn.execute(f"UPDATE {table} SET next_attempt = ? WHERE next_attempt > ?", (now, now))

    @staticmethod
    def drop(conn: sqlite3.Connection, table: str, row_id: int) -> None:
        """Done with one row of a queue (sent, refused or given up)."""
        assert table in _QUEUES
        conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))

    @staticmethod
    def retry(
        conn: sqlite3.Connection, table: str, row_id: int, attempts: int, due: float, error: str
    ) -> None:
        """A failed ping or delivery: tried again at ``due``, the error kept for /healthz."""
        assert table in ("pings", "deliveries")
        conn.execute(
            f"UPDATE {table} SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?",
            (attempts, due, error, row_id),
        )

    # -- topics and pings (the notifier) ------------------------------------------------------

    @staticmethod
    def topics(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
        """rel -> (sha256, url) of every topic as last handed to the notifier."""
        return {
            row["rel"]: (row["sha256"], row["url"])
            for row in conn.execute("SELECT rel, sha256, url FROM topics")
        }

    @staticmethod
    def set_topic(conn: sqlite3.Connection, rel: str, url: str, sha: str) -> None:
        conn.execute(
            "INSERT INTO topics (rel, url, sha256) VALUES (?, ?, ?) ON CONFLICT (rel)"
            " DO UPDATE SET url = excluded.url, sha256 = excluded.sha256",
            (rel, url, sha),
        )

    @staticmethod
    def drop_topics(conn: sqlite3.Connection, rels: Iterable[str]) -> None:
        conn.executemany("DELETE FROM topics WHERE rel = ?", [(rel,) for rel in rels])

    @staticmethod
    def queue_ping(conn: sqlite3.Connection, hub: str, topic: str, now: float) -> None:
        """One row per (hub, topic): a change before the last one went out is coalesced."""
        conn.execute(
            "INSERT INTO pings (hub, topic, queued, next_attempt) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (hub, topic) DO UPDATE SET queued = excluded.queued",
            (hub, topic, now, now),
        )

    @staticmethod
    def next_ping_due(conn: sqlite3.Connection) -> float | None:
        value = conn.execute("SELECT MIN(next_attempt) FROM pings").fetchone()[0]
        return None if value is None else float(value)

    def due_pings(self, now: float, limit: int) -> list[sqlite3.Row]:
        return (
            self.connect()
            .execute(
                "SELECT id, hub, topic, attempts FROM pings WHERE next_attempt <= ?"
                " ORDER BY next_attempt, id LIMIT ?",
                (now, limit),
            )
            .fetchall()
        )

    def ping_queued(self, row_id: int) -> float | None:
        """When the ping's latest change was queued; ``None`` once the row is gone."""
        row = self._row("SELECT queued FROM pings WHERE id = ?", row_id)
        return None if row is None else row[0]

    @staticmethod
    def ping_sent(conn: sqlite3.Connection, row_id: int, queued: float, now: float) -> None:
        """Done, unless a change was queued while it was in flight: then due again."""
        gone = conn.execute(
            "DELETE FROM pings WHERE id = ? AND queued = ?", (row_id, queued)
        ).rowcount
        if not gone:
            conn.execute(
                "UPDATE pings SET attempts = 0, next_attempt = ? WHERE id = ?", (now, row_id)
            )

    # -- requests (the hub's endpoint and its verifications) -----------------------------------

    @staticmethod
    def replace_request(
        conn: sqlite3.Connection,
        mode: str,
        callback: str,
        topic: str,
        host: str,
        lease: int | None,
        secret: bytes | None,
        now: float,
    ) -> None:
        """A repeat of the same request replaces the pending one."""
        conn.execute(
            "DELETE FROM requests WHERE callback = ? AND topic = ? AND mode = ?",
            (callback, topic, mode),
        )
        conn.execute(
            "INSERT INTO requests (mode, callback, topic, host, lease_seconds, secret,"
            " received, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (mode, callback, topic, host, lease, secret, now, now),
        )

    @staticmethod
    def pending_secrets(conn: sqlite3.Connection, callback: str, topic: str) -> list[Any]:
        """The secrets of the subscribe requests for the pair awaiting verification."""
        return [
            pending
            for (pending,) in conn.execute(
                "SELECT secret FROM requests WHERE callback = ? AND topic = ?"
                " AND mode = 'subscribe'",
                (callback, topic),
            )
        ]

    @staticmethod
    def is_subscribed(conn: sqlite3.Connection, callback: str, topic: str) -> bool:
        return bool(
            conn.execute(
                "SELECT 1 FROM subscriptions WHERE callback = ? AND topic = ?", (callback, topic)
            ).fetchone()
        )

    @staticmethod
    def count_subscribing(
        conn: sqlite3.Connection, callback: str, topic: str, host: str | None = None
    ) -> int:
        """Subscriptions plus pending subscribe requests (on ``host``'s network, if given),
        not counting the pair's own request: what the hub's limits count."""
        on, args = (" WHERE host = ?", (host,)) if host is not None else ("", ())
        return int(
            conn.execute(
                f"SELECT (SELECT COUNT(*) FROM subscriptions{on}) + (SELECT COUNT(*) FROM"
                f" requests WHERE mode = 'subscribe'{on.replace('WHERE', 'AND')}"
                " AND NOT (callback = ? AND topic = ?))",
                (*args, *args, callback, topic),
            ).fetchone()[0]
        )

    @staticmethod
    def queue_denial(
        conn: sqlite3.Connection, callback: str, topic: str, reason: str, now: float
    ) -> None:
        conn.execute(
            "INSERT INTO requests (mode, callback, topic, reason, received, next_attempt)"
            " VALUES ('denied', ?, ?, ?, ?, ?)",
            (callback, topic, reason, now, now),
        )

    @staticmethod
    def retry_request(conn: sqlite3.Connection, row_id: int, attempts: int, due: float) -> None:
        conn.execute(
            "UPDATE requests SET attempts = ?, next_attempt = ? WHERE id = ?",
            (attempts, due, row_id),
        )

    @staticmethod
    def next_verify_due(conn: sqlite3.Connection, exclude: Sequence[int] | None) -> float | None:
        """The earliest due request not in ``exclude`` (``None``: no request at all) or
        subscription expiry."""
        cond, ids = _excluding(exclude) if exclude is not None else ("0", [])
        row = conn.execute(
            f"SELECT MIN(next_attempt) FROM requests WHERE {cond}"
            " UNION ALL SELECT MIN(expires) FROM subscriptions",
            ids,
        ).fetchall()
        dues = [float(r[0]) for r in row if r[0] is not None]
        return min(dues) if dues else None

    def due_requests(self, now: float, exclude: Sequence[int], limit: int) -> list[sqlite3.Row]:
        cond, ids = _excluding(exclude)
        return (
            self.connect()
            .execute(
                f"SELECT * FROM requests WHERE next_attempt <= ? AND {cond}"
                " ORDER BY next_attempt, id LIMIT ?",
                (now, *ids, limit),
            )
            .fetchall()
        )

    # -- subscriptions --------------------------------------------------------------------------

    @staticmethod
    def subscribe(
        conn: sqlite3.Connection,
        callback: str,
        topic: str,
        host: str,
        secret: bytes | None,
        lease: int,
        expires: float,
    ) -> None:
        conn.execute(
            "INSERT INTO subscriptions (callback, topic, host, secret, lease_seconds,"
            " expires) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (callback, topic) DO UPDATE"
            " SET secret = excluded.secret, lease_seconds = excluded.lease_seconds,"
            " expires = excluded.expires",
            (callback, topic, host, secret, lease, expires),
        )

    @staticmethod
    def subscription_ids(conn: sqlite3.Connection, callback: str, topic: str) -> list[int]:
        return [
            sub_id
            for (sub_id,) in conn.execute(
                "SELECT id FROM subscriptions WHERE callback = ? AND topic = ?",
                (callback, topic),
            ).fetchall()
        ]

    @staticmethod
    def active_subscribers(conn: sqlite3.Connection, topic: str, now: float) -> list[int]:
        return [
            row[0]
            for row in conn.execute(
                "SELECT id FROM subscriptions WHERE topic = ? AND expires > ?", (topic, now)
            )
        ]

    @staticmethod
    def subscribers(conn: sqlite3.Connection, topic: str) -> list[sqlite3.Row]:
        """(id, callback) of every subscription to ``topic``, expired or not."""
        return conn.execute(
            "SELECT id, callback FROM subscriptions WHERE topic = ?", (topic,)
        ).fetchall()

    @staticmethod
    def end_subscription(conn: sqlite3.Connection, sub_id: int) -> None:
        """The subscription and its pending deliveries."""
        conn.execute("DELETE FROM deliveries WHERE sub_id = ?", (sub_id,))
        conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))

    def any_expired(self, now: float) -> bool:
        return self._row("SELECT 1 FROM subscriptions WHERE expires <= ? LIMIT 1", now) is not None

    @staticmethod
    def expired(conn: sqlite3.Connection, now: float) -> list[sqlite3.Row]:
        return conn.execute(
            "SELECT id, callback, topic FROM subscriptions WHERE expires <= ?", (now,)
        ).fetchall()

    # -- bodies and deliveries (content distribution) -------------------------------------------

    @staticmethod
    def store_body(conn: sqlite3.Connection, sha: str, body: bytes, content_type: str) -> None:
        conn.execute(
            "INSERT INTO bodies (sha256, body, content_type) VALUES (?, ?, ?)"
            " ON CONFLICT (sha256) DO NOTHING",
            (sha, body, content_type),
        )

    @staticmethod
    def queue_delivery(
        conn: sqlite3.Connection, sub_id: int, topic: str, sha: str, now: float
    ) -> None:
        """The newest bytes replace an older change still waiting for the subscriber."""
        conn.execute(
            "DELETE FROM deliveries WHERE sub_id = ? AND topic = ? AND sha256 != ?",
            (sub_id, topic, sha),
        )
        conn.execute(
            "INSERT INTO deliveries (sub_id, topic, sha256, next_attempt)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (sub_id, sha256) DO NOTHING",
            (sub_id, topic, sha, now),
        )

    @staticmethod
    def collect_bodies(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM bodies WHERE sha256 NOT IN (SELECT sha256 FROM deliveries)")

    def drop_orphan_deliveries(self) -> None:
        """Deliveries whose subscription ended (unsubscribed, expired), and unused bodies."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM deliveries WHERE sub_id NOT IN (SELECT id FROM subscriptions)")
            self.collect_bodies(tx)

    def delivery_pending(self, row_id: int) -> bool:
        return self._row("SELECT 1 FROM deliveries WHERE id = ?", row_id) is not None

    @staticmethod
    def next_delivery_due(conn: sqlite3.Connection, exclude: Sequence[int]) -> float | None:
        cond, ids = _excluding(exclude)
        value = conn.execute(
            f"SELECT MIN(next_attempt) FROM deliveries WHERE {cond}", ids
        ).fetchone()[0]
        return None if value is None else float(value)

    def due_deliveries(
        self, now: float, exclude: Sequence[int], per_host: int, limit: int
    ) -> list[sqlite3.Row]:
        """Due deliveries with their callback, at most ``per_host`` per callback network."""
        cond, ids = _excluding(exclude, "d.id")
        return (
            self.connect()
            .execute(
                "SELECT * FROM (SELECT d.id, d.sub_id, d.topic, d.sha256, d.attempts,"
                " d.next_attempt, s.callback, s.secret, s.host, ROW_NUMBER() OVER (PARTITION BY"
                " s.host ORDER BY d.next_attempt, d.id) AS nth FROM deliveries d"
                " JOIN subscriptions s ON s.id = d.sub_id JOIN bodies b ON b.sha256 = d.sha256"
                f" WHERE d.next_attempt <= ? AND {cond})"
                " WHERE nth <= ? ORDER BY next_attempt, id LIMIT ?",
                (now, *ids, per_host, limit),
            )
            .fetchall()
        )

    def bodies(self, shas: Sequence[str]) -> dict[str, tuple[bytes, str]]:
        """sha256 -> (body, content type), each body read once."""
        return {
            sha: (bytes(body), content_type)
            for sha, body, content_type in self.connect().execute(
                "SELECT sha256, body, content_type FROM bodies WHERE sha256 IN"
                f" ({', '.join('?' * len(shas))})",
                list(shas),
            )
        }


_QUEUES = ("pings", "requests", "deliveries")


def _excluding(ids: Sequence[int], column: str = "id") -> tuple[str, list[int]]:
    """An SQL condition leaving out the rows in flight (a handful: at most a lane pool)."""
    return (f"{column} NOT IN ({', '.join('?' * len(ids))})", list(ids)) if ids else ("1", [])
