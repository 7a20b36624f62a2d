"""``state_dir/subscribers.sqlite``: what subscriber counting keeps, and for how long.

Kept (and nothing else):

* ``aggregators``: per feed document and aggregator (and feed id), the latest stated count and
  when it was seen — deleted a day after it leaves the window;
* ``clients``: per feed document and day, a salted hash of (client address) with the
  User-Agent (cut to 512 characters) and the reader's name — deleted likewise;
* ``salts``: the secret of the current day only; a day's salt is deleted once the day is over,
  so nobody (this program included) can tell afterwards which address a hash was;
* ``daily``: one row per feed per day (the count, by reader and format) for
  ``stats.keep_days``.

Several web-worker processes and ``feedsmith stats import`` write at once: WAL, a busy timeout,
and every write is one short transaction. The file is 0600 like everything in ``state_dir``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from feedsmith.core.subscribers import Agent, AggregatorSeen, ClientSeen, Snapshot, classify
from feedsmith.core.subscribers.agents import truncate_ua
from feedsmith.system.sqlite import LocalDatabase

DB_FILE = "subscribers.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS aggregators (
    kind TEXT NOT NULL, name TEXT NOT NULL, fmt TEXT NOT NULL, reader TEXT NOT NULL,
    feed_id TEXT NOT NULL, count INTEGER NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (kind, name, fmt, reader, feed_id)
);
CREATE TABLE IF NOT EXISTS clients (
    kind TEXT NOT NULL, name TEXT NOT NULL, fmt TEXT NOT NULL, day TEXT NOT NULL,
    client TEXT NOT NULL, ua TEXT NOT NULL, reader TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (kind, name, fmt, day, client, ua)
);
CREATE TABLE IF NOT EXISTS salts (day TEXT PRIMARY KEY, salt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, subscribers INTEGER NOT NULL,
    detail TEXT NOT NULL, PRIMARY KEY (day, kind, name)
);
"""


@dataclass(frozen=True)
class Poll:
    """One counted request, resolved: which feed document, when, from whom. ``addr`` is the
    raw client address and lives only in memory until :meth:`SubscriberStore.add` hashes it."""

    kind: str
    name: str
    fmt: str
    time: float
    addr: str
    ua: str


class SubscriberStore(LocalDatabase):
    """One SQLite file, one connection per thread."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(Path(state_dir) / DB_FILE, _SCHEMA)

    def add(self, polls: Iterable[Poll]) -> int:
        """Record polls (one transaction); returns how many were counted (crawlers are not).

        A flush holds many polls of few pollers (a reader polls every few minutes, the same
        User-Agents come back), so they are folded in memory first: one classification per
        User-Agent, one hash per (day, address), one row written per key.
        """
        agents: dict[str, Agent] = {}
        latest: dict[tuple[str, str, str, str, str], tuple[float, int]] = {}
        seen: dict[tuple[str, str, str, str, str, str], tuple[float, str]] = {}
        counted = 0
        for poll in polls:
            ua = truncate_ua(poll.ua)
            agent = agents.get(ua)
            if agent is None:
                agent = agents[ua] = classify(ua)
            if agent.kind == "bot":
                continue
            counted += 1
            if agent.count is not None:
                key = (poll.kind, poll.name, poll.fmt, agent.name, agent.feed_id)
                have = latest.get(key)
                if have is None or poll.time >= have[0]:
                    latest[key] = (poll.time, agent.count)
                continue
            ckey = (poll.kind, poll.name, poll.fmt, _day(poll.time), poll.addr, ua)
            before = seen.get(ckey)
            if before is None or poll.time > before[0]:
                seen[ckey] = (poll.time, agent.name)
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO aggregators VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET count = excluded.count, seen = excluded.seen "
                "WHERE excluded.seen >= aggregators.seen",
                [(*key, count, when) for key, (when, count) in latest.items()],
            )
            salts: dict[str, bytes] = {}
            hashes: dict[tuple[str, str], str] = {}
            rows = []
            for (kind, name, fmt, day, addr, ua), (when, reader) in seen.items():
                client = hashes.get((day, addr))
                if client is None:
                    salt = salts.get(day)
                    if salt is None:
                        salt = salts[day] = _salt(conn, day)
                    client = hashes[(day, addr)] = hashlib.blake2b(
                        addr.encode("utf-8", "replace"), key=salt, digest_size=12
                    ).hexdigest()
                rows.append((kind, name, fmt, day, client, ua, reader, when))
            conn.executemany(
                "INSERT INTO clients VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT DO UPDATE SET seen = max(seen, excluded.seen)",
                rows,
            )
        return counted

    def records(self, since: float) -> tuple[list[AggregatorSeen], list[ClientSeen]]:
        conn = self.connect()
        aggs = [
            AggregatorSeen(*row)
            for row in conn.execute(
                "SELECT kind, name, fmt, reader, feed_id, count, seen FROM aggregators "
                "WHERE seen >= ?",
                (since,),
            )
        ]
        clients = [
            ClientSeen(*row)
            for row in conn.execute(
                "SELECT kind, name, fmt, reader, day, client, ua, seen FROM clients "
                "WHERE seen >= ?",
                (since,),
            )
        ]
        return aggs, clients

    def save_day(self, day: str, snapshot: Snapshot) -> None:
        """The day's row per feed (replaced: the last count of a day is the day's count)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM daily WHERE day = ?", (day,))
            conn.executemany(
                "INSERT INTO daily VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        day,
                        f.kind,
                        f.name,
                        f.subscribers,
                        json.dumps({"by_reader": f.by_reader, "by_format": f.by_format}),
                    )
                    for f in snapshot.feeds
                ],
            )

    def history(self) -> list[tuple[str, int]]:
        """(day, total) for every day kept, oldest first."""
        return [
            (str(day), int(total))
            for day, total in self.connect().execute(
                "SELECT day, SUM(subscribers) FROM daily GROUP BY day ORDER BY day"
            )
        ]

    def prune(self, now: float, window_hours: int, keep_days: int) -> None:
        """Forget what no count needs any more: polls a day past the window, salts of days
        that are over, history past ``keep_days``."""
        horizon = now - window_hours * 3600 - 86400
        today = _day(now)
        oldest = (datetime.fromtimestamp(now, UTC).date() - timedelta(days=keep_days)).isoformat()
        with self.transaction() as conn:
            conn.execute("DELETE FROM aggregators WHERE seen < ?", (horizon,))
            conn.execute("DELETE FROM clients WHERE seen < ?", (horizon,))
            conn.execute("DELETE FROM salts WHERE day < ?", (today,))
            conn.execute("DELETE FROM daily WHERE day < ?", (oldest,))


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def day_of(ts: float) -> date:
    return datetime.fromtimestamp(ts, UTC).date()


def _salt(conn: sqlite3.Connection, day: str) -> bytes:
    """The day's secret: made once by whichever process needs it first (INSERT OR IGNORE in
    the same transaction, so every worker hashes with the same one)."""
    conn.execute("INSERT OR IGNORE INTO salts VALUES (?, ?)", (day, secrets.token_bytes(32)))
    row = conn.execute("SELECT salt FROM salts WHERE day = ?", (day,)).fetchone()
    return bytes(row[0])
