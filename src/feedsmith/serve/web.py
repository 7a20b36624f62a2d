"""The web workers: serve what the builder published, the way feed pollers expect.

Web workers are stateless. Everything comes from disk, written by the builder process:

* ``output_dir/index.json`` (the manifest) decides what exists. It is ``stat``-ed on every feed
  request and re-read only when its ``(mtime_ns, size, inode)`` changes, so a new build is picked
  up by the next request without restarting anything.
* Each feed file is read once per version: identity bytes, gzip bytes (the ``.gz`` sidecar the
  build wrote, verified against the identity bytes; compressed here once if missing or stale) and
  a strong ETag per representation, computed from the bytes actually served. The manifest's
  hashes are not trusted for ETags because the builder renames feed files a moment before it
  replaces the manifest; the manifest is used for the listing, ``gone`` and ``Last-Modified``.
* ``state_dir/status.json`` (see :mod:`feedsmith.serve.status`) for ``/``, ``/healthz``,
``/metrics``.

``/feeds/…`` is the hot path (pollers hit it every few minutes, mostly for a 304), so it is
answered by a small WSGI layer in front of Flask instead of a Flask view: no routing, no
``Response`` object, prebuilt header values, one ``stat`` of the manifest and one of the file.
Everything else (``/``, ``/healthz``, ``/metrics``, ``POST /-/rebuild``, ``/static``) is an
ordinary Flask view. The same layer writes the one access-log line per request, counts the
request for Prometheus and adds ``X-Content-Type-Options: nosniff`` to every response. Between
it and Flask, :class:`feedsmith.serve.bodies.BodyLimit` receives request bodies (capped, within a
deadline) so a slow client never holds a web thread; ``/feeds/`` never reads a body.

Path safety: only paths listed in the manifest (plus ``index.json`` and ``index.opml``) are ever
opened, and before opening, the real path (symlinks resolved) must lie inside ``output_dir``; the
final component is opened with ``O_NOFOLLOW``. No directory is ever listed.

``POST /-/rebuild`` answers 404 when ``$FEEDSMITH_REBUILD_TOKEN`` is unset or empty: a disabled
webhook looks like no webhook at all, instead of advertising an endpoint that cannot work.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import hmac
import json
import logging
import os
import re
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from flask import Flask, Response, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_date

from feedsmith.config import ENV_VAR, FROM_BUCKET_ENV_VAR, Config, load_config
from feedsmith.core.discovery import link_for
from feedsmith.core.formats import FORMATS
from feedsmith.core.layout import (
    CT_HTML,
    CT_JSON,
    CT_TEXT,
    FEEDS_PREFIX,
    MANIFEST,
    OPML,
    content_type_for,
)
from feedsmith.core.text import escape_controls
from feedsmith.publish.staging import gzip_bytes
from feedsmith.serve import public
from feedsmith.serve.bodies import BodyLimit
from feedsmith.serve.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from feedsmith.serve.metrics import Metrics
from feedsmith.serve.status import (
    BuildStatus,
    iso,
    parse_iso,
    parse_status,
    read_lease_status,
    status_path,
)

access_log = logging.getLogger("feedsmith.access")
log = logging.getLogger("feedsmith.web")

Clock = Callable[[], datetime]
StartResponse = Callable[..., Any]
Environ = dict[str, Any]
Headers = list[tuple[str, str]]

#: Must match ``schedule.REQUEST_FILE``: the builder watches for this file.
REBUILD_REQUEST_FILE = "rebuild.request"
TOKEN_ENV_VAR = "FEEDSMITH_REBUILD_TOKEN"
#: Per worker; the most polled feeds stay in memory, the long tail is re-read when needed.
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024
#: How soon to retry while nothing has been built yet: builds take seconds, not minutes.
RETRY_AFTER_MAX = 30

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
#: Feed pages (:mod:`feedsmith.core.pages`) are static files: their style and script are files of
#: the same tree, so nothing inline is allowed; images may come from anywhere a post links to.
FEED_PAGE_CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOSNIFF = ("X-Content-Type-Options", "nosniff")
ALLOW = "GET, HEAD"

KIND_TITLES = {"all": "Site", "category": "Categories", "tag": "Tags", "author": "Authors"}

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


# -- request header parsing -------------------------------------------------------------------


_gzip_answers: dict[str, bool] = {}


def accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3): an explicit ``gzip``/``x-gzip``
    wins over ``*``; ``q=0`` means "not acceptable". Answers are memoised per header value:
    real clients send a handful of distinct values."""
    if not header:
        return False
    answer = _gzip_answers.get(header)
    if answer is None:
        answer = _parse_accepts_gzip(header)
        if len(_gzip_answers) > 1024:  # bound it: the header is client-controlled
            _gzip_answers.clear()
        _gzip_answers[header] = answer
    return answer


