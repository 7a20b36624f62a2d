"""``/media/<path>``: the files of ``media_dir`` (audio, video, pictures) the way players expect.

Podcast apps and browsers' ``<audio>``/``<video>`` seek with ``Range`` requests, resume
downloads with ``If-Range``, and revalidate with ``If-None-Match``/``If-Modified-Since``; a
server that answers every request with the whole file makes seeking in an hour-long episode
download it again. So this answers (RFC 9110):

* ``Accept-Ranges: bytes`` always; one satisfiable range (``bytes=0-99``, ``bytes=-10``,
  ``bytes=100-``) → ``206`` with ``Content-Range``; no satisfiable range → ``416`` with
  ``Content-Range: bytes */<length>``; a malformed ``Range`` or another unit is ignored (200).
* Several ranges → the whole file (200), as §14.2 allows. Players ask for one range; answering
  many overlapping small ranges as ``multipart/byteranges`` is what made "Apache Killer" work,
  and a client that asked for several can use the whole file.
* ``If-Match``/``If-Unmodified-Since`` (412), ``If-None-Match``/``If-Modified-Since`` (304),
  ``If-Range`` (a strong ETag, or the exact ``Last-Modified``; anything else: the whole file),
  in the order of §13.2.2. HEAD answers the GET's headers.
* Bodies are streamed in chunks from an open file (or a ranged bucket ``GetObject``), never
  read whole: ten clients fetching a 200 MB file keep the worker's memory flat.

Never a byte outside ``media_dir``: the decoded path must pass
:func:`~feedsmith.pipeline.media_tree.safe_media_rel` (no ``..``, ``.``, empty or hidden
segment, backslash, NUL), a request target with an encoded slash, backslash or NUL is refused
before decoding could hide it, the real path (symlinks resolved) must lie inside
``media_dir``'s real path, the final component is opened with ``O_NOFOLLOW`` and the opened
file must be the regular file that was checked. Any refusal is a plain 404, the same as a
missing file: nothing tells a prober which rule it hit.

Where the bytes come from is a :class:`MediaSource`: :class:`LocalMedia` (``serve``:
``media_dir`` itself, so a file is served as soon as it is there) or the bucket
(:class:`feedsmith.serve.bucket_store.BucketMedia`, ``serve --from-bucket``: the manifest's
``media`` section, ranged ``GetObject``\\ s streamed through). Both go through the same
:class:`MediaResponder`, so ranges and conditionals behave the same everywhere.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol

from werkzeug.http import parse_date

from feedsmith.core.layout import CT_TEXT
from feedsmith.pipeline.media_tree import media_type, safe_media_rel
from feedsmith.serve.negotiate import etag_matches, http_date
from feedsmith.serve.stores import StoreUnavailable

__all__ = [
    "CHUNK",
    "MEDIA_PREFIX",
    "LocalMedia",
    "MediaApp",
    "MediaFile",
    "MediaResponder",
    "MediaSource",
    "parse_range",
]

log = logging.getLogger("feedsmith.web")

MEDIA_PREFIX = "/media/"
#: Bytes per write: big enough that a 200 MB file is few calls, small enough to stay flat.
CHUNK = 256 * 1024
#: A Range header with more parts than this is not worth parsing (the whole file is sent).
MAX_RANGES = 64

Environ = dict[str, Any]
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
#: (start, end) → the bytes [start, end) as an iterable with ``close()``.
Opener = Callable[[int, int], "Body"]


class Body(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class MediaFile:
    """One media file as a source found it, not yet read."""

    size: int
    etag: str  # strong, quoted
    modified: datetime  # Last-Modified (whole seconds)
    content_type: str
    open: Opener
    #: Called when the answer needs no body (304, 416, HEAD): releases what lookup opened.
    release: Callable[[], None] = lambda: None


class MediaSource(Protocol):
    def lookup(self, rel: str) -> MediaFile | None:
        """The file at ``rel`` (already checked by :func:`safe_media_rel`), ``None`` if there
        is none; raise :class:`~feedsmith.serve.stores.StoreUnavailable` for a 503."""
        ...


# -- media_dir on disk ------------------------------------------------------------------------


class FileBody:
    """Reads [start, end) of an open file descriptor in :data:`CHUNK`\\ s, then closes it."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def __iter__(self) -> Iterator[bytes]:
        try:
            while self.pos < self.end:
                data = os.pread(self.fd, min(CHUNK, self.end - self.pos), self.pos)
                if not data:  # truncated while being served: stop short, never pad
                    break
                self.pos += len(data)
                yield data
        finally:
            self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class LocalMedia:
    """``media_dir`` on disk (see the module docstring for the containment rules)."""

    def __init__(self, media_dir: Path) -> None:
        self.root = os.path.realpath(media_dir)

    def lookup(self, rel: str) -> MediaFile | None:
        path = os.path.realpath(os.path.join(self.root, rel))
        if not path.startswith(self.root.rstrip(os.sep) + os.sep):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                return None
        except OSError:
            os.close(fd)
            return None
        holder = [fd]

        def open_range(start: int, end: int) -> Body:
            handed, holder[0] = holder[0], -1
            return FileBody(handed, start, end)

        def release() -> None:
            if holder[0] >= 0:
                os.close(holder[0])
                holder[0] = -1

        return MediaFile(
            size=st.st_size,
            # nginx's shape (size and mtime): no read to make it, changes with every edit.
            etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
            modified=datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000, UTC),
            content_type=media_type(rel),
            open=open_range,
            release=release,
        )


