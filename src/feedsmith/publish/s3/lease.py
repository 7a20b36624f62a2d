"""Exactly one builder per bucket: a lease object taken and renewed with S3 conditional writes.

Why a lease in the bucket: the bucket is the one thing every builder already shares, and S3
(like MinIO, R2, B2, GCS and moto) offers compare-and-swap on a single object: ``If-None-Match:
*`` creates it only if it is absent, ``If-Match: <etag>`` replaces it only if nobody else wrote
it since we read it. No lock server, no clock service.

The object, ``.feedsmith/<prefix>lease.json`` (beside the published prefix, never inside it, so
a CDN in front of the prefix cannot serve it), holds a :class:`LeaseRecord`: the holder (one
process), the builder (the persistent id in ``state_dir/builder-id``, which outlives restarts),
a fencing token that grows by one whenever the lease changes hands, and an expiry.

When is a lease expired? A builder that is *watching* (``serve``) does not trust anybody's wall
clock: it steals only after it has seen the same ETag for ``lease_seconds`` of its own monotonic
time (the observed-time rule of Kubernetes' leader election). The holder stops publishing
``lease_seconds`` after it *sent* its last successful renewal, which is never later than the
moment a follower started watching that renewal, so the two never both believe they hold it
(given clocks that run at the same rate, not the same time). A one-shot ``feedsmith build``
cannot watch, so it reads the expiry the holder wrote (its wall clock plus ``lease_seconds``):
builders' clocks must agree to well within ``lease_seconds`` for that case (NTP does).

Writes are also fenced where they land: the bucket sink replaces ``index.json`` only with
``If-Match`` on the manifest it last wrote (see :mod:`feedsmith.publish.s3.sink`), and stamps each
manifest with the token, so a holder that stalled past its lease cannot overwrite what the new
holder published, and the manifests' history shows who published what, in order.

:mod:`feedsmith.publish.s3.lease_rule` holds the record and the pure rule; :class:`BucketLease`
talks to S3; :class:`LeaseKeeper` runs the rule (in a thread for ``serve``) and answers "may I
publish now?"; :class:`Leased` wraps a sink so that it only delivers while the lease is held.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsmith.core.config import Config, S3Config
from feedsmith.core.layout import iso_millis
from feedsmith.core.state import json_bytes
from feedsmith.publish.changes import ChangeSet, Sink
from feedsmith.publish.s3.client import BucketError, describe_error, error_code, make_client
from feedsmith.publish.s3.lease_rule import LeaseRecord, decide, lease_key
from feedsmith.system.statedir import write_atomic

#: This builder's view of the lease, for ``/healthz`` and ``/metrics`` (``state_dir``).
LEASE_STATUS_FILE = "lease.json"

__all__ = [
    "BUILDER_ID_FILE",
    "LEASE_STATUS_FILE",
    "BucketLease",
    "LeaseKeeper",
    "LeaseStatus",
    "Leased",
]

log = logging.getLogger("feedsmith.lease")

BUILDER_ID_FILE = "builder-id"


# -- the S3 edge -------------------------------------------------------------------------------


_CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", "412", "409")


class LeaseLost(Exception):
    """Somebody else wrote the lease object between our read and our write."""


class BucketLease:
    """Reads and conditionally writes the lease object (its own client: a lease renewal must
    never queue behind the uploads of a big build)."""

    def __init__(self, settings: S3Config, *, client: Any = None) -> None:
        self.settings = settings
        self.key = lease_key(settings)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def read(self) -> tuple[bytes | None, str | None]:
        """(body, ETag) of the lease object; ``(None, None)`` when there is none."""
        try:
            obj = self.client.get_object(Bucket=self.settings.bucket, Key=self.key)
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None, None
            raise
        return obj["Body"].read(), obj["ETag"]

    def write(self, record: LeaseRecord, *, if_match: str | None) -> str:
        """Write ``record`` if the object is still ``if_match`` (``None``: still absent)."""
        condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        try:
            answer = self.client.put_object(
                Bucket=self.settings.bucket,
                Key=self.key,
                Body=record.to_bytes(),
                ContentType="application/json",
                CacheControl="no-store",
                **condition,
            )
        except Exception as exc:
            # 412: written by somebody else since; 409: a concurrent conditional write won.
            if error_code(exc) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
                "412",
                "409",
            ):
                raise LeaseLost(str(exc)) from exc
            if if_match and error_code(exc) in ("NoSuchKey", "404"):
                raise LeaseLost("the lease object was deleted") from exc
            raise
        return str(answer["ETag"])


# -- the keeper --------------------------------------------------------------------------------


@dataclass
class LeaseStatus:
    """What /healthz and /metrics say about the lease (``state_dir/lease.json``)."""

    role: str = "unknown"  # leader, follower, unknown (the bucket could not be read)
    me: str = ""
    holder: str | None = None
    token: int | None = None
    expires: str | None = None  # as written in the lease object
    takeovers: int = 0  # leases this process took from another holder
    acquisitions: int = 0
    error: str | None = None
    updated: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "me": self.me,
            "holder": self.holder,
            "token": self.token,
            "expires": self.expires,
            "takeovers": self.takeovers,
            "acquisitions": self.acquisitions,
            "error": self.error,
            "updated": self.updated,
        }


def builder_id(state_dir: Path) -> str:
    """A random id kept in ``state_dir``: the same builder after a restart, so it knows that
    what it remembers delivering to the bucket is still what the bucket holds."""
    path = state_dir / BUILDER_ID_FILE
    with contextlib.suppress(OSError):
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    new = uuid.uuid4().hex[:12]
    state_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, new.encode() + b"\n")
    return new


class LeaseKeeper:
    """One process's view of the lease: takes it when free, renews it, says whether we may
    publish. :meth:`step` is one round (read, decide, write); :meth:`start` runs rounds in a
    thread every ``lease_seconds / 6`` (a follower notices a dead holder within two rounds
    of the lease running out) and renews every ``lease_seconds / 3``.
    """

    def __init__(
        self,
        lease: BucketLease,
        lease_seconds: float,
        state_dir: Path,
        *,
        on_acquired: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.lease = lease
        self.lease_seconds = float(lease_seconds)
        self.state_dir = state_dir
        self.builder = builder_id(state_dir)
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.on_acquired = on_acquired
        self._mono = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._etag: str | None = None  # of the object as last read or written
        self._first_seen = 0.0  # monotonic time we first saw _etag
        self._deadline: float | None = None  # held until then (monotonic)
        self._record: LeaseRecord | None = None
        #: Bumped on every acquisition; :class:`Leased` compares it with what it last saw.
        self.generation = 0
        #: Whether the last acquisition followed this builder's own lease (no one else
        #: published in between), so a sink's memory of the bucket is still right.
        self.continuous = True
        self.status = LeaseStatus(me=self.me)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- asking ----------------------------------------------------------------------------

    def held(self) -> bool:
        deadline = self._deadline
        return deadline is not None and self._mono() < deadline

    @property
    def token(self) -> int | None:
        record = self._record
        return record.token if record is not None and self.held() else None

    # -- one round ---------------------------------------------------------------------------

    def step(self, *, watching: bool = True) -> bool:
        """Read the lease and act; ``True`` if we hold it afterwards. Bucket errors are
        logged and recorded in the status, never raised (a keeper thread must not die); the
        lease is then held only until its deadline runs out."""
        with self._lock:
            try:
                acquired = self._step(watching)
            except LeaseLost as exc:
                self._lost(f"another builder wrote the lease first ({_short(exc)})")
                acquired = False
            except Exception as exc:
                reason = describe_error(self.lease.settings, "lease", exc)
                if self.held():
                    left = (self._deadline or 0.0) - self._mono()
                    log.warning("lease: cannot renew (held for %.1f s more): %s", left, reason)
                else:
                    if self._deadline is not None:
                        self._lost(f"not renewed in time: {reason}")
                    log.warning("lease: %s", reason)
                self.status.error = reason
                if not self.held():
                    self.status.role = "unknown"
                self._write_status()
                return self.held()
        if acquired and self.on_acquired is not None:
            self.on_acquired()
        return self.held()

    def _step(self, watching: bool) -> bool:
        """True only on a *new* acquisition (the caller then runs ``on_acquired``)."""
        sent = self._mono()
        body, etag = self.lease.read()
        if etag != self._etag:
            self._etag, self._first_seen = etag, sent
        seen = LeaseRecord.from_bytes(body) if body is not None else None
        action = decide(
            self.me,
            self.builder,
            seen,
            body is not None,
            self._mono() - self._first_seen,
            self.lease_seconds,
            self._wall(),
            watching=watching,
        )
        self.status.error = None
        if action.kind == "wait":
            assert seen is not None
            if self._deadline is not None:
                self._lost(f"{seen.holder} holds it")
            self.status.role = "follower"
            self._show(seen)
            self._write_status()
            return False
        assert action.record is not None
        sent = self._mono()
        new_etag = self.lease.write(action.record, if_match=etag)
        was_held = self.held()
        self._etag, self._first_seen = new_etag, sent
        self._deadline = sent + self.lease_seconds
        self._record = action.record
        self.status.role = "leader"
        self._show(action.record)
        if action.kind == "renew" and was_held:
            self._write_status()
            return False
        self.generation += 1
        self.status.acquisitions += 1
        previous_builder = seen.builder if seen is not None else None
        self.continuous = previous_builder in (None, self.builder)
        if seen is not None and seen.holder != self.me and not seen.released:
            self.status.takeovers += 1
            log.warning(
                "lease: took over from %s (token %d); publishing to s3://%s/%s",
                seen.holder,
                action.record.token,
                self.lease.settings.bucket,
                self.lease.settings.prefix,
            )
        else:
            log.info(
                "lease: acquired (token %d); publishing to s3://%s/%s",
                action.record.token,
                self.lease.settings.bucket,
                self.lease.settings.prefix,
            )
        self._write_status()
        return True

    def _lost(self, why: str) -> None:
        if self._deadline is not None:
            log.warning("lease: lost, no longer publishing: %s", why)
        self._deadline = None
        self._record = None
        self.status.role = "follower"

    def _show(self, record: LeaseRecord) -> None:
        self.status.holder = record.holder
        self.status.token = record.token
        self.status.expires = iso_millis(record.expires)

    def _write_status(self) -> None:
        self.status.updated = iso_millis(self._wall())
        with contextlib.suppress(OSError):
            write_atomic(self.state_dir / LEASE_STATUS_FILE, json_bytes(self.status.to_json()))

    # -- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="feedsmith-lease", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        poll = max(0.1, self.lease_seconds / 6)
        renew = max(0.1, self.lease_seconds / 3)
        next_renewal = 0.0
        while not self._stop.is_set():
            if not self.held() or self._mono() >= next_renewal:
                self.step(watching=True)
                if self.held():
                    next_renewal = self._mono() + renew
            self._stop.wait(poll)

    def stop(self, *, release: bool = True) -> None:
        """Stop the thread; with ``release``, hand the lease back so a follower takes over
        at once instead of after ``lease_seconds``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if release:
            self.release()

    def release(self) -> None:
        with self._lock:
            record, etag = self._record, self._etag
            if record is None or etag is None or not self.held():
                return
            try:
                self.lease.write(replace(record, released=True), if_match=etag)
                log.info("lease: released (token %d)", record.token)
            except Exception as exc:  # the lease then simply runs out
                log.warning("lease: could not release: %s", _short(exc))
            self._deadline = None
            self._record = None
            self.status.role = "follower"
            self.status.holder = None
            self._write_status()


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


