"""Where web workers get the published tree from: the manifest, the files, and their cache.

One home for what every source of published files shares, so the responder depends on the
:class:`Store` protocol only: :class:`FeedStore` reads ``output_dir`` (``serve``),
:class:`feedsmith.serve.bucket_store.BucketStore` reads the bucket (``serve --from-bucket``).
Besides the files, a store says what differs between the two kinds of worker: whether a builder
runs beside it (the rebuild webhook, the built-in hub), what ``/healthz`` reports about its
source, and its gauges for ``/metrics``.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import logging
import os
import stat
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from feedsmith.core.config import Config
from feedsmith.core.discovery import link_for as discovery_link_for
from feedsmith.core.layout import (
    MANIFEST,
    OPML,
    content_type_for,
    listed_gzip_only,
    settled_archive_pages,
)
from feedsmith.publish.changes import manifest_records
from feedsmith.publish.staging import gzip_bytes
from feedsmith.serve.health import Gauges, lease_gauges
from feedsmith.serve.negotiate import http_date
from feedsmith.serve.status import parse_time, stat_key

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "Body",
    "BodyCache",
    "FeedStore",
    "Gauges",
    "Listed",
    "Manifest",
    "Store",
    "StoreUnavailable",
    "make_body",
    "parse_manifest",
]

log = logging.getLogger("feedsmith.web")

#: Per worker; the most polled feeds stay in memory, the long tail is re-read when needed.
DEFAULT_CACHE_BYTES = 128 * 1024 * 1024


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
    #: A settled archive page (:func:`~feedsmith.core.layout.settled_archive_pages`): sent with
    #: the long immutable Cache-Control instead of the short one.
    immutable: bool = False
    #: Stored only as ``rel + ".gz"`` (:func:`~feedsmith.core.layout.stored_gzip_only`): an
    #: archive page the manifest lists with ``gz_bytes``; one stored plain
    #: (``feed.archive_storage: plain``) has no ``gz_bytes`` and is served as any file.
    gzip_only: bool = False


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

    #: Whether the builder runs beside these workers (``serve``): only then is there someone to
    #: take a rebuild request or run the built-in hub; a replica's builder is elsewhere.
    @property
    def has_builder(self) -> bool: ...

    def manifest(self) -> Manifest | None: ...

    def body(self, listed: Listed) -> Body | None: ...

    def health(self) -> tuple[dict[str, Any], int] | None:
        """The store's own ``/healthz`` body and code; ``None`` when the builder beside it
        answers (its ``status.json``)."""
        ...

    def gauges(self) -> Gauges:
        """Gauges about the source, computed at scrape time (the lease, the bucket's polls)."""
        ...


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
        state_dir: Path | None = None,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.link_for = link_for
        self.state_dir = state_dir
        self.manifest_path = str(self.output_dir / MANIFEST)
        self.cache_bytes = cache_bytes
        self._manifest: Manifest | None = None
        self._bad_key: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._bodies = BodyCache(cache_bytes)

    @classmethod
    def for_config(cls, config: Config, *, cache_bytes: int = DEFAULT_CACHE_BYTES) -> FeedStore:
        """``output_dir`` as ``serve`` serves it: WebSub ``Link`` headers as configured, the
        builder's lease gauges from ``state_dir``."""
        return cls(
            config.output_dir,
            cache_bytes=cache_bytes,
            link_for=discovery_link_for(config),
            state_dir=config.state_dir,
        )

    has_builder = True

    def health(self) -> None:
        return None  # the builder writing output_dir reports in status.json

    def gauges(self) -> Gauges:
        return lease_gauges(self.state_dir) if self.state_dir is not None else []

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
        key = stat_key(st)
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
            key = stat_key(os.fstat(fh.fileno()))
            data = fh.read()
        base = str(self.output_dir)
        return parse_manifest(data, key, lambda rel: os.path.join(base, rel), self.link_for)

    # files

    def body(self, listed: Listed) -> Body | None:
        """The file's current bytes, from the cache while its ``stat`` is unchanged; ``None``
        when it is missing or refused (outside ``output_dir``, not a regular file). A path
        stored gzip-only (an archive page) is read from its ``.gz``."""
        if listed.gzip_only:
            return self._gzip_only_body(listed)
        try:
            key = stat_key(os.stat(listed.fs_path))
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

    def _gzip_only_body(self, listed: Listed) -> Body | None:
        """Both representations from the stored ``.gz``: sent as is to gzip clients, and
        decompressed once per version for the others (pages are small: 20 entries' summaries).
        A twin that does not decompress is as missing as a missing file (the next build
        rewrites it)."""
        path = listed.fs_path + ".gz"
        try:
            key = stat_key(os.stat(path))
        except (OSError, ValueError):
            return None
        cached = self._bodies.get(path, key)
        if cached is not None:
            return cached
        blob, key = self._read_inside(path)
        if blob is None or key is None:
            return None
        try:
            data = gzip.decompress(blob)
        except (OSError, EOFError, zlib.error) as exc:
            log.warning("cannot use %s: %s", path, exc)
            return None
        loaded = make_body(key, data, blob)
        self._bodies.put(path, loaded)
        return loaded

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
            return fh.read(), stat_key(st)


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
    generated = parse_time(data.get("generated"))
    feeds = [f for f in data.get("feeds") or [] if isinstance(f, dict)]
    changed: dict[str, datetime | None] = {}
    shas: dict[str, str] = {}
    gz_only: set[str] = set()
    # Per-feed file lists, plus top-level extras (e.g. index.opml) if the build lists any.
    for rel, info in manifest_records(data):
        if isinstance(rel, str) and rel:
            when = info.get("changed") if isinstance(info, dict) else None
            changed[rel] = parse_time(when)
            sha = info.get("sha256") if isinstance(info, dict) else None
            if isinstance(sha, str):
                shas[rel] = sha
            if isinstance(info, dict) and listed_gzip_only(rel, info):
                gz_only.add(rel)
    # The index files are always servable; without their own ``changed`` they were last
    # changed, at the latest, by the build that last changed anything.
    changed.setdefault(MANIFEST, generated)
    changed.setdefault(OPML, generated)
    topics: set[str] = set()  # subscription documents, not archive pages
    if link_for is not None:
        for feed in feeds:
            if isinstance(feed.get("files"), dict):
                topics.update(rel for rel in feed["files"] if isinstance(rel, str))
    settled = settled_archive_pages(data)
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
            immutable=rel in settled,
            gzip_only=rel in gz_only,
        )
    gone_raw = data.get("gone") or {}
    gone = frozenset(g for g in gone_raw if isinstance(g, str)) - files.keys()
    return Manifest(key=key, files=files, gone=gone, feeds=feeds, generated=generated)


class StoreUnavailable(Exception):
    """The store cannot say right now (a bucket that is down and a file not yet cached)."""
