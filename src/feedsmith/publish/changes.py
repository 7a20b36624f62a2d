"""What one build changed, and the one interface every destination consumes it through.

A build ends in a :class:`ChangeSet`: the complete published tree as the manifest lists it
(every file with its sha256, size and change time, every feed, every ``gone`` path), plus what
this build changed in it — files whose bytes are new, files no longer published, and the
temp files holding the new bytes until the local writer renames them into place.

Destinations are :class:`Sink`\\ s, called in order after the render: the local writer
(:class:`feedsmith.publish.output.LocalWriter`) first, because every other sink reads the published
bytes from ``output_dir`` and the next build trusts the disk; then the state is saved; then the
others (a bucket publisher, a WebSub notifier). Why one interface for all of them: each new
destination is a class beside the others, testable with a change set made by hand, instead of
another branch in the build.

A sink must be *idempotent and catching up*: it is also called after a build that changed
nothing (``written == removed == ()``), with the full tree, so one that failed last time (a
bucket that was down) compares ``files`` with what it delivered and sends what is missing.
A sink that raises fails the build's report (``BuildReport.sink_errors``), never the other
sinks or the local feeds.

Media files (``media_dir``, served at ``/media/``) are part of the published tree too, but not
of ``output_dir``: they are listed in :attr:`ChangeSet.media` and in the manifest's own
``media`` section (relative to ``media_dir``, with their type), never copied. Why apart from
``files``: the local writer has nothing to do for them (``serve`` answers ``/media/`` from
``media_dir`` itself, and copying gigabytes of audio next to the feeds would double the disk a
blog needs), while the bucket sink uploads them under ``media/``; a manifest without media has
no ``media`` key at all, so sites without ``media_dir`` publish the same bytes as before.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from feedsmith.core.layout import FEEDS_PREFIX, MANIFEST, listed_gzip_only, stored_gzip_only

__all__ = [
    "ChangeSet",
    "FeedInfo",
    "MediaRecord",
    "PublishedFile",
    "RecordFiles",
    "Sink",
    "changes_from_manifest",
    "manifest_records",
    "media_records",
    "published_changes",
]


@dataclass(frozen=True)
class FeedInfo:
    """One feed (a group in every configured format) as the manifest lists it."""

    kind: str
    name: str
    slug: str
    entries: int
    updated: str | None
    urls: dict[str, str]  # format -> "/feeds/<percent-encoded path>"
    files: tuple[str, ...]  # paths relative to output_dir, one per format
    #: RFC 5005 archive pages (see :mod:`feedsmith.core.archive`), oldest first, each page in every
    #: format. Not in ``files``: those are the subscription documents (the WebSub topics).
    archives: tuple[str, ...] = ()
    #: The feed's HTML page (:mod:`feedsmith.core.pages`), ``tags/ai.html``; ``None`` when pages
    #: are off. Its record is among the manifest's top-level ``files``.
    page: str | None = None


@dataclass(frozen=True)
class PublishedFile:
    """One published file (its ``.gz`` sidecar goes with it; an archive page is stored as that
    ``.gz`` only) as the manifest records it: sha256 and size of the plain bytes."""

    rel: str  # relative to output_dir, "/" separators; also the key under /feeds/
    sha256: str
    size: int
    changed: str  # when its bytes last changed, ISO 8601 UTC "Z" (Last-Modified)
    #: Stored only as its ``.gz`` (an archive page, unless ``feed.archive_storage: plain``).
    gzip_only: bool = False


class RecordFiles(Mapping[str, PublishedFile]):
    """:attr:`ChangeSet.files` over a build's records (``rel`` -> its state record), each
    :class:`PublishedFile` made when asked for. Why not a dict made up front: the local writer
    never reads it, and after a one-post edit at 10,000 posts that dict was ~25,000 objects
    made per build for sinks that, when there are any, read a few (or compare all once)."""

    __slots__ = ("_records",)

    def __init__(self, records: Mapping[str, Mapping[str, Any]]) -> None:
        self._records = records

    def __getitem__(self, rel: str) -> PublishedFile:
        rec = self._records[rel]
        return PublishedFile(
            rel,
            str(rec["sha256"]),
            int(rec["bytes"]),
            str(rec["changed"]),
            stored_gzip_only(rel, rec),
        )

    def __contains__(self, rel: object) -> bool:
        return rel in self._records

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"RecordFiles({len(self._records)} files)"


@dataclass(frozen=True)
class MediaRecord:
    """One file of ``media_dir`` as the manifest's ``media`` section records it."""

    rel: str  # relative to media_dir, "/" separators; served at /media/<rel>
    sha256: str
    size: int
    changed: str  # when its bytes last changed, ISO 8601 UTC "Z" (Last-Modified)
    content_type: str  # what serve, the bucket and replicas send it as

    def record(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "bytes": self.size,
            "changed": self.changed,
            "type": self.content_type,
        }


