"""What the bucket sink remembers of the bucket, and what it must do next: pure decisions.

Split from :mod:`.sink` (which does the boto3 side) so the delivery rules — what is new, what is
gone, when a gone document may be deleted — can be read and tested without a bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from feedsmith.core.layout import iso_seconds, parse_iso
from feedsmith.core.state import json_bytes

#: Where ``media_dir``'s files go, under the prefix: the same path as ``/media/`` on ``serve``.
#: Their delivery records are keyed so too (``media/ep1.mp3``), beside the published files'.
MEDIA_KEY_PREFIX = "media/"

#: What a vanished path's key holds until it is deleted (the same words ``serve`` answers a
#: gone feed's 410 with). Here, with the rules: a fresh clone recognises the gone documents in
#: a bucket listing by these exact bytes (:mod:`.remote`).
GONE_BODY = b"gone: this feed no longer exists\n"

#: Appended to the sha256 an archive page's delivery is recorded (and compared) by when it is
#: stored plain (``feed.archive_storage: plain``: the plain key holds plain bytes, beside a
#: ``.gz`` twin) rather than gzip-only (gzip bytes under the plain key, no twin). The same
#: bytes in the other form are not delivered: switching the key re-sends every archive page.
PLAIN_FORM = "+plain"


@dataclass
class Delivered:
    """This sink's memory of the bucket (``state_dir/s3-publish.json``)."""

    target: str  # endpoint, bucket, prefix, layout and headers: a change means "send all"
    #: rel -> sha256 in the bucket (+ .gz); an archive page stored plain: + :data:`PLAIN_FORM`
    objects: dict[str, str] = field(default_factory=dict)
    manifest: str | None = None  # sha256 of the index.json in the bucket
    manifest_etag: str | None = None  # its ETag, for the fenced (If-Match) replacement
    gone: dict[str, str] = field(default_factory=dict)  # rel -> when its gone doc was put
    deleted: set[str] = field(default_factory=set)  # gone paths whose objects were deleted

    def to_bytes(self) -> bytes:
        return json_bytes(
            {
                "target": self.target,
                "objects": self.objects,
                "manifest": self.manifest,
                "manifest_etag": self.manifest_etag,
                "gone": self.gone,
                "deleted": sorted(self.deleted),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes | None, target: str) -> Delivered:
        """Unreadable, or for another target: nothing delivered (everything is sent again)."""
        try:
            raw = json.loads(data) if data is not None else None
        except ValueError:
            raw = None
        if not isinstance(raw, dict) or raw.get("target") != target:
            return cls(target)
        try:
            return cls(
                target,
                objects={str(k): str(v) for k, v in raw.get("objects", {}).items()},
                manifest=raw.get("manifest"),
                manifest_etag=raw.get("manifest_etag"),
                gone={str(k): str(v) for k, v in raw.get("gone", {}).items()},
                deleted={str(v) for v in raw.get("deleted", [])},
            )
        except (AttributeError, TypeError):
            return cls(target)


@dataclass(frozen=True)
class Plan:
    """One delivery, in the order it is carried out."""

    uploads: tuple[str, ...] = ()  # files whose bytes the bucket lacks (each with its .gz)
    manifest: bool = False  # index.json differs from the one in the bucket
    gone_docs: tuple[tuple[str, str], ...] = ()  # (rel, since): replaced by the gone document
    deletions: tuple[str, ...] = ()  # vanished paths whose delay is over (objects deleted)

    @property
    def empty(self) -> bool:
        return not (self.uploads or self.manifest or self.gone_docs or self.deletions)


def plan_delivery(
    files: Mapping[str, str],
    manifest_sha: str,
    gone: Mapping[str, str],
    delivered: Delivered,
    now: datetime,
    gone_after: timedelta,
) -> Plan:
    """Compare the published tree (``files``: rel -> sha256, the manifest's ``gone``) with
    what the bucket holds, and say what to send.

    A vanished path gets a gone document if this sink delivered it, or if it vanished less
    than ``gone_after`` ago (the state was lost, or the bucket is new: readers may still ask).
    Objects this sink delivered that the manifest neither lists nor calls gone count as gone
    from ``now``; gone documents it put that the manifest no longer names are deleted on
    time all the same. The delay runs from when the gone document was put, not from ``since``: a
    bucket that was down for a week still says "gone" for the full delay.
    """
    uploads = tuple(sorted(rel for rel, sha in files.items() if delivered.objects.get(rel) != sha))
    vanished = {rel: since for rel, since in gone.items() if rel not in files}
    for rel in delivered.objects:
        if rel not in files:
            vanished.setdefault(rel, iso_seconds(now))
    # A gone document the manifest no longer names (a fresh clone's manifest starts its
    # ``gone`` empty): still deleted on time, from when it was put.
    for rel, put_at in delivered.gone.items():
        if rel not in files:
            vanished.setdefault(rel, put_at)
    gone_docs: list[tuple[str, str]] = []
    deletions: list[str] = []
    for rel, since in sorted(vanished.items()):
        if rel in delivered.deleted:
            continue
        put_at = delivered.gone.get(rel)
        if put_at is not None:
            if now - _parse_iso(put_at, now) >= gone_after:
                deletions.append(rel)
        elif rel in delivered.objects or now - _parse_iso(since, now) < gone_after:
            if gone_after > timedelta(0):
                gone_docs.append((rel, since))
            else:
                deletions.append(rel)
    return Plan(
        uploads=uploads,
        manifest=delivered.manifest != manifest_sha,
        gone_docs=tuple(gone_docs),
        deletions=tuple(deletions),
    )


def _parse_iso(value: str, default: datetime) -> datetime:
    try:
        return parse_iso(value)
    except (TypeError, ValueError):
        return default


# -- the boto3 edge ----------------------------------------------------------------------------
