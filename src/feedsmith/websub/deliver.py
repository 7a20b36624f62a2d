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

Delivery is at least once: a crash after a subscriber answered 2xx but before the row is
deleted sends that change again after the restart (the same bytes, the same signature).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from feedsmith.changes import ChangeSet
from feedsmith.config import Config
from feedsmith.websub import net
from feedsmith.websub.discovery import link_header
from feedsmith.websub.store import MAX_ATTEMPTS, WebSubStore, backoff

if TYPE_CHECKING:
    from feedsmith.websub.notify import Job

__all__ = ["HubJobs", "signature", "with_query"]

log = logging.getLogger("feedsmith.websub")

#: Network errors while verifying are retried this often; a refusal is final at once.
VERIFY_ATTEMPTS = 4
BATCH = 20


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
        self._session: requests.Session | None = None

    def jobs(self) -> list[Job]:
        return [_VerifyJob(self), _DeliverJob(self)]

    @property
    def session(self) -> requests.Session:
        # Guarded unless private callbacks are allowed: see net.py (SSRF, rebinding).
        if self._session is None:
            self._session = net.session(guarded=not self.config.websub.allow_private_callbacks)
        return self._session

    # -- on each build (inside the sink's transaction) ----------------------------------------

    def enqueue(
        self,
        conn: sqlite3.Connection,
        changes: ChangeSet,
        changed: Sequence[tuple[str, str]],
        vanished: Sequence[tuple[str, str]],
        now: float,
    ) -> None:
        from feedsmith.web import content_type_for

        for rel, url in changed:
            subs = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM subscriptions WHERE topic = ? AND expires > ?", (url, now)
                )
            ]
            if not subs:
                continue
            sha = changes.files[rel].sha256
            conn.execute(
                "INSERT INTO bodies (sha256, body, content_type) VALUES (?, ?, ?)"
                " ON CONFLICT (sha256) DO NOTHING",
                (sha, changes.read(rel), content_type_for(rel)),
            )
            for sub in subs:
                conn.execute(
                    "DELETE FROM deliveries WHERE sub_id = ? AND topic = ? AND sha256 != ?",
                    (sub, url, sha),
                )
                conn.execute(
                    "INSERT INTO deliveries (sub_id, topic, sha256, next_attempt)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (sub_id, sha256) DO NOTHING",
                    (sub, url, sha, now),
                )
            log.info("websub distribution queued topic=%s subscribers=%d", url, len(subs))
        for _rel, url in vanished:
            for sub_id, callback in conn.execute(
                "SELECT id, callback FROM subscriptions WHERE topic = ?", (url,)
            ).fetchall():
                conn.execute(
                    "INSERT INTO requests (mode, callback, topic, reason, received, next_attempt)"
                    " VALUES ('denied', ?, ?, ?, ?, ?)",
                    (callback, url, "the topic no longer exists", now, now),
                )
                conn.execute("DELETE FROM deliveries WHERE sub_id = ?", (sub_id,))
                conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
                log.info(
                    "websub subscription ended (topic gone) callback=%s topic=%s", callback, url
                )
        _collect_bodies(conn)

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
            resp = self.session.get(
                with_query(callback, params), timeout=net.TIMEOUT, allow_redirects=False
            )
            if mode != "denied":
                if not 200 <= resp.status_code < 300:
                    outcome = f"HTTP {resp.status_code}"
                elif resp.text.strip() != challenge:
                    outcome = "challenge not echoed"
        except requests.RequestException as exc:
            outcome = net.failure(exc)
            retry = outcome != net.BLOCKED  # an address we refuse stays refused
        now = self.clock()
        with self.store.transaction() as conn:
            attempts = int(row["attempts"]) + 1
            if outcome is not None and retry and attempts < VERIFY_ATTEMPTS:
                conn.execute(
                    "UPDATE requests SET attempts = ?, next_attempt = ? WHERE id = ?",
                    (attempts, now + backoff(attempts), row["id"]),
                )
                log.warning(
                    "websub %s verification will retry callback=%s topic=%s: %s",
                    mode,
                    callback,
                    topic,
                    outcome,
                )
                return
            conn.execute("DELETE FROM requests WHERE id = ?", (row["id"],))
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
                conn.execute(
                    "INSERT INTO subscriptions (callback, topic, host, secret, lease_seconds,"
                    " expires) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (callback, topic) DO UPDATE"
                    " SET secret = excluded.secret, lease_seconds = excluded.lease_seconds,"
                    " expires = excluded.expires",
                    (callback, topic, _host(callback), row["secret"], lease, now + lease),
                )
            else:
                for (sub_id,) in conn.execute(
                    "SELECT id FROM subscriptions WHERE callback = ? AND topic = ?",
                    (callback, topic),
                ).fetchall():
                    conn.execute("DELETE FROM deliveries WHERE sub_id = ?", (sub_id,))
                    conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
            log.info("websub %s verified callback=%s topic=%s", mode, callback, topic)

    def expire(self, now: float) -> int:
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT id, callback, topic FROM subscriptions WHERE expires <= ?", (now,)
            ).fetchall()
            for row in rows:
                conn.execute("DELETE FROM deliveries WHERE sub_id = ?", (row["id"],))
                conn.execute("DELETE FROM subscriptions WHERE id = ?", (row["id"],))
                self.store.count(conn, "expired")
                log.info("websub lease expired callback=%s topic=%s", row["callback"], row["topic"])
        return len(rows)

    # -- content distribution ------------------------------------------------------------------

    def deliver(self, row: sqlite3.Row) -> None:
        still = (
            self.store.connect()
            .execute("SELECT 1 FROM deliveries WHERE id = ?", (row["id"],))
            .fetchone()
        )
        if still is None:  # replaced by a newer change (or unsubscribed) since the batch read
            return
        callback, topic, body = row["callback"], row["topic"], bytes(row["body"])
        headers = {
            "Content-Type": row["content_type"],
            "Link": link_header(self.config.hub_urls, topic),
        }
        if row["secret"] is not None:
            headers["X-Hub-Signature"] = signature(bytes(row["secret"]), body)
        t0 = time.monotonic()
        error: str | None = None
        gone = False
        try:
            resp = self.session.post(
                callback, data=body, headers=headers, timeout=net.TIMEOUT, allow_redirects=False
            )
            gone = resp.status_code == 410
            if not 200 <= resp.status_code < 300:
                error = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            error = net.failure(exc)
        ms = (time.monotonic() - t0) * 1000
        with self.store.transaction() as conn:
            if error is None or gone:
                conn.execute("DELETE FROM deliveries WHERE id = ?", (row["id"],))
            if error is None:
                self.store.count(conn, "delivered")
                log.info("websub delivered callback=%s topic=%s %.0fms", callback, topic, ms)
                return
            if gone:
                conn.execute("DELETE FROM deliveries WHERE sub_id = ?", (row["sub_id"],))
                conn.execute("DELETE FROM subscriptions WHERE id = ?", (row["sub_id"],))
                log.info(
                    "websub subscription ended (410 Gone) callback=%s topic=%s", callback, topic
                )
                return
            attempts = int(row["attempts"]) + 1
            self.store.count(conn, "delivery_failures")
            if attempts >= MAX_ATTEMPTS:
                conn.execute("DELETE FROM deliveries WHERE id = ?", (row["id"],))
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
            conn.execute(
                "UPDATE deliveries SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?",
                (attempts, self.clock() + wait, error, row["id"]),
            )
            log.warning(
                "websub delivery failed callback=%s topic=%s attempt=%d retry_in=%.0fs: %s",
                callback,
                topic,
                attempts,
                wait,
                error,
            )


