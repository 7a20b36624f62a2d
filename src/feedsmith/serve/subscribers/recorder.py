"""The web worker's side of counting: the request path notes the poll in memory, a background
thread writes what was noted to the store every ``stats.flush_seconds``.

Why so: a feed poll is answered in well under a millisecond (mostly a 304), and a SQLite write
per request would cost more than the answer and serialise the workers on the database lock.
The request path sets one key of a dict, (UTC day, path, client, User-Agent) → time, under an
uncontended lock: pollers come back every few minutes with the same key, so the dict holds one
entry per poller, not per request, and the writer's work and the garbage collector's do not
grow with the request rate. It is bounded (:data:`MAX_PENDING` keys): a flood of new keys is
dropped (and counted as dropped) rather than memory growing. Raw client addresses exist only in
that dict; the writer hashes them (:mod:`.store`). A worker that dies loses at most one flush
interval.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.subscribers import Snapshot, count_window
from feedsmith.core.subscribers.agents import MAX_UA_CHARS
from feedsmith.serve.aliases import FeedAliases
from feedsmith.serve.stores import Store
from feedsmith.serve.subscribers.feedmap import ClientAddress, FeedMap, websub_counts
from feedsmith.serve.subscribers.store import Poll, SubscriberStore, day_of

log = logging.getLogger("feedsmith.stats")

#: Distinct polls waiting for the writer, at most (about 300 bytes each: some 30 MB at most).
MAX_PENDING = 100_000

Clock = Callable[[], datetime]
Key = tuple[int, str, Any, str, str | None, str]  # UTC day, rel, alias, peer, XFF, UA


class Subscribers:
    """One per web worker (and one for the importer and the ``stats`` command)."""

    def __init__(
        self,
        config: Config,
        store: Store | None,
        clock: Clock,
        epoch: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        #: "Now" in epoch seconds for the request path: ``time.time`` when the clock is the
        #: real one (a datetime per poll was a third of the cost of counting it).
        self._epoch = epoch or (lambda: clock().timestamp())
        self.stats = config.stats
        self.site = store
        self.db = SubscriberStore(config.state_dir)
        self.clock = clock
        self.client_address = ClientAddress(config.server.trusted_proxies)
        self.pending: dict[Key, float] = {}
        self._lock = threading.Lock()
        self.dropped = 0
        self._map: tuple[Hashable, FeedMap] = (object(), FeedMap(()))
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._flush_lock = threading.Lock()

    # -- the request path ----------------------------------------------------------------

    def record(self, environ: dict[str, Any], rel: str, alias: Any) -> None:
        """Note a 200/304 answer to ``/feeds/<rel>`` (or to a jekyll-feed alias)."""
        when = self._epoch()
        key = (
            int(when // 86400),
            rel,
            alias,
            environ.get("REMOTE_ADDR", ""),
            environ.get("HTTP_X_FORWARDED_FOR"),
            environ.get("HTTP_USER_AGENT", "")[:MAX_UA_CHARS],
        )
        with self._lock:
            pending = self.pending
            if len(pending) >= MAX_PENDING and key not in pending:
                self.dropped += 1
                return
            pending[key] = when

    # -- the writer ----------------------------------------------------------------------

    def start(self) -> None:
        """The background writer (a daemon thread) and a last flush at interpreter exit."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="stats-writer", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self.flush()
        except Exception:  # at exit: say so, never turn a clean stop into a traceback
            log.exception("could not write the last subscriber counts")

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.stats.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a locked or broken file: keep serving, try again next time
                log.exception("could not write subscriber counts")

    def flush(self) -> int:
        """Write what is queued; returns the polls written. Also the test's hook."""
        with self._flush_lock:
            with self._lock:
                folded, self.pending = self.pending, {}
            if not folded:
                return 0
            polls: list[Poll] = []
            feeds = self.feed_map()
            for (_, rel, alias, peer, xff, ua), when in folded.items():
                doc = self._resolve(feeds, rel, alias)
                if doc is not None:
                    polls.append(Poll(*doc, when, self.client_address(peer, xff), ua))
            if not polls:
                return 0
            self.db.add(polls)
            now = self.clock().timestamp()
            self.db.save_day(day_of(now).isoformat(), self.snapshot(now))
            self.db.prune(now, self.stats.window_hours, self.stats.keep_days)
            return len(polls)

    def _resolve(self, feeds: FeedMap, rel: str, alias: Any) -> tuple[str, str, str] | None:
        if alias is not None:
            manifest = self.site.manifest() if self.site is not None else None
            target = FeedAliases.target(alias, manifest.feeds) if manifest else None
            return feeds.get(target) if target else None
        try:
            rel = rel.encode("latin-1").decode("utf-8")  # PATH_INFO's bytes (PEP 3333)
        except UnicodeError:
            return None
        return feeds.get(rel)

    # -- counting ------------------------------------------------------------------------

    def feed_map(self) -> FeedMap:
        manifest = self.site.manifest() if self.site is not None else None
        if manifest is None:
            return self._map[1]
        if self._map[0] != manifest.key:
            self._map = (manifest.key, FeedMap(manifest.feeds))
        return self._map[1]

    def snapshot(self, now: float | None = None) -> Snapshot:
        """Subscribers of every feed over the window ending ``now`` (default: the clock)."""
        now = self.clock().timestamp() if now is None else now
        feeds = self.feed_map()
        aggs, clients = self.db.records(now - self.stats.window_hours * 3600)
        hub = websub_counts(self.config.state_dir, feeds, now)
        return count_window(
            aggs,
            clients,
            hub,
            since=now - self.stats.window_hours * 3600,
            feeds=feeds.keys,
        )