# -- ranges -----------------------------------------------------------------------------------

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """RFC 9110 §14.1.2 ``Range`` → satisfiable ``(start, end)`` pairs (end exclusive), in the
    order asked; ``None`` when the header is to be ignored (malformed, another unit, too many
    parts). An empty list means nothing is satisfiable (416)."""
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return None
    out: list[tuple[int, int]] = []
    for part in parts:
        if not part.strip():
            continue  # "bytes=0-1, ,2-3": empty list elements are allowed
        match = _SPEC.match(part)
        if match is None:
            return None
        first, last = match.groups()
        if first:
            start = int(first)
            if last and int(last) < start:
                return None  # invalid, so the whole header is ignored
            if start >= size:
                continue  # unsatisfiable
            end = min(int(last) + 1, size) if last else size
        elif last:
            suffix = int(last)
            if suffix == 0 or size == 0:
                continue
            start, end = max(size - suffix, 0), size
        else:
            return None
        out.append((start, end))
    if not out and not any(part.strip() for part in parts):
        return None
    return out


# -- the responder ----------------------------------------------------------------------------


class MediaResponder:
    """Answers ``/media/<path>`` from a :class:`MediaSource` (see the module docstring)."""

    def __init__(
        self,
        source: MediaSource,
        max_age: int,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.cache_control = f"public, max-age={max_age}"
        self.clock = clock or (lambda: datetime.now(UTC))

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        code, headers, body = self.respond(environ)
        start_response(_status(code), headers)
        return body

    def respond(self, environ: Environ) -> tuple[int, Headers, Iterable[bytes]]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "OPTIONS":
            return 204, [("Allow", "GET, HEAD, OPTIONS"), ("Content-Length", "0")], []
        if method not in ("GET", "HEAD"):
            return _plain(405, "method not allowed\n", [("Allow", "GET, HEAD, OPTIONS")])
        rel = request_rel(environ)
        if rel is None:
            return _plain(404, "not found\n", [])
        try:
            media = self.source.lookup(rel)
        except StoreUnavailable as exc:
            log.warning("cannot serve media %s now: %s", rel, exc)
            return _plain(503, "temporarily unavailable\n", [("Retry-After", "5")])
        if media is None:
            return _plain(404, "not found\n", [])
        try:
            code, headers, span = self._decide(environ, media)
            if span is None or method == "HEAD":
                media.release()
                return code, headers, []
            body = media.open(*span)
        except StoreUnavailable as exc:
            media.release()
            log.warning("cannot serve media %s now: %s", rel, exc)
            return _plain(503, "temporarily unavailable\n", [("Retry-After", "5")])
        except BaseException:
            media.release()
            raise
        return code, headers, body

    def _decide(
        self, environ: Environ, media: MediaFile
    ) -> tuple[int, Headers, tuple[int, int] | None]:
        """Status, headers and the byte span to send (``None``: no body)."""
        last_modified = http_date(media.modified)
        headers: Headers = [
            ("Accept-Ranges", "bytes"),
            ("ETag", media.etag),
            ("Last-Modified", last_modified),
            ("Cache-Control", self.cache_control),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Expose-Headers", "Accept-Ranges, Content-Range, Content-Length"),
        ]
        when = int(media.modified.timestamp())
        # §13.2.2 step 1-2: the client's copy must (still) be this one.
        if_match = environ.get("HTTP_IF_MATCH")
        if if_match is not None:
            if not _strong_match(if_match, media.etag):
                return 412, [*headers, ("Content-Length", "0")], None
        else:
            ius = _date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
            if ius is not None and when > ius:
                return 412, [*headers, ("Content-Length", "0")], None
        # Step 3-4: the client has this one.
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm is not None:
            if etag_matches(inm, (media.etag,)):
                return 304, headers, None
        else:
            ims = _date(environ.get("HTTP_IF_MODIFIED_SINCE"))
            if ims is not None and ims <= self.clock().timestamp() and when <= ims:
                return 304, headers, None
        headers.append(("Content-Type", media.content_type))
        whole = (0, media.size)
        header = environ.get("HTTP_RANGE")
        if header is None or not self._if_range(environ.get("HTTP_IF_RANGE"), media):
            return 200, [*headers, ("Content-Length", str(media.size))], whole
        spans = parse_range(header, media.size)
        if spans is None:
            return 200, [*headers, ("Content-Length", str(media.size))], whole
        if not spans:
            headers = [h for h in headers if h[0] != "Content-Type"]
            headers += [
                ("Content-Range", f"bytes */{media.size}"),
                ("Content-Type", CT_TEXT),
                ("Content-Length", "0"),
            ]
            return 416, headers, None
        if len(spans) > 1:
            return 200, [*headers, ("Content-Length", str(media.size))], whole
        start, end = spans[0]
        headers += [
            ("Content-Range", f"bytes {start}-{end - 1}/{media.size}"),
            ("Content-Length", str(end - start)),
        ]
        return 206, headers, (start, end)

    @staticmethod
    def _if_range(value: str | None, media: MediaFile) -> bool:
        """Whether the Range applies (§13.1.5): no If-Range, or it names this version."""
        if value is None:
            return True
        value = value.strip()
        if value.startswith('"'):
            return value == media.etag
        if value.startswith(("W/", "w/")):
            return False  # a weak tag never validates a range
        return value == http_date(media.modified)


class MediaApp:
    """WSGI: ``/media/…`` to the :class:`MediaResponder`, anything else to ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], media: MediaResponder) -> None:
        self.app = app
        self.media = media

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(MEDIA_PREFIX):
            return self.media(environ, start_response)
        return self.app(environ, start_response)


# -- helpers ----------------------------------------------------------------------------------

#: Encoded in the request target, these would change the path's shape after decoding.
_ENCODED_UNSAFE = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


def request_rel(environ: Environ) -> str | None:
    """The media path a request asks for, or ``None`` if it may not be answered at all."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if _ENCODED_UNSAFE.search(raw.partition("?")[0]):
        return None
    path = environ.get("PATH_INFO", "")[len(MEDIA_PREFIX) :]
    try:
        rel = path.encode("latin-1").decode("utf-8")  # PEP 3333: the raw bytes as latin-1
    except UnicodeError:
        return None
    return rel if safe_media_rel(rel) else None


def _strong_match(header: str, etag: str) -> bool:
    value = header.strip()
    if value == "*":
        return True
    return etag in (item.strip() for item in value.split(","))


def _date(value: str | None) -> float | None:
    if not value:
        return None
    parsed = parse_date(value)
    return parsed.timestamp() if parsed is not None else None


_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def _status(code: int) -> str:
    return _STATUS_LINES.get(code, str(code))


def _plain(code: int, text: str, extra: Headers) -> tuple[int, Headers, list[bytes]]:
    data = text.encode()
    headers = [("Content-Type", CT_TEXT), ("Content-Length", str(len(data))), *extra]
    return code, headers, [data]