def _parse_accepts_gzip(header: str) -> bool:
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def etag_matches(header: str, etags: Iterable[str]) -> bool:
    """``If-None-Match`` evaluation with the weak comparison RFC 9110 §13.1.2 requires.

    ``etags`` are the strong tags (with quotes) of every representation of the resource: a
    client that cached the gzip body and one that cached the identity body both revalidate.
    Tolerates clients that strip the quotes.
    """
    value = header.strip()
    if value == "*":
        return True
    wanted = set(etags)
    if value in wanted:
        return True
    for item in _split_etags(value):
        if item.startswith(("W/", "w/")):
            item = item[2:]
        if not item.startswith('"'):
            item = f'"{item}"'
        if item in wanted:
            return True
    return False


def _split_etags(value: str) -> list[str]:
    """Split a list of entity tags; commas inside quotes are part of a tag."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


# -- the manifest and the files ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
    """A servable path as the current manifest describes it."""

    rel: str
    fs_path: str
    content_type: str
    last_modified: str | None  # HTTP-date, from the manifest's ``changed``
    modified_at: int | None  # the same, in whole Unix seconds, for If-Modified-Since
    link: str | None = None  # WebSub discovery (hubs + topic) of a subscription document
    sha256: str | None = None  # as the manifest records it (the bucket store checks it)


@dataclass(frozen=True)
class Manifest:
    key: Hashable  # what identifies this version: (mtime, size, inode), or the bucket's ETag
    files: dict[str, Listed]
    gone: frozenset[str]
    feeds: list[dict[str, Any]]
    generated: datetime | None


@dataclass(frozen=True, slots=True)
class Body:
    """One version of one file, both representations, ready to send."""

    key: Hashable
    identity: bytes
    gzip: bytes
    etag: str
    gzip_etag: str
    identity_length: str
    gzip_length: str

    @property
    def etags(self) -> tuple[str, str]:
        return (self.etag, self.gzip_etag)

    @property
    def weight(self) -> int:
        return len(self.identity) + len(self.gzip)


def _stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def make_body(key: Hashable, data: bytes, compressed: bytes) -> Body:
    return Body(
        key=key,
        identity=data,
        gzip=compressed,
        etag=_etag(data),
        gzip_etag=_etag(compressed),
        identity_length=str(len(data)),
        gzip_length=str(len(compressed)),
    )


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'


class BodyCache:
    """File versions in memory, least recently used out beyond ``limit`` bytes (both stores
    keep one: the most polled feeds stay in memory, the long tail is read again)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, Body] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._bodies)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, name: str, version: Hashable) -> Body | None:
        """The cached body of ``name`` if it is still ``version``."""
        with self._lock:
            cached = self._bodies.get(name)
            if cached is None or cached.key != version:
                return None
            self._bodies.move_to_end(name)
            return cached

    def put(self, name: str, body: Body) -> None:
        with self._lock:
            old = self._bodies.pop(name, None)
            if old is not None:
                self._bytes -= old.weight
            if body.weight <= self.limit:
                self._bodies[name] = body
                self._bytes += body.weight
                while self._bytes > self.limit:
                    _, evicted = self._bodies.popitem(last=False)
                    self._bytes -= evicted.weight


class Store(Protocol):
    """Where the responder gets the published tree: a folder (:class:`FeedStore`) or a bucket
    (:class:`feedsmith.serve.bucket_store.BucketStore`, ``serve --from-bucket``)."""

    def manifest(self) -> Manifest | None: ...

    def body(self, listed: Listed) -> Body | None: ...