# -- a sink that only delivers while the lease is held ----------------------------------------


class Leased:
    """Wraps a sink (the bucket, the WebSub notifier): the leader delivers, a follower skips.

    A follower keeps building its own ``output_dir`` so that it can take over with a warm
    index; when it becomes leader, :class:`LeaseKeeper`'s ``on_acquired`` starts a build, and
    that build's full change set brings the bucket up to date (sinks catch up by design). If
    somebody else held the lease in between, the sink's memory of what the bucket holds is
    stale and is dropped (``forget``), so everything is sent again once.
    """

    def __init__(self, inner: Sink, keeper: LeaseKeeper) -> None:
        self.inner = inner
        self.keeper = keeper
        self.name = inner.name
        self._generation = keeper.generation

    def consume(self, changes: ChangeSet) -> None:
        if not self.keeper.status.updated:  # nobody asked the bucket yet: ask now
            self.keeper.step(watching=True)
        if not self.keeper.held():
            if self.keeper.status.role == "unknown":  # the bucket could not be asked
                raise BucketError(self.keeper.status.error or "the lease could not be read")
            log.debug(
                "%s: not the leader, skipped (%s holds the lease)",
                self.name,
                self.keeper.status.holder,
            )
            return
        if self.keeper.generation != self._generation:
            self._generation = self.keeper.generation
            forget = getattr(self.inner, "forget", None)
            if not self.keeper.continuous and forget is not None:
                log.info("%s: another builder published meanwhile; sending everything", self.name)
                forget()
        setter = getattr(self.inner, "set_fence", None)
        if setter is not None:
            setter(self.keeper.token, self.keeper.me)
        self.inner.consume(changes)


def keeper_for(config: Config, *, on_acquired: Callable[[], None] | None = None) -> LeaseKeeper:
    settings = config.publish.s3
    assert settings is not None
    return LeaseKeeper(
        BucketLease(settings), settings.lease_seconds, config.state_dir, on_acquired=on_acquired
    )
