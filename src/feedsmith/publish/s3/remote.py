"""What a bucket already holds, read from the bucket itself when ``state_dir`` has no record.

Why: a CI job builds from a fresh clone, so ``state_dir/s3-publish.json`` is missing on every
deploy, and without this each deploy uploads every object again (about 53,000 at 10,000 posts)
although the bucket holds the same bytes. The bucket's own ``index.json`` says the sha256 of
every file; one GET of it and one listing of the prefix (1,000 keys a request) replace them.

What is trusted, and why it is sound:

* The sink puts ``index.json`` last, after every file it lists and each file's ``.gz`` twin
  before the file. So a listed file whose object and twin both exist and were last written no
  later than the manifest holds the bytes the manifest names (its size is checked too:
  ``gz_bytes`` for an archive page, one object of gzip bytes with no twin). One
  written *after* the manifest comes from a delivery that failed before its own manifest: its
  bytes are unknown, so it is sent again. The twin is the deterministic gzip of the file, put by
  the same delivery, so it needs no hash of its own.
* The manifest carries ``feedsmith-target``: a digest of the sink's target (layout, endpoint,
  bucket, prefix, Cache-Control). The objects' headers cannot be read without a HEAD each, so
  they are trusted to be what that target puts; a manifest without it (an older feedsmith) or
  with another (``cache_control`` changed) trusts nothing, and everything is sent once.
* A path the manifest calls gone: absent means deleted; written after the manifest means its
  gone document is in place (its delay runs from then); older means the gone document never
  replaced it, so the plan treats it as delivered and the gone document goes up.
* A media file (the manifest's ``media`` section, under ``media/``) is in place when its object
  exists with the listed size and is no newer than the manifest (it has no twin).
* Objects under the prefix that the manifest does not mention are left alone: never delete
  what we cannot name. Except gone documents (exactly :data:`~.delivery.GONE_BODY`, known by
  size and MD5 ETag): a fresh clone's manifest does not list what an earlier fresh clone
  turned into one, so they count as put when the listing says, and are deleted ``gone_days``
  after, as with a record.

A manifest that is missing, unreadable, not JSON or of another shape trusts nothing (everything
is sent, as for an empty bucket). :func:`known_from_bucket` is the pure decision,
:func:`read_bucket` and :func:`known_in_bucket` the boto3 edge.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedsmith.core.config import S3Config
from feedsmith.core.layout import MANIFEST, iso_seconds, listed_gzip_only, stored_gzip_only
from feedsmith.publish.changes import manifest_records, media_records
from feedsmith.publish.s3.client import describe_error, error_code
from feedsmith.publish.s3.delivery import GONE_BODY, MEDIA_KEY_PREFIX, PLAIN_FORM

__all__ = [
    "TARGET_META",
    "BucketView",
    "Known",
    "Listed",
    "Untrusted",
    "known_from_bucket",
    "known_in_bucket",
    "read_bucket",
    "target_digest",
]

log = logging.getLogger("feedsmith.bucket")

#: Metadata on the manifest: :func:`target_digest` of the sink that put it.
TARGET_META = "feedsmith-target"


class Untrusted(ValueError):
    """The bucket's manifest tells nothing usable; the message says why (one log line)."""


@dataclass(frozen=True)
class Listed:
    """One object as a listing shows it."""

    size: int
    etag: str
    modified: datetime


@dataclass(frozen=True)
class BucketView:
    """The bucket's manifest as one GET returned it, and the listing of the prefix after it."""

    manifest: bytes
    etag: str
    target: str | None  # its TARGET_META
    listing: Mapping[str, Listed]  # path relative to the prefix -> object


@dataclass
class Known:
    """What the bucket holds, in the terms of the sink's record (:class:`.delivery.Delivered`)."""

    objects: dict[str, str] = field(default_factory=dict)
    manifest: str | None = None
    manifest_etag: str | None = None
    gone: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


def target_digest(target: str) -> str:
    return hashlib.sha256(target.encode("utf-8")).hexdigest()[:32]