class FeedStore:
    """The published output as the web worker sees it: manifest + a byte-bounded file cache.

    Thread-safe (gunicorn's threaded workers share one store); a reload happens under a lock,
    readers work on an immutable snapshot.
    """

    def __init__(
        self,
        output_dir: Path,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        link_for: Callable[[str], str] | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.link_for = link_for
        self.manifest_path = str(self.output_dir / MANIFEST)
        self.cache_bytes = cache_bytes
        self._manifest: Manifest | None = None
        self._bad_key: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._bodies = BodyCache(cache_bytes)

    # manifest

    def manifest(self) -> Manifest | None:
        """The current manifest, re-read when the file changed; ``None`` before the first build.

        A manifest that cannot be parsed (it is replaced atomically, so this means someone
        edited it by hand) keeps the previous one in service and is not re-parsed per request.
        """
        try:
            st = os.stat(self.manifest_path)
        except OSError:
            return None
        key = _stat_key(st)
        current = self._manifest
        if current is not None and current.key == key:
            return current
        if key == self._bad_key:
            return current
        with self._lock:
            current = self._manifest
            if current is not None and current.key == key:
                return current
            try:
                loaded = self._load_manifest()
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log.error("cannot use %s, keeping the previous one: %s", self.manifest_path, exc)
                self._bad_key = key
                return current
            self._manifest = loaded
            return loaded

    def _load_manifest(self) -> Manifest:
        with open(self.manifest_path, "rb") as fh:
            key = _stat_key(os.fstat(fh.fileno()))
            data = fh.read()
        base = str(self.output_dir)
        return parse_manifest(data, key, lambda rel: os.path.join(base, rel), self.link_for)

    # files

    def body(self, listed: Listed) -> Body | None:
        """The file's current bytes, from the cache while its ``stat`` is unchanged; ``None``
        when it is missing or refused (outside ``output_dir``, not a regular file)."""
        try:
            key = _stat_key(os.stat(listed.fs_path))
        except (OSError, ValueError):  # ValueError: embedded NUL
            return None
        cached = self._bodies.get(listed.fs_path, key)
        if cached is not None:
            return cached
        loaded = self._load_body(listed)
        if loaded is not None:
            self._bodies.put(listed.fs_path, loaded)
        return loaded

    def _load_body(self, listed: Listed) -> Body | None:
        data, key = self._read_inside(listed.fs_path)
        if data is None or key is None:
            return None
        compressed = self._sidecar(listed.fs_path + ".gz", data)
        return make_body(key, data, compressed)

    def _sidecar(self, path: str, data: bytes) -> bytes:
        """The build's gzip sidecar if it really is this file compressed, else our own.

        The check costs one decompression per file version and guards against the moment when
        the new feed is renamed into place but its sidecar is not yet.
        """
        blob, _ = self._read_inside(path, quiet=True)
        if blob is not None:
            try:
                if gzip.decompress(blob) == data:
                    return blob
            except (OSError, EOFError, gzip.BadGzipFile):
                pass
        return gzip_bytes(data)  # the build's compressor: a bucket replica sends these bytes too

    def _read_inside(
        self, path: str, *, quiet: bool = False
    ) -> tuple[bytes | None, tuple[int, int, int] | None]:
        """Read a regular file whose real path is inside ``output_dir``, else ``(None, None)``."""
        root = os.path.realpath(self.output_dir)
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return None, None
        if os.path.commonpath([root, real]) != root or real == root:
            log.warning("refusing %s: it resolves outside %s", path, root)
            return None, None
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if not quiet and exc.errno != errno.ENOENT:
                log.warning("cannot open %s: %s", path, exc)
            return None, None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None, None
            return fh.read(), _stat_key(st)


def parse_manifest(
    raw: bytes,
    key: Hashable,
    locate: Callable[[str], str],
    link_for: Callable[[str], str] | None,
) -> Manifest:
    """``index.json`` as the responder needs it; ``locate`` says where a path's bytes live
    (a file under ``output_dir``, an object key in a bucket)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the manifest is not a JSON object")
    generated = _parse_time(data.get("generated"))
    feeds = [f for f in data.get("feeds") or [] if isinstance(f, dict)]
    changed: dict[str, datetime | None] = {}
    shas: dict[str, str] = {}
    # Per-feed file lists, plus top-level extras (e.g. index.opml) if the build lists any.
    sources = [f.get("files") for f in feeds]
    sources.extend(f["archive"].get("files") for f in feeds if isinstance(f.get("archive"), dict))
    sources.append(data.get("files"))
    for source in sources:
        if not isinstance(source, dict):
            continue
        for rel, info in source.items():
            if isinstance(rel, str) and rel:
                when = info.get("changed") if isinstance(info, dict) else None
                changed[rel] = _parse_time(when)
                sha = info.get("sha256") if isinstance(info, dict) else None
                if isinstance(sha, str):
                    shas[rel] = sha
    # The index files are always servable; without their own ``changed`` they were last
    # changed, at the latest, by the build that last changed anything.
    changed.setdefault(MANIFEST, generated)
    changed.setdefault(OPML, generated)
    topics: set[str] = set()  # subscription documents, not archive pages
    if link_for is not None:
        for feed in feeds:
            if isinstance(feed.get("files"), dict):
                topics.update(rel for rel in feed["files"] if isinstance(rel, str))
    files: dict[str, Listed] = {}
    for rel, when in changed.items():
        files[rel] = Listed(
            rel=rel,
            fs_path=locate(rel),
            content_type=content_type_for(rel),
            last_modified=http_date(when) if when else None,
            modified_at=int(when.timestamp()) if when else None,
            link=link_for(rel) if link_for is not None and rel in topics else None,
            sha256=shas.get(rel),
        )
    gone_raw = data.get("gone") or {}
    gone = frozenset(g for g in gone_raw if isinstance(g, str)) - files.keys()
    return Manifest(key=key, files=files, gone=gone, feeds=feeds, generated=generated)


class StoreUnavailable(Exception):
    """The store cannot say right now (a bucket that is down and a file not yet cached)."""


# -- the feed responder (hot path) ---------------------------------------------------------------


class FeedResponder:
    """Answers ``/feeds/<path>`` straight from the WSGI environ.

    Returns ``(status, headers, body)``; the caller drops the body for HEAD.
    """

    def __init__(self, store: Store, max_age: int, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))
        self.cache_control = f"public, max-age={max_age}"
        self.retry_after = str(max(1, min(max_age, RETRY_AFTER_MAX)))

    def respond(self, raw_rel: str, environ: Environ) -> tuple[int, Headers, bytes]:
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
        try:
            # PATH_INFO carries the raw bytes as latin-1 (PEP 3333); the names on disk are UTF-8.
            rel = raw_rel.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self._not_found()
        listed = manifest.files.get(rel)
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
        headers: Headers = [
            ("ETag", etag),
            ("Cache-Control", self.cache_control),
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


def _plain(code: int, text: str, extra: Headers) -> tuple[int, Headers, bytes]:
    data = text.encode()
    return code, [("Content-Type", CT_TEXT), ("Content-Length", str(len(data))), *extra], data


# -- the WSGI edge: feeds, access log, metrics, nosniff ---------------------------------------


class Edge:
    """Wraps the Flask app: answers ``/feeds/`` itself and does the per-request bookkeeping for
    every request (one access-log line, the Prometheus counter, ``nosniff``)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], feeds: FeedResponder, metrics: Metrics):
        self.app = app
        self.feeds = feeds
        self.metrics = metrics

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        t0 = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(FEEDS_PREFIX):
            try:
                code, headers, body = self.feeds.respond(path[len(FEEDS_PREFIX) :], environ)
            except Exception:
                # A bug or an I/O surprise: answer (and log, and count) like Flask would.
                log.exception("error serving %s", _log_path(environ))
                code, headers, body = _plain(500, "internal server error\n", [])
            headers.append(NOSNIFF)
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


