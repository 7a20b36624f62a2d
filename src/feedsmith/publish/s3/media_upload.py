"""Put one media file into the bucket, straight from ``media_dir``.

Apart from :mod:`.sink` because a recording is not a feed: it is never in memory (boto3's
transfer manager reads the file in parts above :data:`MULTIPART_THRESHOLD`), it has no gzip
twin, and it can change under us while it goes up: its sha256 is checked against the
manifest's before the upload and its stat after, so a bucket never holds bytes the manifest
does not name.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from feedsmith.core.config import S3Config
from feedsmith.publish.changes import MediaRecord
from feedsmith.publish.s3.client import BucketError, describe_error

SHA_META = "feedsmith-sha256"
#: Above this a file goes up in parts (boto3's managed transfer); feeds rarely get there.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
#: S3's smallest part (but the last): a lower threshold still sends parts this big.
MIN_PART = 5 * 1024 * 1024


def upload_media(
    client: Any,
    settings: S3Config,
    path: Path,
    key_rel: str,
    record: MediaRecord,
    *,
    cache_control: str,
    multipart_threshold: int = MULTIPART_THRESHOLD,
) -> None:
    """Upload ``path`` as ``prefix + key_rel`` with the manifest's type and sha256."""
    try:
        before = os.stat(path)
        with open(path, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise BucketError(
            f"cannot read media file {record.rel} for bucket {settings.bucket!r}: {exc}"
        ) from exc
    if sha != record.sha256:
        raise BucketError(
            f"media file {record.rel} changed since the build; not uploaded to bucket"
            f" {settings.bucket!r} (the next build lists the new bytes)"
        )
    from boto3.s3.transfer import TransferConfig  # only with a bucket configured

    transfer = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=max(multipart_threshold, MIN_PART),
    )
    key = settings.prefix + key_rel
    args = {
        "ContentType": record.content_type,
        "CacheControl": cache_control,
        "Metadata": {SHA_META: record.sha256},
    }
    try:
        client.upload_file(str(path), settings.bucket, key, ExtraArgs=args, Config=transfer)
    except Exception as exc:
        raise BucketError(describe_error(settings, f"upload of {key}", exc)) from exc
    try:
        after = os.stat(path)
    except OSError:
        after = None
    if after is None or (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size):
        raise BucketError(
            f"media file {record.rel} changed while it was uploaded to bucket"
            f" {settings.bucket!r}; the next build sends it again"
        )