def known_from_bucket(view: BucketView, target: str) -> Known:
    """What ``view`` shows to be in place (see the module docstring); raises
    :class:`Untrusted` when nothing is."""
    if view.target != target_digest(target):
        raise Untrusted("was put with other settings or by an older feedsmith")
    listed_manifest = view.listing.get(MANIFEST)
    if listed_manifest is None or listed_manifest.etag != view.etag:
        raise Untrusted("changed while it was read")
    try:
        raw = json.loads(view.manifest)
    except ValueError as exc:
        raise Untrusted("is not JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("gone", {}), dict):
        raise Untrusted("is not a feedsmith manifest")
    written = listed_manifest.modified
    known = Known(manifest_etag=view.etag)
    if MANIFEST + ".gz" in view.listing:
        known.manifest = hashlib.sha256(view.manifest).hexdigest()
    files: set[str] = set()
    for rel, rec in manifest_records(raw):
        files.add(rel)
        if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
            continue
        obj = view.listing.get(rel)
        # One object, its gzip bytes, no twin; an archive page stored plain (feed.archive_storage:
        # plain) has its twin, and its form is part of what the sink records as delivered.
        form = ""
        if listed_gzip_only(rel, rec):
            twin, size = obj, rec.get("gz_bytes")
        else:
            twin, size = view.listing.get(rel + ".gz"), rec.get("bytes")
            if stored_gzip_only(rel):
                form = PLAIN_FORM  # as the sink records it: the form is part of what is there
        if (
            obj is not None
            and twin is not None
            and obj.modified <= written
            and twin.modified <= written
            and obj.size == size
        ):
            known.objects[rel] = rec["sha256"] + form
    for rel, media in media_records(raw).items():  # no .gz twin: audio does not compress
        key = MEDIA_KEY_PREFIX + rel
        obj = view.listing.get(key)
        if obj is not None and obj.modified <= written and obj.size == media.size:
            known.objects[key] = media.sha256
    named = files | {rel for rel in raw.get("gone", {}) if isinstance(rel, str)}
    named |= {MEDIA_KEY_PREFIX + rel for rel in media_records(raw)}
    for rel, obj in view.listing.items():
        if rel not in named and _is_gone_document(obj):
            # Put by an earlier fresh clone whose manifest did not call it gone (its own
            # ``gone`` started empty): the delay runs from when it was put, as with a record.
            known.gone[rel] = iso_seconds(obj.modified)
    for rel in raw.get("gone", {}):
        if not isinstance(rel, str) or rel in files:
            continue
        obj = view.listing.get(rel)
        if obj is None:
            known.deleted.add(rel)
        elif obj.modified >= written:
            known.gone[rel] = iso_seconds(obj.modified)
        else:
            known.objects[rel] = ""  # old bytes, not ours to name: replaced by the gone document
    return known


_GONE_ETAG = hashlib.md5(GONE_BODY, usedforsecurity=False).hexdigest()


def _is_gone_document(obj: Listed) -> bool:
    """Whether a listed object is exactly :data:`~.delivery.GONE_BODY` (its size and its
    single-part ETag, the MD5 of the bytes): the one kind of object this module names without
    the manifest, because only the sink writes those bytes."""
    return obj.size == len(GONE_BODY) and obj.etag.strip('"') == _GONE_ETAG


def read_bucket(client: Any, bucket: str, prefix: str) -> BucketView | None:
    """The manifest under ``prefix`` and the listing of the prefix; ``None`` when there is no
    manifest. Other failures raise (the caller logs them and sends everything)."""
    try:
        answer = client.get_object(Bucket=bucket, Key=prefix + MANIFEST)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    data = answer["Body"].read()
    meta = {str(k).lower(): str(v) for k, v in (answer.get("Metadata") or {}).items()}
    listing: dict[str, Listed] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = str(obj["Key"])[len(prefix) :]
            listing[rel] = Listed(int(obj["Size"]), str(obj["ETag"]), obj["LastModified"])
    return BucketView(data, str(answer.get("ETag")), meta.get(TARGET_META), listing)


def known_in_bucket(client: Callable[[], Any], settings: S3Config, target: str) -> Known | None:
    """What the bucket shows to be in place, or ``None`` (one log line: why everything is
    sent). Never raises: a bucket that cannot be read fails the uploads that follow, with
    their usual one-line error."""
    where = f"s3://{settings.bucket}/{settings.prefix}"
    try:
        view = read_bucket(client(), settings.bucket, settings.prefix)
        if view is None:
            log.info("s3: no record of %s, and no %s there: sending everything", where, MANIFEST)
            return None
        known = known_from_bucket(view, target)
    except Untrusted as exc:
        log.info("s3: no record of %s, and its %s %s: sending everything", where, MANIFEST, exc)
        return None
    except Exception as exc:
        reason = describe_error(settings, f"reading {MANIFEST}", exc)
        log.info("s3: no record of %s: %s; sending everything", where, reason)
        return None
    log.info(
        "s3: no record of %s: %d files already there, as its %s says",
        where,
        len(known.objects),
        MANIFEST,
    )
    return known
