"""The published tree read from the bucket: what ``serve --from-bucket`` replicas answer from.

A replica has no ``output_dir`` and no builder; the bucket the builder publishes to
(:mod:`feedsmith.publish.s3.sink`) is its only source, so any number of replicas can run on machines
that share nothing. Why the answers are the same as ``serve``'s: the responder is the same
(:class:`feedsmith.serve.responder.FeedResponder`), only the store behind it differs, and the
bytes are the same bytes, so the strong ETags (computed from the bytes, as ``serve`` does), 304s,
gzip and 410s (the manifest's ``gone``) match a local ``serve`` and every other replica exactly.

* The manifest is polled every ``publish.s3.refresh_seconds`` by a thread of each worker, as a
  conditional GET (``If-None-Match`` on its ETag: an unchanged manifest costs a 304 and no
  parse). Requests never wait on the bucket for it.
* Files are fetched on first request and cached in memory (byte-bounded LRU) under the
  manifest's sha256 of them: a new manifest that lists the same sha keeps the cached copy, one
  that lists a new sha makes the next request fetch it. The bytes fetched are checked against
  that sha; the builder uploads a build's files before its manifest, so an object newer than the
  manifest this replica holds is served (it is the next build's) but not cached, and the
  manifest is re-read at once. An archive page is one object of gzip bytes
  (``Content-Encoding: gzip``, no twin): sent as is to gzip clients, decompressed for the rest,
  the sha checked on the decompressed bytes.
* ``/media/`` (:mod:`feedsmith.serve.media`) is answered from the manifest's ``media`` section:
  size, type, ETag (from its sha256) and ``Last-Modified`` come from the manifest, the bytes
  from a ``GetObject`` with the client's range, streamed through in chunks and never cached
  (recordings are large, and players ask for small ranges). Streamed rather than redirected to
  the bucket: the bucket may be private, and a replica answers exactly like ``serve``. An object
  whose ``feedsmith-sha256`` is not the manifest's (the next build's, its manifest on the way)
  is a 503, never bytes that contradict the ETag just sent.
* The bucket down: the last manifest and every cached file keep being served; a file not
  cached yet answers 503 with ``Retry-After`` (never 404, never 410), and ``/healthz`` says
  ``degraded`` with the error.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedsmith.core.config import Config, S3Config
from feedsmith.core.discovery import link_for as discovery_link_for
from feedsmith.core.layout import MANIFEST, parse_iso
from feedsmith.publish.changes import MediaRecord, media_records
from feedsmith.publish.s3.client import describe_error, error_code, make_client
from feedsmith.publish.s3.delivery import MEDIA_KEY_PREFIX
from feedsmith.publish.s3.lease_rule import LeaseRecord, lease_key
from feedsmith.publish.staging import gzip_bytes
from feedsmith.serve import public
from feedsmith.serve.media import CHUNK, MediaFile
from feedsmith.serve.stores import (
    DEFAULT_CACHE_BYTES,
    Body,
    BodyCache,
    Gauges,
    Listed,
    Manifest,
    StoreUnavailable,
    make_body,
    parse_manifest,
)

__all__ = ["BucketMedia", "BucketStore", "BucketUnreadable", "check_readable"]

log = logging.getLogger("feedsmith.bucket_store")


class BucketUnreadable(Exception):
    """One line: why a replica cannot read its bucket (exit 6 at start)."""


def check_readable(settings: S3Config, client: Any = None) -> bool:
    """Raise :class:`BucketUnreadable` unless the bucket answers; ``True`` if it already has a
    manifest (``False``: nothing published yet, the replica answers 503 until there is)."""
    client = client or make_client(settings)
    try:
        client.head_object(Bucket=settings.bucket, Key=settings.prefix + MANIFEST)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            # HEAD of a missing key in a missing bucket is a 404 too: ask the bucket itself.
            try:
                client.head_bucket(Bucket=settings.bucket)
            except Exception as inner:
                if error_code(inner) in ("404", "NoSuchBucket", "NotFound"):
                    where = settings.endpoint_url or "AWS S3"
                    raise BucketUnreadable(
                        f"bucket {settings.bucket!r} does not exist at {where}"
                    ) from inner
                raise BucketUnreadable(describe_error(settings, "reading", inner)) from inner
            return False
        raise BucketUnreadable(describe_error(settings, "reading", exc)) from exc
    return True


@dataclass
class Refresh:
    """How the last manifest poll went (for /healthz and /metrics)."""

    ok: bool = False
    at: datetime | None = None  # last attempt
    error: str | None = None
    etag: str | None = None
    lease: LeaseRecord | None = None
    polls: int = 0
    changes: int = 0


class BucketStore:
    """:class:`feedsmith.serve.stores.Store` over ``publish.s3`` (see the module docstring)."""

    def __init__(
        self,
        settings: S3Config,
        *,
        client: Any = None,
        link_for: Callable[[str], str] | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        start_thread: bool = True,
    ) -> None:
        self.settings = settings
        self.link_for = link_for
        self.cache_bytes = cache_bytes
        self._client = client
        self._manifest: Manifest | None = None
        self._media: dict[str, MediaRecord] = {}
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._bodies = BodyCache(cache_bytes)
        self.refresh_state = Refresh()
        self._start_thread = start_thread
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @classmethod
    def for_config(
        cls, config: Config, *, client: Any = None, cache_bytes: int = DEFAULT_CACHE_BYTES
    ) -> BucketStore:
        """``publish.s3`` as a replica serves it, WebSub ``Link`` headers as configured."""
        if config.publish.s3 is None:
            raise ValueError("serving from a bucket needs publish.s3")
        return cls(
            config.publish.s3,
            client=client,
            link_for=discovery_link_for(config),
            cache_bytes=cache_bytes,
        )

    #: The builder publishing to the bucket runs elsewhere: no rebuild webhook, no hub here.
    has_builder = False

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    # -- the manifest --------------------------------------------------------------------------

    def manifest(self) -> Manifest | None:
        if self._thread is None and self._start_thread:
            self._start()  # here, not in __init__: a pre-forking server forks after create_app
        if self._manifest is None and self.refresh_state.at is None:
            self.refresh()
        return self._manifest

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="feedsmith-bucket", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.refresh_seconds):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()

    def refresh(self) -> bool:
        """Poll the manifest once; ``True`` if a new one was loaded."""
        with self._refresh_lock:
            state = self.refresh_state
            state.polls += 1
            state.at = datetime.now(UTC)
            key = self.settings.prefix + MANIFEST
            args: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": key}
            if self._manifest is not None and state.etag:
                args["IfNoneMatch"] = state.etag
            try:
                self._read_lease(state)
                try:
                    obj = self.client.get_object(**args)
                except Exception as exc:
                    code = error_code(exc)
                    if code in ("304", "NotModified"):
                        state.ok, state.error = True, None
                        return False
                    if code in ("NoSuchKey", "404") and self._manifest is None:
                        state.ok, state.error = True, None  # nothing published yet
                        return False
                    raise
                raw = obj["Body"].read()
                etag = str(obj["ETag"])
                loaded = parse_manifest(
                    raw, etag, lambda rel: self.settings.prefix + rel, self.link_for
                )
                media = media_records(json.loads(raw))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                state.ok, state.error = False, f"cannot use the bucket's {MANIFEST}: {exc}"
                log.error("%s; keeping the previous one", state.error)
                return False
            except Exception as exc:
                reason = describe_error(self.settings, "reading", exc)
                if state.ok or state.error != reason:
                    log.warning("bucket: %s; serving what was read before", reason)
                state.ok, state.error = False, reason
                return False
            if not state.ok and state.error:
                log.info("bucket: readable again")
            state.ok, state.error, state.etag = True, None, etag
            state.changes += 1
            self._manifest, self._media = loaded, media
            log.info("bucket: manifest %s loaded (%d files)", etag, len(loaded.files))
            return True

    def _read_lease(self, state: Refresh) -> None:
        try:
            obj = self.client.get_object(Bucket=self.settings.bucket, Key=lease_key(self.settings))
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                state.lease = None
                return
            raise
        state.lease = LeaseRecord.from_bytes(obj["Body"].read())

    # -- files ---------------------------------------------------------------------------------

    def body(self, listed: Listed) -> Body | None:
        # Paths the manifest gives no sha256 for (index.json itself) are a version of the
        # manifest they came with.
        version = listed.sha256 or f"manifest {self.refresh_state.etag}"
        cached = self._bodies.get(listed.rel, version)
        if cached is not None:
            return cached
        got = self._get(listed.fs_path)
        if got is None:
            return None
        stored, gzipped = got
        if gzipped:  # an archive page: gzip bytes under the plain key, no twin
            try:
                data, compressed = gzip.decompress(stored), stored
            except (OSError, EOFError, zlib.error) as exc:
                log.warning("bucket: cannot decompress %s: %s", listed.fs_path, exc)
                return None
        else:
            data = stored
            compressed = self._gzip_twin(listed.fs_path, data)
        sha = hashlib.sha256(data).hexdigest()
        body = make_body(version, data, compressed)
        if listed.sha256 is not None and sha != listed.sha256:
            # Uploaded by a build whose manifest is on its way: served, not cached.
            threading.Thread(target=self.refresh, daemon=True).start()
            return body
        self._bodies.put(listed.rel, body)
        return body

    def _get(self, key: str) -> tuple[bytes, bool] | None:
        """The object's bytes and whether they are gzip (``Content-Encoding: gzip``, as the
        sink stores archive pages); ``None`` when missing or a gone document."""
        try:
            obj = self.client.get_object(Bucket=self.settings.bucket, Key=key)
            data: bytes = obj["Body"].read()
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise StoreUnavailable(describe_error(self.settings, "reading", exc)) from exc
        if obj.get("Metadata", {}).get("feedsmith-gone"):
            return None  # a gone document: the manifest that says so is on its way
        return data, str(obj.get("ContentEncoding") or "").lower() == "gzip"

    def _gzip_twin(self, key: str, data: bytes) -> bytes:
        """The bucket's ``.gz`` twin if it really is ``data`` compressed, else our own."""
        try:
            obj = self.client.get_object(Bucket=self.settings.bucket, Key=key + ".gz")
            blob: bytes = obj["Body"].read()
            if gzip.decompress(blob) == data:
                return blob
        except Exception:  # missing, stale or unreadable: compress here
            pass
        return gzip_bytes(data)

    @property
    def media(self) -> BucketMedia:
        """``/media/`` from this bucket (see the module docstring)."""
        return BucketMedia(self)

    def media_record(self, rel: str) -> MediaRecord | None:
        if self.manifest() is None:
            return None
        return self._media.get(rel)

    # -- what /healthz says --------------------------------------------------------------------

    def health(self) -> tuple[dict[str, Any], int]:
        manifest = self.manifest()  # also starts the poll thread, if no feed was asked for yet
        state = self.refresh_state
        if manifest is None:
            status = "starting"
        elif not state.ok:
            status = "degraded"
        else:
            status = "ok"
        lease = state.lease
        body: dict[str, Any] = {
            "status": status,
            "mode": "replica",
            # No bucket name, prefix, endpoint or error text: this page is public (the detail
            # is in the log, one line per change of state).
            "bucket": {
                "manifest_etag": state.etag,
                "generated": manifest.generated.isoformat()
                if manifest and manifest.generated
                else None,
                "last_poll": state.at.isoformat() if state.at else None,
                "error": public.bucket_error(state.error),
                "polls": state.polls,
                "manifests_loaded": state.changes,
                "cached_files": len(self._bodies),
            },
            "lease": None
            if lease is None
            else {
                "token": lease.token,
                "expires": json.loads(lease.to_bytes())["expires"],
                "released": lease.released,
            },
        }
        return body, 200 if manifest is not None else 503

    def gauges(self) -> Gauges:
        state = self.refresh_state
        out = [
            ("feedsmith_bucket_refresh_ok", "1 if the last manifest poll worked.", float(state.ok)),
            ("feedsmith_bucket_polls", "Manifest polls by this worker.", float(state.polls)),
            ("feedsmith_bucket_manifests_loaded", "New manifests loaded.", float(state.changes)),
        ]
        manifest = self._manifest
        if manifest is not None and manifest.generated is not None:
            out.append(
                (
                    "feedsmith_bucket_manifest_generated_timestamp_seconds",
                    "When the served manifest was generated (Unix time).",
                    manifest.generated.timestamp(),
                )
            )
        if state.lease is not None:
            out.append(
                ("feedsmith_lease_token", "Fencing token of the lease.", float(state.lease.token))
            )
            out.append(
                (
                    "feedsmith_lease_expires_timestamp_seconds",
                    "When the lease runs out unless renewed (Unix time).",
                    state.lease.expires.timestamp(),
                )
            )
        return out