@dataclass(frozen=True)
class ChangeSet:
    """A build's result as its destinations see it (see the module docstring)."""

    output_dir: Path
    generated: str
    files: Mapping[str, PublishedFile]  # every published file after this build
    feeds: tuple[FeedInfo, ...]  # every feed, in manifest order
    gone: Mapping[str, str]  # unpublished path -> since (the manifest's "gone")
    manifest: bytes  # index.json as published
    written: tuple[str, ...] = ()  # files (not sidecars) whose bytes are new, sorted
    removed: tuple[str, ...] = ()  # files unpublished by this build, sorted
    manifest_changed: bool = False
    #: The local writer's input: final path (``rel`` or ``rel + ".gz"``) -> temp file holding
    #: its new bytes (gone once the local writer renamed them; empty in a change set made from
    #: a manifest).
    staged: Mapping[str, str] = field(default_factory=dict)
    #: Published paths (sidecars too) this build deletes: ``removed`` and their ``.gz``, as far
    #: as they are on disk.
    deletions: tuple[str, ...] = ()
    #: Every file of ``media_dir`` (see the module docstring), read from there, never copied.
    media: Mapping[str, MediaRecord] = field(default_factory=dict)
    media_dir: Path | None = None

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed or self.manifest_changed)

    @property
    def feeds_changed(self) -> tuple[FeedInfo, ...]:
        """Feeds with at least one file (format) whose bytes are new."""
        written = set(self.written)
        return tuple(feed for feed in self.feeds if written.intersection(feed.files))

    @property
    def feed_files_changed(self) -> tuple[str, ...]:
        """Feed files (one per feed and format: a WebSub topic each) whose bytes are new."""
        written = set(self.written)
        return tuple(rel for feed in self.feeds for rel in feed.files if rel in written)

    def path(self, rel: str) -> Path:
        return self.output_dir / rel

    def read(self, rel: str) -> bytes:
        """The published bytes of ``rel`` (valid once the local writer has committed); those
        of a path stored gzip-only, decompressed."""
        if self.gzip_only(rel):
            return gzip.decompress(self.read_gz(rel))
        return (self.output_dir / rel).read_bytes()

    def gzip_only(self, rel: str) -> bool:
        """Whether ``rel`` is stored only as its ``.gz`` (see :class:`PublishedFile`)."""
        found = self.files.get(rel)
        return found.gzip_only if found is not None else stored_gzip_only(rel)

    def read_gz(self, rel: str) -> bytes:
        """The published ``.gz`` sidecar of ``rel``."""
        return (self.output_dir / (rel + ".gz")).read_bytes()

    def read_manifest(self) -> bytes:
        return self.manifest

    def media_path(self, rel: str) -> Path:
        """Where the media file ``rel`` is (a change set with media always has a media_dir)."""
        if self.media_dir is None:
            raise FileNotFoundError(f"no media_dir for media file {rel}")
        return self.media_dir / rel


class Sink(Protocol):
    """A destination of builds: the local writer, a bucket, a WebSub notifier."""

    #: Short and stable: it names the sink in logs, ``/healthz`` and ``sink_errors``.
    name: str

    def consume(self, changes: ChangeSet) -> None:
        """Deliver ``changes``; raise to report a failure (retried by the next build)."""
        ...


