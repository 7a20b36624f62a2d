"""The built-in hub's outgoing side, run by the builder's :class:`.notify.Sender` thread.

Web workers only *accept* requests (:mod:`.hub`, rows in ``requests``); everything that calls a
subscriber happens here, in the one process that builds, so no extra server runs and nothing is
sent by two processes:

* **verification of intent** (§5.3): ``GET callback?hub.mode=…&hub.topic=…&hub.challenge=…
  [&hub.lease_seconds=…]``; the (un)subscription takes effect only on a 2xx whose body is the
  challenge. A refusal or a wrong echo ends the request; a network error is retried a few
  times (the subscriber may be restarting).
* **denial** (§5.2): ``GET callback?hub.mode=denied&hub.topic=…&hub.reason=…`` — sent when a
  topic stops existing, which ends its subscriptions.
* **content distribution** (§7, §8): on a topic's change, ``POST`` its new bytes to each active
  subscriber with its ``Content-Type``, ``Link: <hub>; rel="hub", <topic>; rel="self"`` and,
  when the subscriber gave a secret, ``X-Hub-Signature: sha256=<HMAC of the body>``. Retried
  with backoff; a newer change of the same topic replaces a delivery not yet made (the newest
  content is what a subscriber wants, and one change is never sent twice). ``410 Gone`` from a
  callback ends its subscription.
* **leases**: a subscription ends when its lease runs out (subscribers renew by subscribing
  again, which is verified again).

Verifications and deliveries go out on lanes (:mod:`.lanes`), never in the sender thread: a
topic with 1,000 subscribers must not wait for 1,000 round trips one after the other, and one
slow or hostile callback must not delay any other subscriber, nor the publish pings. Each pass
offers the due rows (at most :data:`PER_HOST_PASS` deliveries per callback network,
:data:`DELIVERY_BATCH` in all) to the lanes, which take what their limits allow
(:data:`DELIVERY_WORKERS` / :data:`VERIFY_WORKERS` in flight, :data:`PER_HOST` per callback
network) and run them without the pass waiting; rows in flight are skipped by later passes. Every
request has the deadline and the answer bound of :mod:`.net`.

Delivery is at least once: a crash after a subscriber answered 2xx but before the row is
deleted sends that change again after the restart (the same bytes, the same signature).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from feedsmith.core.config import Config
from feedsmith.core.discovery import link_header
from feedsmith.core.layout import content_type_for
from feedsmith.publish.changes import ChangeSet
from feedsmith.publish.websub import net
from feedsmith.publish.websub.guard import network_key
from feedsmith.publish.websub.job import Job
from feedsmith.publish.websub.lanes import Lanes
from feedsmith.publish.websub.retry import MAX_ATTEMPTS, backoff
from feedsmith.publish.websub.store import WebSubStore

__all__ = ["HubJobs", "signature", "with_query"]

log = logging.getLogger("feedsmith.websub")

#: Network errors while verifying are retried this often; a refusal is final at once.
VERIFY_ATTEMPTS = 4
BATCH = 200
#: Verifications in flight at once, over all callback networks.
VERIFY_WORKERS = 8
#: Deliveries in flight at once, over all callback networks.
DELIVERY_WORKERS = 16
#: Requests in flight at once to one callback network (:func:`.guard.network_key`).
PER_HOST = 4
#: Due deliveries one pass reads (and the lanes accept) per callback network and in all: one
#: network's backlog must not fill the batch of the others.
PER_HOST_PASS = PER_HOST * 5
DELIVERY_BATCH = 200


def signature(secret: bytes, body: bytes) -> str:
    """``X-Hub-Signature`` (§8): sha256, the strongest method every subscriber must accept."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def with_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended to any query it already has (§5.3: the callback's own
    query must be kept)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class HubJobs:
    """Queues deliveries and denials on each build; verifies, denies, delivers, expires."""

    def __init__(
        self, config: Config, store: WebSubStore, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._local = threading.local()  # a session per thread: requests.Session is not shared
        self.verify_lanes = Lanes(
            "feedsmith-websub-verify",
            VERIFY_WORKERS,
            PER_HOST,
            self._release_thread,
            backlog=BATCH,
            network_backlog=PER_HOST_PASS,
        )
        self.deliver_lanes = Lanes(
            "feedsmith-websub-deliver",
            DELIVERY_WORKERS,
            PER_HOST,
            self._release_thread,
            backlog=DELIVERY_BATCH,
            network_backlog=PER_HOST_PASS,
        )

    def jobs(self) -> list[Job]:
        return [_VerifyJob(self, self.verify_lanes), _DeliverJob(self, self.deliver_lanes)]

    def on_done(self, poke: Callable[[], None]) -> None:
        """Call ``poke`` whenever a lane finishes a row (the sender then looks again)."""
        self.verify_lanes.on_done = self.deliver_lanes.on_done = poke

    @property
    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            # Guarded unless private callbacks are allowed: see net.py (SSRF, rebinding).
            session = net.session(guarded=not self.config.websub.allow_private_callbacks)
            self._local.session = session
        return session

    def _release_thread(self) -> None:
        """A pool thread ends: close its session and its SQLite connection."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None
        self.store.close()

    # -- on each build (inside the sink's transaction) ----------------------------------------

    def enqueue(
        self,
        conn: sqlite3.Connection,
        changes: ChangeSet,
        changed: Sequence[tuple[str, str]],
        vanished: Sequence[tuple[str, str]],
        now: float,
    ) -> None:
        for rel, url in changed:
            subs = self.store.active_subscribers(conn, url, now)
            if not subs:
                continue
            sha = changes.files[rel].sha256
            self.store.store_body(conn, sha, changes.read(rel), content_type_for(rel))
            for sub in subs:
                self.store.queue_delivery(conn, sub, url, sha, now)
            log.info("websub distribution queued topic=%s subscribers=%d", url, len(subs))
        for _rel, url in vanished:
            for sub_id, callback in self.store.subscribers(conn, url):
                self.store.queue_denial(conn, callback, url, "the topic no longer exists", now)
                self.store.end_subscription(conn, sub_id)
                log.info(
                    "websub subscription ended (topic gone) callback=%s topic=%s", callback, url
                )
        self.store.collect_bodies(conn)

    # -- verification and denial ---------------------------------------------------------------

    def verify(self, row: sqlite3.Row) -> None:
        mode, callback, topic = row["mode"], row["callback"], row["topic"]
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic}
        if mode == "denied":
            params["hub.reason"] = row["reason"] or "denied"
        else:
            params["hub.challenge"] = challenge
            if mode == "subscribe":
                params["hub.lease_seconds"] = str(row["lease_seconds"])
        outcome: str | None = None  # None: success
        retry = False
        try:
            resp = net.call(self.session, "GET", with_query(callback, params))
            if mode != "denied":
                if not 200 <= resp.status < 300:
                    outcome = f"HTTP {resp.status}"
                elif resp.body.decode("utf-8", "replace").strip() != challenge:
                    outcome = "challenge not echoed"
        except requests.RequestException as exc:
            outcome = net.failure(exc)
            retry = outcome != net.BLOCKED  # an address we refuse stays refused
        now = self.clock()
        with self.store.transaction() as conn:
            attempts = int(row["attempts"]) + 1
            if outcome is not None and retry and attempts < VERIFY_ATTEMPTS:
                self.store.retry_request(conn, row["id"], attempts, now + backoff(attempts))
                log.warning(
                    "websub %s verification will retry callback=%s topic=%s: %s",
                    mode,
                    callback,
                    topic,
                    outcome,
                )
                return
            self.store.drop(conn, "requests", row["id"])
            if mode == "denied":
                self.store.count(conn, "denials")
                log.info("websub denial sent callback=%s topic=%s", callback, topic)
                return
            if outcome is not None:
                self.store.count(conn, "verify_failed")
                log.warning(
                    "websub %s not verified callback=%s topic=%s: %s",
                    mode,
                    callback,
                    topic,
                    outcome,
                )
                return
            self.store.count(conn, "verified")
            if mode == "subscribe":
                lease = int(row["lease_seconds"])
                self.store.subscribe(
                    conn, callback, topic, _network(callback), row["secret"], lease, now + lease
                )
            else:
                for sub_id in self.store.subscription_ids(conn, callback, topic):
                    self.store.end_subscription(conn, sub_id)
            log.info("websub %s verified callback=%s topic=%s", mode, callback, topic)

    def expire(self, now: float) -> int:
        if not self.store.any_expired(now):  # the common case, and no write lock taken for it
            return 0
        with self.store.transaction() as conn:
            rows = self.store.expired(conn, now)
            for row in rows:
                self.store.end_subscription(conn, row["id"])
                self.store.count(conn, "expired")
                log.info("websub lease expired callback=%s topic=%s", row["callback"], row["topic"])
        return len(rows)

    # -- content distribution ------------------------------------------------------------------

    def deliver(self, row: sqlite3.Row, body: bytes, content_type: str) -> None:
        if not self.store.delivery_pending(
            row["id"]
        ):  # replaced by a newer change (or unsubscribed) since the batch read
            return
        callback, topic = row["callback"], row["topic"]
        headers = {
            "Content-Type": content_type,
            "Link": link_header(self.config.hub_urls, topic),
        }
        if row["secret"] is not None:
            headers["X-Hub-Signature"] = signature(bytes(row["secret"]), body)
        t0 = time.monotonic()
        error: str | None = None
        gone = False
        try:
            resp = net.call(self.session, "POST", callback, data=body, headers=headers)
            gone = resp.status == 410
            if not 200 <= resp.status < 300:
                error = f"HTTP {resp.status}"
        except requests.RequestException as exc:
            error = net.failure(exc)
        ms = (time.monotonic() - t0) * 1000
        with self.store.transaction() as conn:
            if error is None or gone:
                self.store.drop(conn, "deliveries", row["id"])
            if error is None:
                self.store.count(conn, "delivered")
                log.info("websub delivered callback=%s topic=%s %.0fms", callback, topic, ms)
                return
            if gone:
                self.store.end_subscription(conn, row["sub_id"])
                log.info(
                    "websub subscription ended (410 Gone) callback=%s topic=%s", callback, topic
                )
                return
            attempts = int(row["attempts"]) + 1
            self.store.count(conn, "delivery_failures")
            if attempts >= MAX_ATTEMPTS:
                self.store.drop(conn, "deliveries", row["id"])
                self.store.count(conn, "deliveries_dropped")
                log.error(
                    "websub delivery dropped after %d attempts callback=%s topic=%s: %s",
                    attempts,
                    callback,
                    topic,
                    error,
                )
                return
            wait = backoff(attempts)
            self.store.retry(conn, "deliveries", row["id"], attempts, self.clock() + wait, error)
            log.warning(
                "websub delivery failed callback=%s topic=%s attempt=%d retry_in=%.0fs: %s",
                callback,
                topic,
                attempts,
                wait,
                error,
            )


class _LaneJob:
    """A hub job whose rows go to lanes: verifications or deliveries (one queue table each)."""

    table = ""

    def __init__(self, hub: HubJobs, lanes: Lanes) -> None:
        self.hub = hub
        self.lanes = lanes

    def on_start(self, conn: sqlite3.Connection, now: float) -> None:
        self.hub.store.rewind(conn, self.table, now)

    def busy(self) -> bool:
        return self.lanes.busy()

    def next_due(self, conn: sqlite3.Connection) -> float | None:
        # Lanes full: they poke the sender when they want more, no need to look before.
        in_flight = self.lanes.in_flight() if self.lanes.wants_more() else None
        return self._next_due(conn, in_flight)

    def _next_due(self, conn: sqlite3.Connection, in_flight: list[int] | None) -> float | None:
        raise NotImplementedError


class _VerifyJob(_LaneJob):
    table = "requests"

    def _next_due(self, conn: sqlite3.Connection, in_flight: list[int] | None) -> float | None:
        return self.hub.store.next_verify_due(conn, in_flight)  # expiries due all the same

    def run(self, now: float) -> int:
        done = self.hub.expire(now)
        if not self.lanes.wants_more():
            return done
        rows = self.hub.store.due_requests(now, self.lanes.in_flight(), BATCH)
        seen: set[tuple[str, str]] = set()
        for row in rows:
            key = (row["callback"], row["topic"])
            if key in seen:  # an earlier request for the pair goes first
                continue
            seen.add(key)
            if self.lanes.offer(
                row["id"], _network(row["callback"]), _bind(self.hub.verify, row), key
            ):
                done += 1
        return done


class _DeliverJob(_LaneJob):
    table = "deliveries"

    def _next_due(self, conn: sqlite3.Connection, in_flight: list[int] | None) -> float | None:
        if in_flight is None:
            return None
        return self.hub.store.next_delivery_due(conn, in_flight)

    def run(self, now: float) -> int:
        if not self.lanes.wants_more():
            return 0
        store = self.hub.store
        in_flight = self.lanes.in_flight()
        # A delivery whose subscription ended (unsubscribed, expired) is simply dropped; when
        # nothing is in flight only (the join below never picks such rows): no write lock on
        # every pass while the lanes write theirs.
        if not in_flight:
            store.drop_orphan_deliveries()
        rows = store.due_deliveries(now, in_flight, PER_HOST_PASS, DELIVERY_BATCH)
        if not rows:
            return 0
        # Each body once (one change of a topic is the same bytes for all its subscribers).
        bodies = store.bodies(sorted({row["sha256"] for row in rows}))
        sent = 0
        for row in rows:
            if row["sha256"] not in bodies:
                continue
            body, content_type = bodies[row["sha256"]]
            task = _bind(self.hub.deliver, row, body, content_type)
            if self.lanes.offer(row["id"], _network(row["callback"]), task):
                sent += 1
        return sent


def _bind(fn: Callable[..., None], *args: object) -> Callable[[], None]:
    return lambda: fn(*args)


def _network(url: str) -> str:
    return network_key((urlsplit(url).hostname or "").lower())
