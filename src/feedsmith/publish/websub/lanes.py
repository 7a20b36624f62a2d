"""Lanes: callback requests on a few daemon threads, never waited for by the sender thread.

Why not one thread, nor a pass that waits for its whole batch: a callback is written by anyone,
and one that answers slowly would otherwise hold every other subscriber's verification and
delivery, and the publish pings, for as long as it can (the deadline of :mod:`.net` bounds one
request, not a queue of them). So the sender only *offers* due rows; accepted rows wait in
their callback network's queue (:func:`.guard.network_key`) and run as one task each when
there is room; a row is "in flight" from acceptance to its end, and the sender's passes skip
rows in flight. Limits:

* running: at most ``size`` in all (threads and sockets we hold) and ``per_network`` to one
  network — politeness towards a feed reader hosting many callbacks, and a slow network holds
  at most that many of our threads; networks take turns, so a slow one delays only its own;
* accepted: at most ``backlog`` rows in all and ``network_backlog`` per network (one network's
  backlog cannot crowd out the others), at most one per ``key`` (a (callback, topic) pair for
  verifications: a subscribe and an unsubscribe of the same pair are verified in order).

The sender is poked when the backlog (or one network's) is half empty, or empty, so it reads
the table once per batch, not once per request.

A row is in exactly one task at a time, so nothing is sent twice for one change. Threads are
daemons (they do not hold ``feedsmith build`` at exit; what is not sent stays queued), start as
work needs them and end after :data:`IDLE_SECONDS` without any.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Hashable

__all__ = ["IDLE_SECONDS", "Lanes"]

log = logging.getLogger("feedsmith.websub")

IDLE_SECONDS = 30.0


class Lanes:
    """Accepted rows wait per network and run as room allows; see the module docstring."""

    def __init__(
        self,
        name: str,
        size: int,
        per_network: int,
        on_exit: Callable[[], None],
        *,
        backlog: int = 200,
        network_backlog: int = 20,
    ) -> None:
        self.name = name
        self.size = size
        self.per_network = per_network
        self.backlog = backlog
        self.network_backlog = network_backlog
        self.on_exit = on_exit
        #: called when the lanes want more rows or have none left (the sender looks again)
        self.on_done: Callable[[], None] = lambda: None
        self._tasks: queue.SimpleQueue[tuple[int, Callable[[], None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._rows: dict[int, tuple[str, Hashable]] = {}  # accepted: waiting or running
        self._waiting: dict[str, deque[tuple[int, Callable[[], None]]]] = {}
        self._accepted: Counter[str] = Counter()
        self._running: Counter[str] = Counter()
        self._keys: set[Hashable] = set()
        self._threads = 0
        self._busy_threads = 0

    def in_flight(self) -> list[int]:
        """Rows accepted and not finished (a pass must not offer them again)."""
        with self._lock:
            return sorted(self._rows)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._rows)

    def wants_more(self) -> bool:
        """Room for a useful batch: passes skip reading the table while the lanes are full."""
        with self._lock:
            return len(self._rows) <= self.backlog // 2

    def offer(
        self, row_id: int, network: str, task: Callable[[], None], key: Hashable = None
    ) -> bool:
        """Accept ``task`` for row ``row_id`` if the limits allow; ``False``: offer it later."""
        with self._lock:
            if (
                row_id in self._rows
                or len(self._rows) >= self.backlog
                or self._accepted[network] >= self.network_backlog
                or (key is not None and key in self._keys)
            ):
                return False
            self._rows[row_id] = (network, key)
            self._accepted[network] += 1
            if key is not None:
                self._keys.add(key)
            self._waiting.setdefault(network, deque()).append((row_id, task))
            self._dispatch()
            return True

    def _dispatch(self) -> None:
        """Start waiting rows while there is room, networks in turn (under ``_lock``)."""
        running = sum(self._running.values())
        while running < self.size:
            ready = [n for n, q in self._waiting.items() if self._running[n] < self.per_network]
            if not ready:
                return
            for network in ready:
                if running >= self.size:
                    return
                waiting = self._waiting[network]
                self._tasks.put(waiting.popleft())
                if not waiting:
                    del self._waiting[network]
                self._running[network] += 1
                running += 1
                if self._busy_threads >= self._threads:
                    self._threads += 1
                    threading.Thread(target=self._work, name=self.name, daemon=True).start()
                self._busy_threads += 1

    def _finish(self, row_id: int) -> None:
        with self._lock:
            network, key = self._rows.pop(row_id)
            self._running[network] -= 1
            self._accepted[network] -= 1
            if not self._accepted[network]:
                del self._accepted[network], self._running[network]
            self._keys.discard(key)
            self._busy_threads -= 1
            self._dispatch()
            poke = (
                not self._rows
                or len(self._rows) == self.backlog // 2
                or self._accepted[network] == self.network_backlog // 2
            )
        if poke:
            self.on_done()

    def _work(self) -> None:
        try:
            while True:
                try:
                    row_id, task = self._tasks.get(timeout=IDLE_SECONDS)
                except queue.Empty:
                    with self._lock:
                        if self._tasks.empty():
                            self._threads -= 1
                            return
                    continue
                try:
                    task()
                except Exception:
                    log.exception("websub %s task failed; the row keeps its state", self.name)
                finally:
                    self._finish(row_id)
        finally:
            self.on_exit()
