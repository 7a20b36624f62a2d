"""Answering ``/feeds/…`` (the hot path) and the per-request bookkeeping around every request.

Pollers hit ``/feeds/`` every few minutes, mostly for a 304, so it is answered by a small WSGI
layer in front of Flask instead of a Flask view: no routing, no ``Response`` object, prebuilt
header values, one ``stat`` of the manifest and one of the file (see :mod:`feedsmith.serve.stores`).
The same layer (:class:`Edge`) writes the one access-log line per request, counts the request
for Prometheus and adds ``X-Content-Type-Options: nosniff`` to every response.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import quote

from werkzeug.http import parse_date

from feedsmith.core.layout import ARCHIVE_CACHE_CONTROL, CT_HTML, CT_TEXT, FEEDS_PREFIX
from feedsmith.core.text import escape_controls
from feedsmith.serve.aliases import FeedAliases
from feedsmith.serve.metrics import Metrics
from feedsmith.serve.negotiate import accepts_gzip, etag_matches
from feedsmith.serve.stores import Body, Listed, Store, StoreUnavailable

access_log = logging.getLogger("feedsmith.access")
log = logging.getLogger("feedsmith.web")

Clock = Callable[[], datetime]


class Recorder(Protocol):
    """Where feed answers are counted (:mod:`feedsmith.serve.subscribers.recorder`)."""

    def record(self, environ: dict[str, Any], rel: str, alias: Any) -> None: ...


StartResponse = Callable[..., Any]
Environ = dict[str, Any]
Headers = list[tuple[str, str]]

#: How soon to retry while nothing has been built yet: builds take seconds, not minutes.
RETRY_AFTER_MAX = 30

#: Feed pages (:mod:`feedsmith.core.pages`) are static files: their style and script are files of
#: the same tree, so nothing inline is allowed; images may come from anywhere a post links to.
FEED_PAGE_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOSNIFF = ("X-Content-Type-Options", "nosniff")
ALLOW = "GET, HEAD"

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


class FeedResponder:
    """Answers ``/feeds/<path>`` straight from the WSGI environ.

    Returns ``(status, headers, body)``; the caller drops the body for HEAD.
    """

    def __init__(self, store: Store, max_age: int, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache_control = f"public, max-age={max_age}"
        self.retry_after = str(max(1, min(max_age, RETRY_AFTER_MAX)))

    def respond(
        self, raw_rel: str, environ: Environ, alias: tuple[str, str] | None = None
    ) -> tuple[int, Headers, bytes]:
        """``raw_rel`` is the path under ``/feeds/`` as PATH_INFO has it; with ``alias`` (a
        jekyll-feed URL, :mod:`~feedsmith.serve.aliases`) the file is that feed's Atom document
        instead, answered exactly as at its own URL, and a missing one is 404, never 410."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method != "GET" and method != "HEAD":
            if method == "OPTIONS":
                return _PREFLIGHT
            return _plain(405, "method not allowed\n", [("Allow", ALLOW_ALL)])
        manifest = self.store.manifest()
        if manifest is None:
            return _plain(
                503,
                "no feeds yet: the first build has not finished\n",
                [("Retry-After", self.retry_after), ("Cache-Control", "no-store")],
            )
        if alias is not None:
            target = FeedAliases.target(alias, manifest.feeds)
            listed = manifest.files.get(target) if target is not None else None
            if listed is None:
                return self._not_found()
            rel = listed.rel
        else:
            rel = _decoded(raw_rel) or ""
            listed = manifest.files.get(rel) if rel else None
        if listed is None:
            if rel in manifest.gone:
                return _plain(
                    410,
                    "gone: this feed no longer exists\n",
                    [
                        ("Cache-Control", self.cache_control),
                        ("Access-Control-Allow-Origin", "*"),
                    ],
                )
            return self._not_found()
        try:
            body = self.store.body(listed)
        except StoreUnavailable as exc:
            log.warning("cannot serve %s now: %s", rel, exc)
            return _plain(
                503,
                "temporarily unavailable\n",
                [("Retry-After", self.retry_after), ("Cache-Control", "no-store")],
            )
        if body is None:
            return self._not_found()
        if accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING")):
            etag, payload, length = body.gzip_etag, body.gzip, body.gzip_length
        else:
            etag, payload, length = body.etag, body.identity, body.identity_length
        # A settled archive page is cached for a month (core/layout.py says why); a 304 says so
        # too, so a cache that revalidated keeps it that long.
        cache_control = ARCHIVE_CACHE_CONTROL if listed.immutable else self.cache_control
        headers: Headers = [
            ("ETag", etag),
            ("Cache-Control", cache_control),
            ("Vary", "Accept-Encoding"),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "ETag, Last-Modified"),
        ]
        if listed.last_modified is not None:
            headers.append(("Last-Modified", listed.last_modified))
        if listed.link is not None:
            headers.append(("Link", listed.link))
        if self._not_modified(environ, body, listed):
            return 304, headers, b""
        headers.append(("Content-Type", listed.content_type))
        headers.append(("Content-Length", length))
        if listed.content_type == CT_HTML:
            headers.append(("Content-Security-Policy", FEED_PAGE_CSP))
        if payload is body.gzip:
            headers.append(("Content-Encoding", "gzip"))
        return 200, headers, payload

    def _not_modified(self, environ: Environ, body: Body, listed: Listed) -> bool:
        """RFC 9110 §13.2.2: If-None-Match decides when present; only then If-Modified-Since,
        which §13.1.3 says to ignore when it is later than the server's clock (a client's
        broken clock, or a cache poisoned with year 9999, would otherwise get 304 for ever)."""
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is not None:
            return etag_matches(inm, body.etags)
        ims = environ.get("HTTP_IF_MODIFIED_SINCE")
        if ims is None or listed.modified_at is None:
            return False
        if ims == listed.last_modified:
            return True
        since = parse_date(ims)
        if since is None or since > self.clock():
            return False
        return int(since.timestamp()) >= listed.modified_at

    def _not_found(self) -> tuple[int, Headers, bytes]:
        return _plain(404, "not found\n", [("Cache-Control", self.cache_control)])