# -- status.json, cached on its stat -----------------------------------------------------------


class StatusReader:
    """``status.json`` re-parsed only when it changed (``/`` and ``/healthz`` are polled too).

    The cached pair is replaced as one tuple so threads never see one file's key with another
    file's status.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = status_path(state_dir)
        self._cached: tuple[tuple[int, int, int] | None, BuildStatus | None] = (None, None)

    def read(self) -> tuple[tuple[int, int, int] | None, BuildStatus | None]:
        try:
            key = _stat_key(os.stat(self.path))
        except OSError:
            return None, None
        cached = self._cached
        if cached[0] == key:
            return cached
        try:
            data = self.path.read_bytes()
        except OSError:
            return None, None
        self._cached = (key, parse_status(data, self.path))
        return self._cached


# -- the app ----------------------------------------------------------------------------------


def create_app(
    config: Config,
    *,
    clock: Clock | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    metrics_dir: str | None = None,
    from_bucket: bool = False,
    bucket_client: Any = None,
) -> Flask:
    """The web worker's WSGI app. ``clock`` stamps rebuild requests and is "now" for
    ``If-Modified-Since`` (tests pass a fixed one);
    ``metrics_dir`` overrides ``$PROMETHEUS_MULTIPROC_DIR``; ``from_bucket``: a replica that
    serves ``publish.s3`` instead of ``output_dir`` (``serve --from-bucket``)."""
    now = clock or (lambda: datetime.now(UTC))
    app = Flask("feedsmith")  # the package: its templates/ and static/ folders
    app.config["JSON_SORT_KEYS"] = False
    if config.templates_dir is not None:  # the owner's index.html wins over ours
        app.jinja_loader = ChoiceLoader(
            [FileSystemLoader(str(config.templates_dir)), app.jinja_loader]  # type: ignore[list-item]
        )
    store: Store
    bucket_store: Any = None
    metrics = Metrics(config.state_dir, metrics_dir)
    if from_bucket:
        from feedsmith.serve.bucket_store import BucketStore

        if config.publish.s3 is None:
            raise ValueError("serving from a bucket needs publish.s3")
        bucket_store = BucketStore(
            config.publish.s3,
            client=bucket_client,
            link_for=link_for(config),
            cache_bytes=cache_bytes,
        )
        store = bucket_store
        metrics.register(_GaugeCollector(bucket_store.metrics))
    else:
        store = FeedStore(config.output_dir, cache_bytes=cache_bytes, link_for=link_for(config))
        metrics.register(_GaugeCollector(lambda: lease_gauges(config.state_dir)))
    statuses = StatusReader(config.state_dir)
    feeds = FeedResponder(store, config.schedule.interval_seconds, clock=now)
    retry_after = feeds.retry_after
    # (manifest key, status key) -> rendered page; one tuple, swapped whole.
    page_cache: list[tuple[Any, bytes]] = [(object(), b"")]
    app.extensions["feedsmith"] = {"store": store, "metrics": metrics, "config": config}
    if config.websub.builtin and from_bucket:
        log.warning("replicas do not run the built-in WebSub hub: it runs with the builder")
    elif config.websub.enabled:
        from feedsmith.serve.hub import install

        install(app, config, metrics)

    @app.errorhandler(HTTPException)
    def plain_error(exc: HTTPException) -> Response:
        # Short text instead of Werkzeug's HTML pages: nothing here for a browser to render.
        response = Response(
            f"{exc.code} {exc.name.lower()}\n", status=exc.code or 500, content_type=CT_TEXT
        )
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.get("/")
    def index() -> Response:
        manifest = store.manifest()
        status_key, status = statuses.read()
        cache_key = (manifest.key if manifest else None, status_key)
        cached_key, body = page_cache[0]
        if cached_key != cache_key:
            html = render_template("index.html", **_page_context(config, manifest, status, url_for))
            body = html.encode("utf-8")
            page_cache[0] = (cache_key, body)
        response = Response(
            body,
            status=200 if manifest is not None else 503,
            content_type="text/html; charset=utf-8",
        )
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-cache"
        if manifest is None:
            response.headers["Retry-After"] = retry_after
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        if bucket_store is not None:
            body, code = bucket_store.health()
            return _json_response(body, code, retry_after)
        _, status = statuses.read()
        body, code = health_report(status)
        if request.args.get("detail") == "1" and status is not None:  # the operator's view
            token = os.environ.get(TOKEN_ENV_VAR, "")
            if token and bearer_token_ok(request.headers.get("Authorization"), token):
                body["detail"] = public.detail(status)
        lease = read_lease_status(config.state_dir) if config.publish.s3 is not None else None
        if lease is not None:
            body["lease"] = public.lease(lease)
        if config.websub.enabled:
            from feedsmith.serve.websub_health import websub_health

            body["websub"] = websub_health(config.state_dir)
        return _json_response(body, code, retry_after)

    @app.get("/metrics")
    def metrics_view() -> Response:
        response = Response(metrics.render(), content_type=METRICS_CONTENT_TYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/-/rebuild")
    def rebuild() -> Response:
        token = os.environ.get(TOKEN_ENV_VAR, "")
        if not token or from_bucket:  # a replica has no builder to ask
            return Response("not found\n", status=404, content_type=CT_TEXT)
        if not bearer_token_ok(request.headers.get("Authorization"), token):
            response = Response("a valid bearer token is required\n", 401, content_type=CT_TEXT)
            response.headers["WWW-Authenticate"] = 'Bearer realm="feedsmith"'
            response.headers["Cache-Control"] = "no-store"
            return response
        requested = iso(now())
        write_rebuild_request(config.state_dir, requested)
        response = Response(
            json.dumps({"status": "accepted", "requested": requested}) + "\n",
            status=202,
            content_type=CT_JSON,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    # Bodies are received (capped, within a deadline) before Flask runs: see feedsmith.serve.bodies.
    bodies = BodyLimit(
        app.wsgi_app,
        max_bytes=config.server.max_body_bytes,
        timeout=config.server.body_timeout_seconds,
    )
    app.wsgi_app = Edge(bodies, feeds, metrics)  # type: ignore[method-assign]
    return app


def create_app_from_env() -> Flask:
    """Factory for WSGI servers: ``gunicorn 'feedsmith.serve.web:create_app_from_env()'``;
    ``$FEEDSMITH_FROM_BUCKET=1`` makes it a replica serving ``publish.s3``."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise RuntimeError(f"${ENV_VAR} must name the config file")
    from_bucket = os.environ.get(FROM_BUCKET_ENV_VAR, "") not in ("", "0")
    return create_app(load_config(path, serve_only=from_bucket), from_bucket=from_bucket)


