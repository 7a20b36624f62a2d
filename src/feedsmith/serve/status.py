"""``state_dir/status.json``: what the builder tells the web workers about its builds.

The builder process is the only writer (``schedule.BuildService`` calls :func:`record_build`
after every build attempt); web workers only read, for ``/``, ``/healthz`` and ``/metrics``.
A file rather than shared memory because the workers are separate processes started by the WSGI
server and may be restarted at any time; an atomic replace means a reader sees either the old or
the new status, never half of one.

The file keeps running totals (builds by result, seconds spent building) as well as the last
build, so counters survive web-worker restarts and are the same whichever worker is scraped.
Counts of the *last successful* build are kept when a later build fails: a failed build publishes
nothing, so the feeds being served are still those counts.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedsmith.core.layout import iso_exact, parse_iso
from feedsmith.publish.s3.lease import LEASE_STATUS_FILE
from feedsmith.system.statedir import write_private

log = logging.getLogger("feedsmith.status")

STATUS_FILE = "status.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LastBuild:
    """One build attempt. Counts are ``None`` when the build failed (it reported nothing)."""

    started: datetime
    finished: datetime
    ok: bool
    seconds: float
    error: str | None = None
    posts: int | None = None
    feeds: int | None = None
    problems: int | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``status.json`` keeps it: the whole error text, which only the operator sees;
        the public pages show :func:`feedsmith.serve.public.last_build` of it."""
        return {
            "started": iso_exact(self.started),
            "finished": iso_exact(self.finished),
            "ok": self.ok,
            "seconds": self.seconds,
            "error": self.error,
            "posts": self.posts,
            "feeds": self.feeds,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class BuildStatus:
    """Everything web workers know about the builder's work so far.

    ``posts``/``feeds``/``problems`` describe the feeds currently published, i.e. the last build
    that reported them, which a failed build does not change.
    """

    last_build: LastBuild | None = None
    last_success: datetime | None = None
    builds_ok: int = 0
    builds_failed: int = 0
    build_seconds_total: float = 0.0
    posts: int | None = None
    feeds: int | None = None
    problems: int | None = None
    #: Posts published from their last valid version because their file is broken now
    #: (``path:line: warning: reason`` lines, see :mod:`feedsmith.pipeline.kept`).
    kept: tuple[str, ...] = ()
    #: The same posts as public pages show them: the name inside ``posts_dir`` only.
    kept_public: tuple[str, ...] = ()
    #: ``"sink: reason"`` for each sink (bucket, hub...) the last build could not deliver to;
    #: the local feeds are out and the next build delivers again.
    sink_errors: tuple[str, ...] = ()

    @property
    def has_succeeded(self) -> bool:
        return self.last_success is not None

    def to_json(self) -> dict[str, Any]:
        last = self.last_build
        return {
            "version": FORMAT_VERSION,
            "last_build": None if last is None else last.to_json(),
            "last_success": iso_exact(self.last_success) if self.last_success else None,
            "builds_ok": self.builds_ok,
            "builds_failed": self.builds_failed,
            "build_seconds_total": self.build_seconds_total,
            "posts": self.posts,
            "feeds": self.feeds,
            "problems": self.problems,
            "kept": list(self.kept),
            "kept_public": list(self.kept_public),
            "sink_errors": list(self.sink_errors),
        }

    @classmethod
    def from_json(cls, data: Any) -> BuildStatus:
        """Raise ``ValueError``/``TypeError``/``KeyError`` on a shape we did not write."""
        if not isinstance(data, dict):
            raise TypeError("status must be a JSON object")
        raw_last = data.get("last_build")
        last: LastBuild | None = None
        if raw_last is not None:
            last = LastBuild(
                started=parse_iso(raw_last["started"]),
                finished=parse_iso(raw_last["finished"]),
                ok=bool(raw_last["ok"]),
                seconds=float(raw_last["seconds"]),
                error=_opt_str(raw_last.get("error")),
                posts=_opt_int(raw_last.get("posts")),
                feeds=_opt_int(raw_last.get("feeds")),
                problems=_opt_int(raw_last.get("problems")),
            )
        success = data.get("last_success")
        return cls(
            last_build=last,
            last_success=parse_iso(success) if success else None,
            builds_ok=int(data.get("builds_ok", 0)),
            builds_failed=int(data.get("builds_failed", 0)),
            build_seconds_total=float(data.get("build_seconds_total", 0.0)),
            posts=_opt_int(data.get("posts")),
            feeds=_opt_int(data.get("feeds")),
            problems=_opt_int(data.get("problems")),
            kept=tuple(str(line) for line in data.get("kept", ())),
            kept_public=tuple(str(line) for line in data.get("kept_public", ())),
            sink_errors=tuple(str(line) for line in data.get("sink_errors", ())),
        )


#: Written by the lease keeper (:mod:`feedsmith.publish.s3.lease`) on every change of the lease.


def read_lease_status(state_dir: Path) -> dict[str, Any] | None:
    """The builder's view of the bucket lease, for /healthz and /metrics (``None``: no lease)."""
    try:
        data = json.loads((Path(state_dir) / LEASE_STATUS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def status_path(state_dir: Path) -> Path:
    return Path(state_dir) / STATUS_FILE


def read_status(state_dir: Path) -> BuildStatus | None:
    """The recorded status, or ``None`` when no build was ever recorded.

    A corrupt or unreadable file is treated like a missing one (and logged): the web workers must
    keep serving, and the builder's next :func:`record_build` rewrites it whole.
    """
    path = status_path(state_dir)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    return parse_status(data, path)


def parse_status(data: bytes, where: Path | str = STATUS_FILE) -> BuildStatus | None:
    """Split out of :func:`read_status` so a caller that already has the bytes (a web worker
    caching on the file's stat) does not read twice."""
    try:
        return BuildStatus.from_json(json.loads(data))
    except (ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring unreadable %s: %s", where, exc)
        return None


def record_build(
    state_dir: Path,
    *,
    started: datetime,
    finished: datetime,
    ok: bool,
    seconds: float,
    error: str | None = None,
    posts: int | None = None,
    feeds: int | None = None,
    problems: int | None = None,
    kept: list[str] | None = None,
    sink_errors: list[str] | None = None,
    kept_public: list[str] | None = None,
) -> BuildStatus:
    """Add one build attempt to ``status.json`` and return the new status.

    Read-modify-write by the single builder process, published with an atomic rename.
    """
    previous = read_status(state_dir) or BuildStatus()
    last = LastBuild(
        started=_utc(started),
        finished=_utc(finished),
        ok=ok,
        seconds=float(seconds),
        error=None if ok else (error or "build failed"),
        posts=posts,
        feeds=feeds,
        problems=problems,
    )
    status = replace(
        previous,
        last_build=last,
        last_success=last.finished if ok else previous.last_success,
        builds_ok=previous.builds_ok + (1 if ok else 0),
        builds_failed=previous.builds_failed + (0 if ok else 1),
        build_seconds_total=previous.build_seconds_total + max(0.0, float(seconds)),
        posts=posts if posts is not None else previous.posts,
        feeds=feeds if feeds is not None else previous.feeds,
        problems=problems if problems is not None else previous.problems,
        kept=tuple(kept) if kept is not None else previous.kept,
        kept_public=tuple(kept_public) if kept_public is not None else previous.kept_public,
        sink_errors=tuple(sink_errors) if sink_errors is not None else previous.sink_errors,
    )
    write_status(state_dir, status)
    return status


def write_status(state_dir: Path, status: BuildStatus) -> None:
    """Atomic replace: a web worker never reads a half-written file."""
    state_dir = Path(state_dir)
    payload = json.dumps(status.to_json(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    write_private(status_path(state_dir), lambda fh: fh.write(payload))  # 0600, see statedir


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    """What says a file changed since it was read: a new build replaces files, never edits them."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def parse_time(value: Any) -> datetime | None:
    """A time read from a file someone else wrote (the manifest, the lease): ``None`` when it is
    missing or not ISO 8601, instead of an error the reader would have to catch."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except (TypeError, ValueError):
        return None


def _utc(value: datetime) -> datetime:
    # The builder's clock is aware; a naive value can only mean UTC here.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("expected an integer, not a boolean")
    return int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
