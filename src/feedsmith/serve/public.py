"""What public pages (``/``, ``/healthz``) may say about a failure: its kind and a generic
sentence, never the detail.

Error texts name file-system paths (``posts_dir not found: /srv/…``), bucket names, endpoints
and hosts, and carry exception text that can hold anything; shown to the world they map the
machine for an attacker. The detail stays where only the operator reads it — the log and the
private ``state_dir/status.json`` — and public pages get ``{"kind": …, "message": …}`` from the
fixed vocabulary below, so nothing of the detail can leak through, whatever it says.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from feedsmith.core.layout import iso_exact
from feedsmith.core.text import escape_controls
from feedsmith.pipeline.kept import KEPT_NOTE
from feedsmith.serve.status import BuildStatus, LastBuild

#: (kind, message) by what the detail says, first match wins.
_BUILD_KINDS = (
    ("posts_dir not found", "posts_dir_missing", "the posts folder is missing"),
    ("no space left", "disk_full", "the disk is full"),
    ("disk full", "disk_full", "the disk is full"),
    ("permission", "permission_denied", "a file or folder the build needs is not accessible"),
)
#: The build's stages (``BuildError.stage``): a failure there is ``<stage>_failed``.
_STAGES = ("prepare", "scan", "load state", "render", "publish", "save state")
_SINKS = {"s3": "the bucket", "websub": "the WebSub hubs", "local": "the local output folder"}
_BUCKET_KINDS = (
    ("cannot reach", "bucket_unreachable", "bucket unreachable"),
    ("timed out", "bucket_unreachable", "bucket unreachable"),
    ("does not exist", "bucket_missing", "the bucket does not exist"),
    ("credentials", "bucket_access_denied", "the bucket refused access"),
    ("denied", "bucket_access_denied", "the bucket refused access"),
    ("cannot use the bucket's", "manifest_invalid", "the bucket's manifest cannot be used"),
)
#: Lease fields that say nothing about hosts, processes or buckets.
_LEASE_FIELDS = ("role", "token", "expires", "takeovers", "acquisitions", "updated")


def _error(kind: str, message: str) -> dict[str, str]:
    return {"kind": kind, "message": message}


def build_error(detail: str | None) -> dict[str, str] | None:
    """A failed build's error (``LastBuild.error``) as kind + generic message."""
    if detail is None:
        return None
    lowered = detail.lower()
    for needle, kind, message in _BUILD_KINDS:
        if needle in lowered:
            return _error(kind, message)
    stage = detail.split(":", 1)[0]
    if stage in _STAGES:
        return _error(f"{stage.replace(' ', '_')}_failed", f"the build failed at its {stage} step")
    return _error("build_failed", "the build failed")


def last_build(last: LastBuild) -> dict[str, Any]:
    """One build as ``/healthz`` and ``/`` show it: when, how it went and how long it took, its
    error by kind only."""
    return {
        "started": iso_exact(last.started),
        "finished": iso_exact(last.finished),
        "ok": last.ok,
        "seconds": round(last.seconds, 3),
        "error": build_error(last.error),
    }


def sink_error(line: str) -> dict[str, str]:
    """A ``"<sink>: <reason>"`` line of ``BuildStatus.sink_errors``, without the reason."""
    name = line.split(":", 1)[0]
    where = _SINKS.get(name, "a destination")
    return {
        "sink": name if name in _SINKS else "other",
        "kind": "delivery_failed",
        "message": f"delivering to {where} failed; the next build retries",
    }


def bucket_error(detail: str | None) -> dict[str, str] | None:
    """A replica's bucket read error as kind + generic message."""
    if detail is None:
        return None
    lowered = detail.lower()
    for needle, kind, message in _BUCKET_KINDS:
        if needle in lowered:
            return _error(kind, message)
    return _error("bucket_error", "the bucket cannot be read")


def kept_line(path: str, posts_dir: Path | None) -> str:
    """A kept post (its problem's ``path``) as public pages show it: the path inside
    ``posts_dir`` plus the note, escaped, without the reason (which can quote file system
    errors) or any part of the path outside ``posts_dir``. Made from the path itself, never by
    parsing a report line: a file name may hold ``:`` and whole fake report lines."""
    rel = os.path.basename(path)
    if posts_dir is not None:
        inside = os.path.relpath(os.path.abspath(path), os.path.abspath(posts_dir))
        if not inside.startswith(".."):
            rel = inside.replace(os.sep, "/")
    return f"{escape_controls(rel)}: broken, {KEPT_NOTE}"


def lease(raw: dict[str, Any]) -> dict[str, Any]:
    """The builder's lease status without holder ids (host names, pids) or error text."""
    out = {key: raw.get(key) for key in _LEASE_FIELDS if key in raw}
    if raw.get("error"):
        out["error"] = bucket_error(str(raw["error"]))
    return out


def detail(status: BuildStatus) -> dict[str, Any]:
    """What the kinds stand for, for ``/healthz?detail=1`` with the rebuild bearer token: the
    operator's view, never shown without it."""
    last = status.last_build
    return {
        "error": last.error if last else None,
        "sink_errors": list(status.sink_errors),
        "kept": list(status.kept),
    }