class BucketMedia:
    """:class:`feedsmith.serve.media.MediaSource` over the bucket a replica reads."""

    def __init__(self, store: BucketStore) -> None:
        self.store = store

    def lookup(self, rel: str) -> MediaFile | None:
        record = self.store.media_record(rel)
        if record is None:
            return None
        try:
            modified = parse_iso(record.changed)
        except (TypeError, ValueError):
            modified = datetime.fromtimestamp(0, UTC)
        return MediaFile(
            size=record.size,
            etag='"' + record.sha256[:16] + '"',
            modified=modified.replace(microsecond=0),
            content_type=record.content_type,
            open=lambda start, end: self._open(record, start, end),
        )

    def _open(self, record: MediaRecord, start: int, end: int) -> ObjectBody:
        store = self.store
        args: dict[str, Any] = {
            "Bucket": store.settings.bucket,
            "Key": store.settings.prefix + MEDIA_KEY_PREFIX + record.rel,
        }
        if end > start:
            args["Range"] = f"bytes={start}-{end - 1}"
        try:
            obj = store.client.get_object(**args)
        except Exception as exc:
            raise StoreUnavailable(describe_error(store.settings, "reading", exc)) from exc
        body = obj["Body"]
        if obj.get("Metadata", {}).get("feedsmith-sha256") != record.sha256:
            body.close()
            threading.Thread(target=store.refresh, daemon=True).start()
            raise StoreUnavailable(f"{args['Key']} is not the version the manifest lists")
        if end <= start:
            body.close()
            return ObjectBody(None)
        return ObjectBody(body)


class ObjectBody:
    """A ``GetObject`` body streamed through in chunks, closed at the end or on ``close()``."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        if self.body is None:
            return
        try:
            yield from self.body.iter_chunks(CHUNK)
        finally:
            self.close()

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None
