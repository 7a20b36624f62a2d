"""Mirror the published tree into an S3-compatible bucket: the sink behind ``publish.s3``.

Why a mirror of ``output_dir`` rather than a second writer: the local writer has already decided
and written every byte, so the bucket gets exactly those bytes (each one checked against the
manifest's sha256 before it leaves) and ``serve``, a static host and the bucket never disagree.

The layout, key = ``prefix + rel``:

* every published file with its identity bytes, the Content-Type ``serve`` sends, Cache-Control
  (``publish.s3.cache_control``, else serve's ``public, max-age=<interval_seconds>``; a settled
  archive page gets :data:`~feedsmith.core.layout.ARCHIVE_CACHE_CONTROL`, as from ``serve``) and
  the metadata ``feedsmith-sha256``;
* beside it ``<key>.gz``, the build's deterministic sidecar, stored with ``Content-Encoding:
  gzip`` and the same Content-Type. Not gzip bytes under the plain key: a bucket does not
  negotiate, so a client that never asked for gzip would get bytes it cannot read; a CDN picks
  the twin by ``Accept-Encoding`` instead (docs/deploy-bucket.md has the recipes);
* except an archive page (:func:`~feedsmith.core.layout.stored_gzip_only`): stored gzip-only
  on disk, it is put once, under its plain key, as those gzip bytes with ``Content-Encoding:
  gzip``, and no ``.gz`` twin. Every gzip-capable client (nearly all: feed readers, browsers,
  curl with ``--compressed``) reads it from the bucket or a CDN in front of it; ``serve
  --from-bucket`` decompresses it for the rest. Its ``feedsmith-sha256`` is still the plain
  bytes' (the manifest's); a full send to a target deletes the twins an older layout left.
  With ``feed.archive_storage: plain`` an archive page is stored as any file (plain key and
  twin); the form is part of what is recorded as delivered (:data:`.delivery.PLAIN_FORM`), so
  switching the key re-sends every page in the new form in that build (and, back to gzip,
  deletes the twins), and a removed plain page's twin gets the gone document too;
* ``index.json`` (and its ``.gz``) after every file it lists is in place, so whoever reads the
  manifest finds each listed object present and at least as new as the manifest;
* every media file (the manifest's ``media`` section, read from ``media_dir``) under
  ``media/<path>``, with the type the manifest names and no ``.gz`` twin (audio, video and
  pictures are compressed already); one above ``multipart_threshold`` goes up in parts through
  boto3's transfer manager straight from the file (never read into memory). Its sha256 is
  checked before the upload, and the file must not change while it goes up. A media file
  removed from ``media_dir`` follows the rules of any vanished path below;
* a vanished path (the manifest's ``gone``), after the manifest: its key and ``.gz`` replaced by
  a tiny gone document (:data:`GONE_BODY`, ``text/plain``, metadata ``feedsmith-gone: <since>``
  which an edge function turns into a 410), deleted ``gone_days`` after it was put (0: at once).

What was delivered is remembered in ``state_dir/s3-publish.json`` (sha256 per path): a build
sends only what differs, without listing the bucket. Progress is saved after a failure too, so
the next build (also a no-change one: sinks are called with the full tree) sends only what is
still missing. Changing bucket, prefix, endpoint or cache_control sends everything again. With
no record (a fresh clone in CI, or after that file was deleted), the bucket's own ``index.json``
says what is already there (:mod:`feedsmith.publish.s3.remote`): only what differs is sent.

:func:`plan_delivery` is the pure decision; :class:`S3Sink` is the boto3 edge.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import logging
import threading
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feedsmith.core.config import Config, S3Config
from feedsmith.core.layout import (
    ARCHIVE_CACHE_CONTROL,
    CT_TEXT,
    MANIFEST,
    content_type_for,
    iso_seconds,
    settled_archive_pages,
    stored_gzip_only,
)
from feedsmith.publish.changes import ChangeSet, MediaRecord
from feedsmith.publish.s3.client import BucketError, describe_error, error_code, make_client
from feedsmith.publish.s3.delivery import (
    GONE_BODY,
    MEDIA_KEY_PREFIX,
    PLAIN_FORM,
    Delivered,
    Plan,
    plan_delivery,
)
from feedsmith.publish.s3.media_upload import MULTIPART_THRESHOLD, SHA_META, upload_media
from feedsmith.publish.s3.remote import TARGET_META, known_in_bucket, target_digest
from feedsmith.publish.staging import gzip_bytes
from feedsmith.system.statedir import write_atomic

__all__ = [
    "GONE_BODY",
    "GONE_META",
    "STATE_FILE",
    "Delivered",
    "Plan",
    "S3Sink",
    "plan_delivery",
]

log = logging.getLogger("feedsmith.bucket")

STATE_FILE = "s3-publish.json"
#: Bumped when the object layout changes, so every object is sent again in the new layout
#: (2: archive pages stored gzip-only under the plain key).
LAYOUT = 2
GONE_META = "feedsmith-gone"
#: On the manifest while a lease is held: the fencing token and the holder that wrote it.
TOKEN_META = "feedsmith-lease-token"
HOLDER_META = "feedsmith-builder"
#: Files uploaded at once: round trips dominate, not bandwidth (boto3 clients are thread-safe).
UPLOAD_THREADS = 8


def serve_cache_control(config: Config) -> str:
    """What :class:`feedsmith.serve.responder.FeedResponder` sends, so the bucket caches like
    ``serve``."""
    return f"public, max-age={config.schedule.interval_seconds}"


class S3Sink:
    """Delivers each build's change set to ``publish.s3`` (see the module docstring).

    ``client`` and ``clock`` are for tests; by default the client comes from boto3's credential
    chain (environment, profile, instance role) and is made on first use.
    """

    name = "s3"

    def __init__(
        self,
        settings: S3Config,
        state_dir: Path,
        default_cache_control: str,
        *,
        client: Any = None,
        clock: Callable[[], datetime] | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
    ) -> None:
        self.settings = settings
        self.cache_control = settings.cache_control or default_cache_control
        self.state_path = state_dir / STATE_FILE
        self.where = settings.endpoint_url or f"AWS S3 ({settings.region or 'default region'})"
        self.target = json.dumps(
            [LAYOUT, settings.endpoint_url, settings.bucket, settings.prefix, self.cache_control]
        )
        self.multipart_threshold = multipart_threshold
        self._client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self._delivered: Delivered | None = None
        #: (token, holder) while a lease is held (:mod:`feedsmith.publish.s3.lease`): the
        #: manifest is then replaced only if it is still the one this sink wrote, and carries
        #: the token.
        self._fence: tuple[int, str] | None = None

    @classmethod
    def from_config(cls, config: Config) -> S3Sink:
        assert config.publish.s3 is not None
        return cls(config.publish.s3, config.state_dir, serve_cache_control(config))

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def set_fence(self, token: int | None, holder: str) -> None:
        self._fence = (token, holder) if token is not None else None

    def forget(self) -> None:
        """Drop what this sink remembers of the bucket (another builder wrote to it since):
        the next delivery sends everything."""
        self._delivered = Delivered(self.target)
        self._save(self._delivered)

    def consume(self, changes: ChangeSet) -> None:
        delivered = self._load()
        if not delivered.objects and delivered.manifest is None and self._adopt(delivered):
            self._save(delivered)  # so the next build is incremental even if nothing is sent
        now = self._clock()
        files = {rel: f.sha256 for rel, f in changes.files.items()}
        media = {MEDIA_KEY_PREFIX + rel: rec for rel, rec in changes.media.items()}
        files.update((key, rec.sha256) for key, rec in media.items())
        manifest_sha = hashlib.sha256(changes.manifest).hexdigest()
        # What each key must hold, storage form included (see PLAIN_FORM); ``files`` keeps the
        # bare sha256 each upload is checked against.
        wanted = dict(files)
        for rel, found in changes.files.items():
            if stored_gzip_only(rel) and not found.gzip_only:
                wanted[rel] = found.sha256 + PLAIN_FORM
        plan = plan_delivery(
            wanted,
            manifest_sha,
            changes.gone,
            delivered,
            now,
            timedelta(days=self.settings.gone_days),
        )
        if plan.empty:
            log.debug("s3: s3://%s/%s is up to date", self.settings.bucket, self.settings.prefix)
            return
        try:
            _ = self.client  # made here, once: the upload threads share it (sessions are not)
        except Exception as exc:
            raise self._error("connecting", exc) from exc
        try:
            settled = settled_archive_pages(json.loads(changes.manifest)) if plan.uploads else None
            full_send = not delivered.objects
            twins: list[str] = []  # gzip-only now, a twin maybe left beside it
            for rel in self._put_files(changes, plan.uploads, files, settled, media):
                was = delivered.objects.get(rel, "")
                if changes.gzip_only(rel) and (full_send or was.endswith(PLAIN_FORM)):
                    twins.append(rel)  # an older layout's, or feed.archive_storage: plain's
                delivered.objects[rel] = wanted[rel]
                delivered.gone.pop(rel, None)
                delivered.deleted.discard(rel)
            if twins:
                self._drop_twins(sorted(twins))
            if plan.manifest:
                # Last of the published tree: every file it lists is in the bucket by now.
                data = changes.manifest
                meta = {SHA_META: manifest_sha, TARGET_META: target_digest(self.target)}
                ct = content_type_for(MANIFEST)
                condition: dict[str, str] = {}
                if self._fence is not None:
                    meta[TOKEN_META], meta[HOLDER_META] = str(self._fence[0]), self._fence[1]
                    condition = self._manifest_condition(delivered)
                self._put(MANIFEST + ".gz", gzip_bytes(data), ct, True, meta)
                delivered.manifest_etag = self._put(MANIFEST, data, ct, False, meta, condition)
                delivered.manifest = manifest_sha
            for rel, since in plan.gone_docs:
                # An archive page stored plain had its twin, which goes the same way.
                twin = delivered.objects.get(rel, "").endswith(PLAIN_FORM)
                self._put_gone(rel, since, twin)
                delivered.objects.pop(rel, None)
                delivered.gone[rel] = iso_seconds(now)
            for rel in plan.deletions:
                self._delete(rel)
                delivered.objects.pop(rel, None)
                delivered.gone.pop(rel, None)
                delivered.deleted.add(rel)
        finally:
            if self._delivered is delivered:  # not if forget() replaced it meanwhile
                self._save(delivered)
        log.info(
            "s3: s3://%s/%s: %d files uploaded, manifest %s, %d gone, %d deleted",
            self.settings.bucket,
            self.settings.prefix,
            len(plan.uploads),
            "uploaded" if plan.manifest else "unchanged",
            len(plan.gone_docs),
            len(plan.deletions),
        )

    # -- state ---------------------------------------------------------------------------------

    def _load(self) -> Delivered:
        if self._delivered is None:
            try:
                data: bytes | None = self.state_path.read_bytes()
            except OSError:
                data = None
            self._delivered = Delivered.from_bytes(data, self.target)
        return self._delivered

    def _adopt(self, delivered: Delivered) -> bool:
        """Fill an empty record from what the bucket's own manifest shows to be in place."""
        known = known_in_bucket(lambda: self.client, self.settings, self.target)
        if known is None:
            return False
        delivered.objects, delivered.gone, delivered.deleted = (
            known.objects,
            known.gone,
            known.deleted,
        )
        delivered.manifest, delivered.manifest_etag = known.manifest, known.manifest_etag
        return True

    def _save(self, delivered: Delivered) -> None:
        write_atomic(self.state_path, delivered.to_bytes())

    # -- objects -------------------------------------------------------------------------------

    def _put_files(
        self,
        changes: ChangeSet,
        rels: Sequence[str],
        files: Mapping[str, str],
        settled: Collection[str] | None = None,
        media: Mapping[str, MediaRecord] | None = None,
    ) -> Iterator[str]:
        """Upload ``rels`` a few at a time (a first build sends thousands of small objects, each
        a round trip), yielding each one that made it; after the first failure no new upload
        starts, the ones in flight finish, and that failure is raised."""
        if not rels:
            return
        failed = threading.Event()

        def upload(rel: str) -> str | None:
            if failed.is_set():
                return None
            try:
                if media and rel in media:
                    self._put_media(changes, rel, media[rel])
                else:
                    self._put_file(changes, rel, files[rel], rel in (settled or ()))
            except BaseException:
                failed.set()
                raise
            return rel

        first_error: BaseException | None = None
        pool = ThreadPoolExecutor(min(UPLOAD_THREADS, len(rels)), thread_name_prefix="feedsmith-s3")
        try:
            for future in as_completed([pool.submit(upload, rel) for rel in rels]):
                try:
                    done = future.result()
                except BaseException as exc:
                    first_error = first_error or exc
                    continue
                if done is not None:
                    yield done
        finally:  # also when the caller stops listening (an interrupt): start nothing new
            failed.set()
            pool.shutdown(wait=True, cancel_futures=True)
        if first_error is not None:
            raise first_error

    def _put_file(self, changes: ChangeSet, rel: str, sha: str, settled: bool = False) -> None:
        if changes.gzip_only(rel):  # feed.archive_storage: plain → a plain key and its twin
            self._put_gzip_only(changes, rel, sha, settled)
            return
        data = self._verified(rel, sha, lambda: changes.read(rel))
        try:
            gz = changes.read_gz(rel)
            if gzip.decompress(gz) != data:
                gz = gzip_bytes(data)
        except (OSError, EOFError, zlib.error):
            gz = gzip_bytes(data)
        content_type = content_type_for(rel)  # pages: text/html
        # Only bytes that change carry a new header: a page settles when it gains its
        # next-archive link, so it is uploaded again then, immutable.
        cache = ARCHIVE_CACHE_CONTROL if settled else None
        self._put(rel + ".gz", gz, content_type, True, {SHA_META: sha}, cache_control=cache)
        self._put(rel, data, content_type, False, {SHA_META: sha}, cache_control=cache)

    def _put_media(self, changes: ChangeSet, key_rel: str, record: MediaRecord) -> None:
        """One media file, from its path (see the module docstring and :mod:`.media_upload`)."""
        upload_media(
            self.client,
            self.settings,
            changes.media_path(record.rel),
            key_rel,
            record,
            cache_control=self.cache_control,
            multipart_threshold=self.multipart_threshold,
        )

    def _put_gzip_only(self, changes: ChangeSet, rel: str, sha: str, settled: bool) -> None:
        """An archive page: its stored ``.gz`` under the plain key, ``Content-Encoding: gzip``,
        no twin (the layout in the module docstring); checked against the manifest's sha256
        of the plain bytes before it leaves."""
        gz = self._verified(rel + ".gz", sha, lambda: changes.read_gz(rel), gzip.decompress)
        cache = ARCHIVE_CACHE_CONTROL if settled else None
        self._put(rel, gz, content_type_for(rel), True, {SHA_META: sha}, cache_control=cache)

    def _verified(
        self,
        name: str,
        sha: str,
        read: Callable[[], bytes],
        plain: Callable[[bytes], bytes] = bytes,
    ) -> bytes:
        """What ``read`` gives, refused unless its plain bytes are the manifest's: someone may
        have edited output_dir after the build (the next build repairs the disk first), and a
        bucket must never be sent bytes the manifest does not describe."""
        try:
            stored = read()
            data = plain(stored)
        except (OSError, EOFError, zlib.error) as exc:
            raise BucketError(
                f"cannot read {name} for bucket {self.settings.bucket!r}: {exc}"
            ) from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise BucketError(
                f"{name} on disk differs from the manifest; not uploaded to bucket"
                f" {self.settings.bucket!r}"
            )
        return stored

    def _drop_twins(self, rels: Sequence[str]) -> None:
        """Delete the ``.gz`` twins an older layout (after a full send to this target) or
        ``feed.archive_storage: plain`` (a page delivered in that form) put beside pages now
        stored gzip-only. Missing keys are no error to S3."""
        keys = [{"Key": self.settings.prefix + rel + ".gz"} for rel in rels]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            try:
                self.client.delete_objects(
                    Bucket=self.settings.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as exc:
                raise self._error(f"deletion of {batch[0]['Key']}", exc) from exc

    def _manifest_condition(self, delivered: Delivered) -> dict[str, str]:
        """Replace the manifest only if it is still the one we wrote (or, knowing none, the
        one there now): a builder that lost its lease while stalled cannot overwrite what the
        new leader published."""
        etag = delivered.manifest_etag
        if etag is None:
            try:
                head = self.client.head_object(
                    Bucket=self.settings.bucket, Key=self.settings.prefix + MANIFEST
                )
                etag = str(head["ETag"])
            except Exception as exc:
                if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
                    raise self._error(f"reading {MANIFEST}", exc) from exc
        return {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}

    def _put_gone(self, rel: str, since: str, twin: bool = False) -> None:
        """``twin``: the page had a ``.gz`` twin though its name says gzip-only (stored plain,
        ``feed.archive_storage: plain``)."""
        meta = {GONE_META: since}
        if twin or not stored_gzip_only(rel):  # a gzip-only archive page had no twin
            self._put(rel + ".gz", gzip_bytes(GONE_BODY), CT_TEXT, True, meta)
        self._put(rel, GONE_BODY, CT_TEXT, False, meta)

    def _put(
        self,
        rel: str,
        body: bytes,
        content_type: str,
        gzipped: bool = False,
        meta: Mapping[str, str] | None = None,
        condition: Mapping[str, str] | None = None,
        cache_control: str | None = None,
    ) -> str | None:
        """Upload one object; its ETag (``None`` for a multipart upload)."""
        key = self.settings.prefix + rel
        args: dict[str, Any] = {
            "ContentType": content_type,
            "CacheControl": cache_control or self.cache_control,
            "Metadata": dict(meta or {}),
        }
        if gzipped:
            args["ContentEncoding"] = "gzip"
        try:
            if len(body) < self.multipart_threshold:
                md5 = hashlib.md5(body, usedforsecurity=False).digest()
                answer = self.client.put_object(
                    Bucket=self.settings.bucket,
                    Key=key,
                    Body=body,
                    ContentMD5=base64.b64encode(md5).decode(),
                    **args,
                    **(condition or {}),
                )
                return str(answer.get("ETag")) if answer.get("ETag") else None
            else:
                from boto3.s3.transfer import TransferConfig

                transfer = TransferConfig(
                    multipart_threshold=self.multipart_threshold,
                    multipart_chunksize=self.multipart_threshold,
                )
                self.client.upload_fileobj(
                    io.BytesIO(body), self.settings.bucket, key, ExtraArgs=args, Config=transfer
                )
                return None
        except Exception as exc:
            if condition and error_code(exc) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                self.forget()
                raise BucketError(
                    f"{key} in bucket {self.settings.bucket!r} was replaced by another builder"
                    " since this one last wrote it: not overwritten (the lease was lost)"
                ) from exc
            raise self._error(f"upload of {key}", exc) from exc

    def _delete(self, rel: str) -> None:
        keys = [{"Key": self.settings.prefix + rel + ".gz"}, {"Key": self.settings.prefix + rel}]
        try:
            answer = self.client.delete_objects(
                Bucket=self.settings.bucket, Delete={"Objects": keys, "Quiet": True}
            )
        except Exception as exc:
            raise self._error(f"deletion of {keys[1]['Key']}", exc) from exc
        for err in answer.get("Errors", []):
            raise BucketError(
                f"deletion of {err.get('Key')} in bucket {self.settings.bucket!r} at "
                f"{self.where} failed: {err.get('Code')}: {err.get('Message')}"
            )

    def _error(self, action: str, exc: BaseException) -> BucketError:
        return BucketError(describe_error(self.settings, action, exc))
