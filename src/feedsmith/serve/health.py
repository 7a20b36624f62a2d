"""What a web worker says about the builder: ``/healthz``, the lease gauges, the rebuild webhook.

The builder tells the web workers about its work through files in ``state_dir`` (``status.json``,
``lease.json``, ``rebuild.request``); this module is the web side of those files, apart from the
HTTP views so each is testable as a function of a file.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from feedsmith.core.layout import iso_exact
from feedsmith.serve import public
from feedsmith.serve.status import (
    BuildStatus,
    parse_status,
    parse_time,
    read_lease_status,
    stat_key,
    status_path,
)

Gauges = list[tuple[str, str, float]]

#: Must match ``schedule.REQUEST_FILE``: the builder watches for this file.
REBUILD_REQUEST_FILE = "rebuild.request"
TOKEN_ENV_VAR = "FEEDSMITH_REBUILD_TOKEN"


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
            key = stat_key(os.stat(self.path))
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


class GaugeCollector(Collector):
    """Gauges computed at scrape time from ``(name, help, value)`` triples."""

    def __init__(self, source: Callable[[], Gauges]) -> None:
        self.source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, doc, value in self.source():
            yield GaugeMetricFamily(name, doc, value=value)


def lease_gauges(state_dir: Path) -> Gauges:
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
    expires = parse_time(lease.get("expires"))
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
        "last_build": None if last is None else public.last_build(last),
        "last_success": iso_exact(status.last_success) if status and status.last_success else None,
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