def _json_response(body: dict[str, Any], code: int, retry_after: str) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False) + "\n", status=code, content_type=CT_JSON
    )
    response.headers["Cache-Control"] = "no-store"
    if code == 503:
        response.headers["Retry-After"] = retry_after
    return response


class _GaugeCollector(Collector):
    """Gauges computed at scrape time from ``(name, help, value)`` triples."""

    def __init__(self, source: Callable[[], list[tuple[str, str, float]]]) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, doc, value in self.source():
            yield GaugeMetricFamily(name, doc, value=value)


def lease_gauges(state_dir: Path) -> list[tuple[str, str, float]]:
    """The builder's lease (``state_dir/lease.json``, written by
    :mod:`feedsmith.publish.s3.lease`)."""
    lease = read_lease_status(state_dir)
    if lease is None:
        return []
    out = [
        (
            "feedsmith_lease_leader",
            "1 if this builder holds the lease.",
            float(lease.get("role") == "leader"),
        ),
        (
            "feedsmith_lease_takeovers",
            "Leases this builder took from another holder.",
            float(lease.get("takeovers") or 0),
        ),
    ]
    if isinstance(lease.get("token"), int):
        out.append(("feedsmith_lease_token", "Fencing token of the lease.", float(lease["token"])))
    expires = _parse_time(lease.get("expires"))
    if expires is not None:
        out.append(
            (
                "feedsmith_lease_expires_timestamp_seconds",
                "When the lease runs out unless renewed (Unix time).",
                expires.timestamp(),
            )
        )
    return out


