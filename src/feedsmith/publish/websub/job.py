"""What the sender thread runs: one protocol for pings, verifications and deliveries.

Its own module so the hub's jobs (:mod:`.deliver`) and the sender (:mod:`.notify`) both name
it without importing each other.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol


class Job(Protocol):
    """One kind of outgoing work of the sender thread (pings, verifications, deliveries)."""

    def on_start(self, conn: sqlite3.Connection, now: float) -> None: ...

    def next_due(self, conn: sqlite3.Connection) -> float | None: ...

    def run(self, now: float) -> int: ...

    def busy(self) -> bool:
        """Work handed to lanes (:mod:`.lanes`) is still in flight: not idle yet."""
        ...
