"""Publish pings (WebSub §6 leaves the publisher→hub protocol open; this is the common one):
after a build, tell each external hub which topics changed, without ever delaying the build.

The :class:`WebSubSink` only *queues*: in one SQLite transaction it compares every topic's
published sha256 with the one it saw last (``topics``), queues one ping per changed topic and
hub (and, with the built-in hub, one delivery per subscriber, see :mod:`.deliver`), and records
the new shas. Sending is the :class:`Sender` thread's job, started by the first build: so a
hub that is slow or down costs the build nothing, and the outbox survives restarts because it
is on disk. ``feedsmith build`` (one process, then exit) gives the sender a short bounded
drain before exiting (:func:`drain`); what is left waits for the next run.

A ping is ``POST hub`` with ``hub.mode=publish``, ``hub.url=<topic>`` and the same value as
``hub.topic``, form-encoded, one topic per request. ``hub.url`` is what PubSubHubbub hubs
document (Google's, Superfeedr, most others); some WebSub hubs read ``hub.topic`` instead
(Flask-WebSub requires it, see test_websub_interop); hubs ignore the parameter they do not
use, so both go out. Several ``hub.url`` in one request is a per-hub extension, so not used.
Any 2xx is success; anything else, or no answer within the deadline, is retried with
exponential backoff (:func:`.retry.backoff`) and dropped after ``MAX_ATTEMPTS``. At every
start of the sender, waiting rows become due at once: a restart is the moment someone fixed
something.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import requests

from feedsmith.core.config import Config
from feedsmith.core.layout import feed_url
from feedsmith.publish.changes import ChangeSet
from feedsmith.publish.websub import net
from feedsmith.publish.websub.deliver import HubJobs
from feedsmith.publish.websub.job import Job
from feedsmith.publish.websub.retry import MAX_ATTEMPTS, backoff
from feedsmith.publish.websub.store import WebSubStore

__all__ = ["DRAIN_SECONDS", "PingJob", "Sender", "WebSubSink", "drain"]

log = logging.getLogger("feedsmith.websub")

#: How long ``feedsmith build`` waits for queued pings before it exits.
DRAIN_SECONDS = 5.0
#: How often the sender looks for work it was not woken for (requests a web worker accepted).
POLL_SECONDS = 0.5
BATCH = 20


class PingJob:
    """Sends the ``pings`` outbox, in the sender thread itself: external hubs are the site
    owner's choice, each request has :data:`.net.DEADLINE`, and no callback ever runs in this
    thread (those go to lanes), so a subscriber cannot delay a ping."""

    def busy(self) -> bool:
        return False

    def __init__(self, store: WebSubStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._session: requests.Session | None = None

    def on_start(self, conn: sqlite3.Connection, now: float) -> None:
        self.store.rewind(conn, "pings", now)

    def next_due(self, conn: sqlite3.Connection) -> float | None:
        return self.store.next_ping_due(conn)

    def run(self, now: float) -> int:
        rows = self.store.due_pings(now, BATCH)
        for row in rows:
            self._send(row["id"], row["hub"], row["topic"], int(row["attempts"]))
        return len(rows)

    def _send(self, row_id: int, hub: str, topic: str, attempts: int) -> None:
        # Read right before sending: a change queued after this (while the ping is in flight)
        # is then recognisable when the answer comes.
        queued = self.store.ping_queued(row_id)
        if queued is None:
            return
        if self._session is None:
            self._session = net.session(guarded=False)
        t0 = time.monotonic()
        error: str | None = None
        try:
            resp = net.call(
                self._session,
                "POST",
                hub,
                data={"hub.mode": "publish", "hub.url": topic, "hub.topic": topic},
            )
            if not 200 <= resp.status < 300:
                error = f"HTTP {resp.status}"
        except requests.RequestException as exc:
            error = net.failure(exc)
        ms = (time.monotonic() - t0) * 1000
        with self.store.transaction() as conn:
            if error is None:
                # A change queued while this ping was in flight may be newer than what the hub
                # fetched: then the row stays, due again, instead of being deleted.
                self.store.ping_sent(conn, row_id, queued, self.clock())
                self.store.count(conn, "pings_sent")
                log.info("websub ping ok hub=%s topic=%s %.0fms", hub, topic, ms)
                return
            attempts += 1
            self.store.count(conn, "ping_failures")
            if attempts >= MAX_ATTEMPTS:
                self.store.drop(conn, "pings", row_id)
                self.store.count(conn, "pings_dropped")
                log.error(
                    "websub ping dropped after %d attempts hub=%s topic=%s: %s",
                    attempts,
                    hub,
                    topic,
                    error,
                )
                return
            wait = backoff(attempts)
            self.store.retry(conn, "pings", row_id, attempts, self.clock() + wait, error)
            log.warning(
                "websub ping failed hub=%s topic=%s attempt=%d retry_in=%.0fs: %s",
                hub,
                topic,
                attempts,
                wait,
                error,
            )


class Sender:
    """The one thread sending everything queued, in the process that builds.

    Woken by each build (and by :func:`drain`), otherwise sleeping until the earliest due row,
    or :data:`POLL_SECONDS` when a job has work that other processes queue (the hub's
    requests). One thread is enough for pings (one small request each; what a dead hub costs
    is bounded by the deadline); the built-in hub's verifications and deliveries are handed to
    lanes and not waited for (:mod:`.lanes`), so "idle" also means no lane has work left.
    """

    def __init__(
        self,
        store: WebSubStore,
        jobs: Sequence[Job],
        *,
        poll: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.jobs = list(jobs)
        self.poll = poll
        self.clock = clock
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._wanted = 0  # wake() calls so far
        self._idle_gen = 0  # the wake() count an idle pass had seen
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Start the thread if needed; make it look for due work now."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="feedsmith-websub", daemon=True
                )
                self._thread.start()
        with self._idle:
            self._wanted += 1
            self._wake.set()

    def poke(self) -> None:
        """A lane finished a row: look again (room for more, or idle now)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until a pass that started after the last :meth:`wake` found nothing due now
        (queued work is then sent or waiting for its retry time); ``False`` on timeout."""
        with self._idle:
            target = self._wanted
            return self._idle.wait_for(lambda: self._idle_gen >= target, timeout)

    def _loop(self) -> None:
        now = self.clock()
        try:
            with self.store.transaction() as conn:
                for job in self.jobs:
                    job.on_start(conn, now)
        except Exception:  # a locked or broken file: rows simply keep their retry times
            log.exception("websub sender could not make waiting rows due; it sends anyway")
        while not self._stop.is_set():
            with self._idle:
                generation = self._wanted  # wakes from here on ask for another pass
                self._wake.clear()
            try:
                done = sum(job.run(self.clock()) for job in self.jobs)
            except Exception:
                log.exception("websub sender pass failed; it tries again")
                done = 0
                self._stop.wait(1.0)
            if done:
                continue
            if any(job.busy() for job in self.jobs):
                self._wake.wait(self._sleep())
                continue
            with self._idle:
                self._idle_gen = generation
                self._idle.notify_all()
            self._wake.wait(self._sleep())

    def _sleep(self) -> float:
        conn = self.store.connect()
        dues = [d for job in self.jobs if (d := job.next_due(conn)) is not None]
        wait = max(0.05, min(dues) - self.clock()) if dues else 3600.0
        return min(wait, self.poll) if self.poll else wait


class WebSubSink:
    """Queues pings (and built-in hub deliveries) for the topics whose bytes changed."""

    name = "websub"

    def __init__(
        self,
        config: Config,
        store: WebSubStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store or WebSubStore(config.state_dir)
        self.clock = clock
        jobs: list[Job] = [PingJob(self.store, clock)]
        self.hub = None
        if config.websub.builtin:
            self.hub = HubJobs(config, self.store, clock)
            jobs.extend(self.hub.jobs())
        self.sender = Sender(self.store, jobs, poll=POLL_SECONDS if self.hub else None, clock=clock)
        if self.hub is not None:
            self.hub.on_done(self.sender.poke)

    def consume(self, changes: ChangeSet) -> None:
        topics = {rel: feed_url(self.config, rel) for feed in changes.feeds for rel in feed.files}
        now = self.clock()
        with self.store.transaction() as conn:
            known = self.store.topics(conn)
            changed = [
                rel
                for rel in topics
                if rel in changes.files and known.get(rel, ("", ""))[0] != changes.files[rel].sha256
            ]
            vanished = [rel for rel in known if rel not in topics]
            for rel in changed:
                for hub in self.config.websub.hubs:
                    self.store.queue_ping(conn, hub, topics[rel], now)
                self.store.set_topic(conn, rel, topics[rel], changes.files[rel].sha256)
            if self.hub is not None:
                self.hub.enqueue(
                    conn,
                    changes,
                    [(rel, topics[rel]) for rel in changed],
                    [(rel, known[rel][1]) for rel in vanished],
                    now,
                )
            self.store.drop_topics(conn, vanished)
        if changed or vanished:
            log.info(
                "websub queued topics=%d hubs=%d vanished=%d",
                len(changed),
                len(self.config.websub.hubs),
                len(vanished),
            )
        self.sender.wake()


def drain(sinks: Iterable[object], timeout: float = DRAIN_SECONDS) -> bool:
    """Give queued WebSub work up to ``timeout`` seconds to go out (``feedsmith build``);
    ``True`` when nothing due was left."""
    ok = True
    for sink in sinks:
        sink = getattr(sink, "inner", sink)  # a lease-guarded sink (s3.lease.Leased)
        if isinstance(sink, WebSubSink):
            ok = sink.sender.wait_idle(timeout) and ok
    return ok