def changes_from_manifest(
    output_dir: Path,
    manifest: bytes,
    *,
    written: tuple[str, ...] = (),
    removed: tuple[str, ...] = (),
    manifest_changed: bool = False,
    staged: Mapping[str, str] | None = None,
    deletions: tuple[str, ...] = (),
    media_dir: Path | None = None,
) -> ChangeSet:
    """The change set a manifest describes: the published tree is exactly what ``index.json``
    lists, so a build that changed nothing, a new process, or a test can make one from it."""
    raw = json.loads(manifest)
    files: dict[str, PublishedFile] = {}
    feeds: list[FeedInfo] = []
    for rel, rec in manifest_records(raw):
        files[rel] = PublishedFile(
            rel,
            str(rec["sha256"]),
            int(rec["bytes"]),
            str(rec["changed"]),
            listed_gzip_only(rel, rec),
        )
    # Strict about the feeds (``.keys()``: their file lists must be objects): a manifest this
    # module did not write is no change set.
    for feed in raw.get("feeds", []):
        archive_files = feed.get("archive", {}).get("files", {})
        feeds.append(
            FeedInfo(
                kind=feed["kind"],
                name=feed["name"],
                slug=feed["slug"],
                entries=feed["entries"],
                updated=feed["updated"],
                urls=dict(feed["urls"]),
                files=tuple(feed["files"].keys()),
                archives=tuple(archive_files.keys()),
                page=_page_rel(feed.get("page")),
            )
        )
    return ChangeSet(
        output_dir=output_dir,
        generated=str(raw.get("generated", "")),
        files=files,
        feeds=tuple(feeds),
        gone=dict(raw.get("gone", {})),
        manifest=manifest,
        written=written,
        removed=removed,
        manifest_changed=manifest_changed,
        staged=dict(staged or {}),
        deletions=deletions,
        media=media_records(raw),
        media_dir=media_dir,
    )


def media_records(data: Mapping[str, Any]) -> dict[str, MediaRecord]:
    """The manifest's ``media`` section (absent: none); records of another shape are skipped,
    so a replica reading a hand-edited manifest serves the rest."""
    out: dict[str, MediaRecord] = {}
    section = data.get("media")
    if not isinstance(section, dict):
        return out
    for rel, rec in section.items():
        if not isinstance(rec, dict):
            continue
        sha, size, changed, ctype = (rec.get(k) for k in ("sha256", "bytes", "changed", "type"))
        if (
            isinstance(sha, str)
            and isinstance(size, int)
            and not isinstance(size, bool)
            and size >= 0
            and isinstance(changed, str)
            and isinstance(ctype, str)
        ):
            out[str(rel)] = MediaRecord(str(rel), sha, size, changed, ctype)
    return out


def manifest_records(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every path ``index.json`` lists, with its record as written: each feed's files, then its
    archive pages, then the top-level files (``index.opml``, feed pages). The one walk of the
    manifest's shape, for this side (:func:`changes_from_manifest`) and the web workers'
    (:func:`feedsmith.serve.stores.parse_manifest`); parts of another shape are skipped, each
    reader judges the records themselves."""
    for feed in data.get("feeds") or []:
        if not isinstance(feed, dict):
            continue
        archive = feed.get("archive")
        for source in (
            feed.get("files"),
            archive.get("files") if isinstance(archive, dict) else None,
        ):
            if isinstance(source, dict):
                yield from source.items()
    top = data.get("files")
    if isinstance(top, dict):
        yield from top.items()


def published_changes(output_dir: Path, media_dir: Path | None = None) -> ChangeSet | None:
    """The change set of what ``output_dir`` holds now (nothing changed), or ``None`` when it
    has no readable manifest."""
    try:
        return changes_from_manifest(
            output_dir, (output_dir / MANIFEST).read_bytes(), media_dir=media_dir
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _page_rel(url: object) -> str | None:
    """``tags/ai.html`` from the manifest's ``"page": "/feeds/tags/ai.html"``."""
    if not isinstance(url, str) or not url.startswith("/feeds/"):
        return None
    return unquote(url[len(FEEDS_PREFIX) :])