def bearer_token_ok(header: str | None, token: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>`` (scheme case-insensitive)."""
    if not header:
        return False
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def write_rebuild_request(state_dir: Path, requested: str) -> Path:
    """Atomically (re)place the request file the builder watches; several requests before the
    builder looks collapse into one build, which is what a webhook burst wants."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / REBUILD_REQUEST_FILE
    fd, tmp = tempfile.mkstemp(prefix=".rebuild-", suffix=".tmp", dir=state_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"requested": requested}, fh)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def health_report(status: BuildStatus | None) -> tuple[dict[str, Any], int]:
    """The ``/healthz`` body and code: 200 once any build has succeeded (the feeds being served
    are then real, even if the latest attempt failed), 503 before. Errors are shown by kind
    only (:mod:`feedsmith.serve.public`): the detail is in the log and the private status file."""
    last = status.last_build if status else None
    ok_once = status is not None and status.has_succeeded
    if not ok_once:
        state = "starting" if last is None else "failing"
    elif last is not None and not last.ok:
        state = "degraded"
    else:
        state = "ok"
    body: dict[str, Any] = {
        "status": state,
        "last_build": None
        if last is None
        else {
            "started": iso(last.started),
            "finished": iso(last.finished),
            "ok": last.ok,
            "seconds": round(last.seconds, 3),
            "error": public.build_error(last.error),
        },
        "last_success": iso(status.last_success) if status and status.last_success else None,
        "counts": {
            "posts": status.posts if status else None,
            "feeds": status.feeds if status else None,
            "problems": status.problems if status else None,
        },
        # Broken posts whose last valid version is still served: a warning, not a failure.
        "kept": list(status.kept_public) if status else [],
        # Sinks (bucket, hub) the last build could not deliver to; retried every build.
        "sink_errors": [public.sink_error(line) for line in status.sink_errors] if status else [],
        "builds": {
            "ok": status.builds_ok if status else 0,
            "failed": status.builds_failed if status else 0,
        },
    }
    return body, 200 if ok_once else 503


