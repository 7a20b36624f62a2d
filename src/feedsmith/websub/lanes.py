"""Lanes: callback requests on a few daemon threads, never waited for by the sender thread.

Why not one thread, nor a pass that waits for its whole batch: a callback is written by anyone,
and one that answers slowly would otherwise hold every other subscriber's verification and
delivery, and the publish pings, for as long as it can (the deadline of :mod:`.net` bounds one
request, not a queue of them). So the sender only *offers* due rows: each accepted row runs as
one task on the pool and is "in flight" until it ends; the sender's next pass skips rows in
flight and sends the rest. Limits, each checked at offer time:

* at most ``size`` rows in flight in all (threads and sockets we hold);
* at most ``per_network`` in flight to one callback network (:func:`.guard.network_key`):
  politeness towards a feed reader hosting many callbacks, and a slow network can hold at
  most that many of our threads;
* at most one in flight per ``key`` (a (callback, topic) pair for verifications): a subscribe
  and an unsubscribe of the same pair are verified one after the other, in order.

A row is in exactly one task at a time, so nothing is sent twice for one change. Threads are
daemons (they do not hold ``feedsmith build`` at exit; what is not sent stays queued), start as
work needs them and end after :data:`IDLE_SECONDS` without any.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Hashable

__all__ = ["IDLE_SECONDS", "Lanes"]

log = logging.getLogger("feedsmith.websub")

IDLE_SECONDS = 30.0


class Lanes:
    def __init__(
        self,
        name: str,
        size: int,
        per_network: int,
        on_exit: Callable[[], None],
    ) -> None:
        self.name = name
        self.size = size
        self.per_network = per_network
        self.on_exit = on_exit
        #: called after each task (the sender looks again: room, or idle)
        self.on_done: Callable[[], None] = lambda: None
        self._tasks: queue.SimpleQueue[tuple[int, Callable[[], None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._rows: dict[int, tuple[str, Hashable]] = {}
        self._networks: Counter[str] = Counter()
        self._keys: set[Hashable] = set()
        self._threads = 0
        self._idle = 0

    def in_flight(self) -> list[int]:
        with self._lock:
            return sorted(self._rows)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._rows)

    def offer(
        self, row_id: int, network: str, task: Callable[[], None], key: Hashable = None
    ) -> bool:
        """Run ``task`` for row ``row_id`` if the limits allow it now; ``False``: not now."""
        with self._lock:
            if (
                row_id in self._rows
                or len(self._rows) >= self.size
                or self._networks[network] >= self.per_network
                or (key is not None and key in self._keys)
            ):
                return False
            self._rows[row_id] = (network, key)
            self._networks[network] += 1
            if key is not None:
                self._keys.add(key)
            self._tasks.put((row_id, task))
            if self._idle == 0 and self._threads < self.size:
                self._threads += 1
                self._idle += 1
                threading.Thread(target=self._work, name=self.name, daemon=True).start()
            self._idle -= 1
            return True

    def _finish(self, row_id: int) -> None:
        with self._lock:
            network, key = self._rows.pop(row_id)
            self._networks[network] -= 1
            if not self._networks[network]:
                del self._networks[network]
            self._keys.discard(key)
            self._idle += 1
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
                            self._idle -= 1
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
