"""The built-in hub's endpoint, ``POST /websub`` (WebSub §5.1), as a Flask blueprint.

Web workers only check and record: a valid request is stored in ``requests`` and answered
``202 Accepted`` (verification of intent is asynchronous, §5.3, done by the builder process:
:mod:`.deliver`). Anything else gets a 4xx with one line saying what is wrong, as §5.1.2 asks,
so a subscriber's developer can fix the request without reading our logs:

* 400: a missing or malformed parameter (``hub.mode``, ``hub.lease_seconds``, a
  ``hub.secret`` of 200 bytes or more, a callback that is not an absolute http(s) URL), or a
  ``hub.topic`` that is not one of this site's subscription documents (archive pages are not
  topics, nor are other sites' URLs: this hub only distributes what feedsmith publishes);
* 400 also: a callback host that is not a valid domain name (IDNA 2008 / UTS 46, RFC 1035
  lengths) or contains spaces, control characters or ``%`` — decided without DNS;
* 403: a callback whose host is an IP literal that does not reach a public address (SSRF,
  :mod:`.guard`), unless ``websub.allow_private_callbacks``. Host *names* are not resolved
  here (no DNS in a web worker: a slow resolver would hold the request); the builder resolves
  them, time-bounded, and refuses private ones at verification (:mod:`.net`);
* 409: a subscribe for a (callback, topic) whose earlier subscribe, with another secret, is
  still pending verification (see the pending rule below);
* 429 / 503: the per-callback-network or total subscription limit is reached. The network
  (:func:`.guard.network_key`) is an IPv4 /24, an IPv6 /48 or a name's registrable domain, so
  a thousand addresses of one /24 or names under one domain are one "host".

The pending rule (the W3C text lets the hub decide; we choose what cannot be hijacked): each
request is verified on its own, with its own challenge, and only a verified request changes a
subscription. So an unverified request never replaces or cancels a pending one of the other
mode: a subscribe and an unsubscribe of the same (callback, topic) both stay pending and are
verified in the order received, each asking the callback about itself. A repeated subscribe
with the same secret (or none, both times) replaces the pending one (the latest lease asked
counts; a retrying client does not multiply our GETs); one with a different secret is refused
``409`` until the pending one is decided, so nobody can slip their secret into someone else's
verification. A repeated unsubscribe replaces the pending unsubscribe (it carries nothing).

The topic list comes from the manifest the worker already serves feeds from, so a feed
published a moment ago can be subscribed to at once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, Flask, Response, request

from feedsmith.core.config import Config
from feedsmith.core.layout import feed_url
from feedsmith.publish.websub.guard import network_key
from feedsmith.publish.websub.net import check_callback
from feedsmith.publish.websub.store import WebSubStore
from feedsmith.serve.metrics import Metrics
from feedsmith.serve.websub_health import WebSubCollector

__all__ = ["install"]

log = logging.getLogger("feedsmith.websub")

PATH = "/websub"
MAX_SECRET_BYTES = 200  # hub.secret MUST be less than this (§5.1)
MAX_CALLBACK_CHARS = 2048  # every row and every GET carries it
CT_TEXT = "text/plain; charset=utf-8"
#: RFC 3986 reserved and unreserved characters, and ``%``: left as they are when an IRI topic
#: is percent-encoded, so an already encoded URL stays the same.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def install(app: Flask, config: Config, metrics: Metrics) -> None:
    """Register WebSub's metrics and, with ``websub.builtin``, the hub's endpoint."""
    metrics.register(WebSubCollector(config.state_dir))
    if config.websub.builtin:
        app.register_blueprint(_blueprint(config, app.extensions["feedsmith"]["store"]))


def _text(code: int, line: str, **headers: str) -> Response:
    response = Response(line + "\n", status=code, content_type=CT_TEXT)
    response.headers["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


class _Topics:
    """The topic URLs of the current manifest, recomputed when the manifest changes."""

    def __init__(self, config: Config, feeds_store: Any) -> None:
        self.config = config
        self.feeds_store = feeds_store
        self._cached: tuple[object, frozenset[str]] = (None, frozenset())

    def current(self) -> frozenset[str]:
        manifest = self.feeds_store.manifest()
        if manifest is None:
            return frozenset()
        key, urls = self._cached
        if key != manifest.key:
            urls = frozenset(
                feed_url(self.config, rel)
                for feed in manifest.feeds
                if isinstance(feed.get("files"), dict)
                for rel in feed["files"]
            )
            self._cached = (manifest.key, urls)
        return urls


def _blueprint(config: Config, feeds_store: Any) -> Blueprint:
    bp = Blueprint("websub", __name__)
    store = WebSubStore(config.state_dir)
    topics = _Topics(config, feeds_store)
    ws = config.websub

    @bp.post(PATH)
    def subscribe() -> Response:
        form = request.form
        for name in ("hub.callback", "hub.mode", "hub.topic"):
            if not form.get(name):
                return _text(400, f"missing {name}")
        mode, callback, topic = form["hub.mode"], form["hub.callback"], form["hub.topic"]
        if mode not in ("subscribe", "unsubscribe"):
            return _text(400, "hub.mode must be subscribe or unsubscribe")
        known = topics.current()
        if topic not in known:
            # The same URL written as an IRI (最新ニュース unencoded): ours is percent-encoded.
            topic = quote(topic, safe=_URL_SAFE)
            if topic not in known:
                return _text(400, "hub.topic is not a feed published by this hub")
        lease = ws.lease_seconds.default
        if form.get("hub.lease_seconds"):
            try:
                asked = int(form["hub.lease_seconds"])
            except ValueError:
                return _text(400, "hub.lease_seconds must be a whole number of seconds")
            if asked <= 0:
                return _text(400, "hub.lease_seconds must be positive")
            lease = min(max(asked, ws.lease_seconds.min), ws.lease_seconds.max)
        secret_text = form.get("hub.secret")
        secret = secret_text.encode("utf-8") if secret_text else None
        if secret is not None and len(secret) >= MAX_SECRET_BYTES:
            return _text(400, f"hub.secret must be less than {MAX_SECRET_BYTES} bytes")
        if len(callback) > MAX_CALLBACK_CHARS:
            return _text(400, f"hub.callback must be at most {MAX_CALLBACK_CHARS} characters")
        problem = check_callback(callback, allow_private=ws.allow_private_callbacks)
        if problem is not None:
            code = 403 if "resolves to" in problem else 400
            return _text(code, problem)
        host = network_key((urlsplit(callback).hostname or "").lower())
        try:
            with store.transaction() as conn:
                if mode == "subscribe":
                    refused = _over_limit(conn, config, callback, topic, host)
                    if refused is None:
                        refused = _pending_conflict(conn, callback, topic, secret)
                    if refused is not None:
                        return refused
                now = time.time()
                # A repeat of the same request replaces the pending one (the module's pending
                # rule); a request of the other mode is verified on its own.
                store.replace_request(
                    conn,
                    mode,
                    callback,
                    topic,
                    host,
                    lease if mode == "subscribe" else None,
                    secret,
                    now,
                )
        except sqlite3.Error as exc:
            log.error("websub cannot record a %s request: %s", mode, exc)
            return _text(503, "the hub cannot take requests right now", Retry_After="30")
        log.info("websub %s accepted callback=%s topic=%s lease=%d", mode, callback, topic, lease)
        return _text(202, "accepted: verification of intent follows")

    return bp


def _pending_conflict(
    conn: sqlite3.Connection, callback: str, topic: str, secret: bytes | None
) -> Response | None:
    """A pending subscribe for the pair with another secret: refused, never replaced."""
    for pending in WebSubStore.pending_secrets(conn, callback, topic):
        if (bytes(pending) if pending is not None else None) != secret:
            return _text(
                409, "a subscription request for this callback and topic is pending verification"
            )
    return None


def _over_limit(
    conn: sqlite3.Connection, config: Config, callback: str, topic: str, host: str
) -> Response | None:
    """A renewal is never refused; a new subscription must fit the network's and the total
    limit (pending requests count too, or a burst could overshoot before verification; a
    pending request for the same pair does not, as a repeat replaces it)."""
    if WebSubStore.is_subscribed(conn, callback, topic):
        return None
    total = WebSubStore.count_subscribing(conn, callback, topic)
    if total >= config.websub.max_subscriptions:
        return _text(503, "this hub has reached its subscription limit", Retry_After="3600")
    on_host = WebSubStore.count_subscribing(conn, callback, topic, host)
    if on_host >= config.websub.max_per_host:
        return _text(429, "too many subscriptions for this callback network")
    return None