# -- the index page ------------------------------------------------------------------------------


def _page_context(
    config: Config,
    manifest: Manifest | None,
    status: BuildStatus | None,
    url_for: Callable[..., str],
) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"all": [], "category": [], "tag": [], "author": []}
    autodiscovery: list[dict[str, str]] = []
    for feed in manifest.feeds if manifest else []:
        kind = str(feed.get("kind", ""))
        links = [
            {"href": href, "type": FORMATS[fmt].link_type, "label": FORMATS[fmt].label}
            for fmt in ("atom", "rss", "json")
            if (href := _feed_href(feed, fmt))
        ]
        updated = _parse_time(feed.get("updated"))
        groups.setdefault(kind, []).append(
            {
                "name": str(feed.get("name", feed.get("slug", ""))),
                "entries": feed.get("entries", ""),
                "updated": iso(updated) if updated else "",
                "updated_text": _display_time(updated) if updated else "",
                "links": links,
                "page": _page_href(feed),
            }
        )
        if kind == "all":
            for link in links:
                autodiscovery.append(
                    {
                        "type": link["type"],
                        "href": link["href"],
                        "title": f"{config.site.title} ({link['label']})",
                    }
                )
    last = status.last_build if status else None
    return {
        "site": config.site,
        "css_url": url_for("static", filename="feedsmith.css"),
        "opml_url": FEEDS_PREFIX + OPML,
        "autodiscovery": autodiscovery,
        "groups": [
            {"kind": kind, "title": KIND_TITLES.get(kind, kind.title() or "Other"), "feeds": feeds}
            for kind, feeds in groups.items()
            if feeds
        ],
        "last_build": None
        if last is None
        else {
            "finished_iso": iso(last.finished),
            "finished_text": _display_time(last.finished),
            "ok": last.ok,
            "error": public.build_error(last.error),
            "seconds": last.seconds,
        },
        "last_success_text": _display_time(status.last_success)
        if status and status.last_success
        else "",
        "kept": list(status.kept_public) if status else [],
    }


_SUFFIXES = {"atom": ".atom.xml", "rss": ".rss.xml", "json": ".json"}


def _feed_href(feed: dict[str, Any], fmt: str) -> str | None:
    """The manifest's URL for a format when it is one of ours (never e.g. ``javascript:``),
    else one derived from the file list."""
    urls = feed.get("urls")
    href = urls.get(fmt) if isinstance(urls, dict) else None
    if isinstance(href, str) and href.startswith((FEEDS_PREFIX, "https://", "http://")):
        return href
    files = feed.get("files")
    if isinstance(files, dict):
        for rel in files:
            if isinstance(rel, str) and rel.endswith(_SUFFIXES[fmt]):
                return FEEDS_PREFIX + quote(rel)
    return None


def _page_href(feed: dict[str, Any]) -> str | None:
    """The feed page's URL when the manifest gives one of ours (a path under ``/feeds/``)."""
    page = feed.get("page")
    if isinstance(page, str) and page.startswith(FEEDS_PREFIX) and page.endswith(".html"):
        return page
    return None


def _display_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except (TypeError, ValueError):
        return None