#: The answer to ``OPTIONS`` on any ``/feeds/`` path: a CORS preflight, so a feed reader running
#: in a browser may send its conditional GETs (the feeds already allow any origin). Answered the
#: same whether the feed exists or not: a preflight asks what is allowed, and the GET that
#: follows gets the real 200/304/404/410.
_PREFLIGHT: tuple[int, Headers, bytes] = (
    204,
    [
        ("Allow", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", ALLOW),
        ("Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since"),
        ("Access-Control-Max-Age", "86400"),
        ("Content-Length", "0"),
    ],
    b"",
)
ALLOW_ALL = "GET, HEAD, OPTIONS"


def _decoded(raw: str) -> str | None:
    """PATH_INFO carries the raw bytes as latin-1 (PEP 3333); the names on disk are UTF-8."""
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _plain(code: int, text: str, extra: Headers) -> tuple[int, Headers, bytes]:
    data = text.encode()
    return code, [("Content-Type", CT_TEXT), ("Content-Length", str(len(data))), *extra], data


# -- the WSGI edge: feeds, access log, metrics, nosniff ---------------------------------------


class Edge:
    """Wraps the Flask app: answers ``/feeds/`` itself and does the per-request bookkeeping for
    every request (one access-log line, the Prometheus counter, ``nosniff``)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        feeds: FeedResponder,
        metrics: Metrics,
        aliases: FeedAliases | None = None,
        counted: Recorder | None = None,
    ):
        self.app = app
        self.feeds = feeds
        self.metrics = metrics
        self.aliases = aliases or FeedAliases({})
        #: Subscriber counting (:mod:`feedsmith.serve.subscribers`): ``record(environ, rel,
        #: alias)`` for every 200/304 feed answer; ``None`` with ``stats.enabled: false``.
        self.counted = counted

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        alias = self.aliases.wanted(_decoded(path) or "") if self.aliases else None
        if alias is not None or path.startswith(FEEDS_PREFIX):
            try:
                rel = path[len(FEEDS_PREFIX) :] if alias is None else ""
                code, headers, body = self.feeds.respond(rel, environ, alias)
            except Exception:
                # A bug or an I/O surprise: answer (and log, and count) like Flask would.
                log.exception("error serving %s", _log_path(environ))
                code, headers, body = _plain(500, "internal server error\n", [])
            headers.append(NOSNIFF)
            if self.counted is not None and (code == 200 or code == 304):
                self.counted.record(environ, rel, alias)
            start_response(_STATUS_LINES.get(code, str(code)), headers)
            result: Iterable[bytes] = [body] if body and method != "HEAD" else []
            sent = len(body) if method != "HEAD" else 0
        else:
            seen: list[Any] = []

            def capture(status: str, headers: Headers, exc_info: Any = None) -> Any:
                headers.append(NOSNIFF)
                seen[:] = [status, headers]
                return start_response(status, headers, exc_info)

            result = self.app(environ, capture)
            code = int(seen[0][:3]) if seen else 500
            sent = 0
            if seen and method != "HEAD":
                for name, value in seen[1]:
                    if name.lower() == "content-length":
                        sent = int(value)
                        break
        self.metrics.count_request(method, code)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %d %d %.2fms %s",
                _log_safe(method),
                _log_path(environ),
                code,
                sent,
                (time.perf_counter() - t0) * 1000.0,
                _log_json(environ.get("HTTP_USER_AGENT", "-")),
            )
        return result


def _log_path(environ: Environ) -> str:
    """The request target, percent-encoded so one request is always exactly one log line."""
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        raw_bytes = raw.encode("latin-1")
    except UnicodeError:
        raw_bytes = raw.encode("utf-8", "replace")
    path = quote(raw_bytes, safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING")
    if query:
        path += "?" + quote(query.encode("latin-1", "replace"), safe="/:@!$&'()*+,;=-._~?%")
    return path


def _log_safe(text: str) -> str:
    """A client-chosen word (the method) on the access-log line, escaped the one way every
    report and log line is (:func:`~feedsmith.core.text.escape_controls`); a space would split the
    line's fields, so it is escaped too."""
    return escape_controls(text).replace(" ", "\\x20")


# What json.dumps(ensure_ascii=False) leaves raw but a terminal acts on: DEL and the C1 controls
# (a header's bytes arrive as latin-1, so 0x9b is a one-byte CSI), line separators, bidi controls.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _log_json(text: str) -> str:
    """A client-chosen string (the User-Agent) as the access log's JSON field: still
    ``json.loads``-able, readable for non-ASCII text, never a raw control character."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
