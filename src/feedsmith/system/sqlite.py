"""The local SQLite databases in ``state_dir`` (the hub's subscriptions, subscriber counts).

One shape for both because both are written by several processes at once (web workers, the
builder): WAL so readers never block the writer, ``synchronous=NORMAL`` (a power cut loses at
most the last transactions, never the file), a 30 s busy timeout instead of "database is
locked", one connection per thread (sqlite3 connections are not shareable), and the file
created 0600 before SQLite opens it, since SQLite gives ``-wal``/``-shm`` the file's mode.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from feedsmith.system.statedir import open_private

__all__ = ["LocalDatabase"]


class LocalDatabase:
    """A SQLite file with its schema, one connection per thread, opened on first use."""

    def __init__(self, path: Path, schema: str, *, named_rows: bool = False) -> None:
        self.path = path
        self._schema = schema
        self._named_rows = named_rows
        self._local = threading.local()

    def connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(open_private(self.path))
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if self._named_rows:
                conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self._schema)
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