class _VerifyJob:
    def __init__(self, hub: HubJobs) -> None:
        self.hub = hub

    def on_start(self, conn: sqlite3.Connection, now: float) -> None:
        conn.execute("UPDATE requests SET next_attempt = ? WHERE next_attempt > ?", (now, now))

    def next_due(self, conn: sqlite3.Connection) -> float | None:
        row = conn.execute(
            "SELECT MIN(next_attempt) FROM requests"
            " UNION ALL SELECT MIN(expires) FROM subscriptions"
        ).fetchall()
        dues = [float(r[0]) for r in row if r[0] is not None]
        return min(dues) if dues else None

    def run(self, now: float) -> int:
        done = self.hub.expire(now)
        rows = (
            self.hub.store.connect()
            .execute(
                "SELECT * FROM requests WHERE next_attempt <= ? ORDER BY next_attempt, id LIMIT ?",
                (now, BATCH),
            )
            .fetchall()
        )
        for row in rows:
            self.hub.verify(row)
        return done + len(rows)


class _DeliverJob:
    def __init__(self, hub: HubJobs) -> None:
        self.hub = hub

    def on_start(self, conn: sqlite3.Connection, now: float) -> None:
        conn.execute("UPDATE deliveries SET next_attempt = ? WHERE next_attempt > ?", (now, now))

    def next_due(self, conn: sqlite3.Connection) -> float | None:
        value = conn.execute("SELECT MIN(next_attempt) FROM deliveries").fetchone()[0]
        return None if value is None else float(value)

    def run(self, now: float) -> int:
        conn = self.hub.store.connect()
        # A delivery whose subscription ended (unsubscribed, expired) is simply dropped.
        with self.hub.store.transaction() as tx:
            tx.execute("DELETE FROM deliveries WHERE sub_id NOT IN (SELECT id FROM subscriptions)")
            _collect_bodies(tx)
        rows = conn.execute(
            "SELECT d.id, d.sub_id, d.topic, d.attempts, s.callback, s.secret, b.body,"
            " b.content_type FROM deliveries d JOIN subscriptions s ON s.id = d.sub_id"
            " JOIN bodies b ON b.sha256 = d.sha256 WHERE d.next_attempt <= ?"
            " ORDER BY d.next_attempt, d.id LIMIT ?",
            (now, BATCH),
        ).fetchall()
        for row in rows:
            self.hub.deliver(row)
        return len(rows)


def _collect_bodies(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM bodies WHERE sha256 NOT IN (SELECT sha256 FROM deliveries)")


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
