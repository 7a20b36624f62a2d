"""What ``media_dir`` holds, as the manifest lists it: path, sha256, size, type, change time.

Why the media files are listed at all, when ``serve`` answers ``/media/`` straight from
``media_dir``: the bucket and its replicas have no ``media_dir``. The manifest's ``media``
section (:func:`feedsmith.publish.manifest.render_manifest`) is what the bucket sink uploads by
(only files whose sha256 it has not delivered) and what replicas answer ``/media/`` from, so
``serve``, the bucket and every replica agree on which files exist and what they are.

Hashing a blog's recordings on every build would cost seconds per gigabyte, so the sha256 of
each file is remembered in ``state_dir/media.json`` with the file's size and ``mtime_ns``: a
file whose stat is unchanged is not read again. ``changed`` (the file's ``Last-Modified`` for
replicas) is kept while the sha256 stays the same, so touching a file changes nothing published.

What is listed is what ``serve`` would answer: regular files, reached without leaving
``media_dir`` (a symlink pointing out is skipped, as ``serve`` answers it 404), no hidden names
(``.DS_Store``, ``.git/``), names that are UTF-8. A file that cannot be read is left out and
logged with its path; the build goes on. ``media_dir`` itself unreadable fails the build (the
last good tree stays published): an unmounted disk must not read as "every recording deleted".
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.layout import iso_seconds
from feedsmith.core.media import MIME_BY_EXTENSION
from feedsmith.core.state import json_bytes
from feedsmith.publish.changes import ChangeSet, MediaRecord
from feedsmith.system.statedir import write_atomic

__all__ = ["CACHE_FILE", "MediaListing", "list_media", "media_type", "safe_media_rel"]

log = logging.getLogger("feedsmith.build")

CACHE_FILE = "media.json"

UNKNOWN_TYPE = "application/octet-stream"


def media_type(name: str) -> str:
    """The Content-Type of a media file, by its extension (unknown: octet-stream, which a
    browser downloads instead of guessing)."""
    known = MIME_BY_EXTENSION.get(os.path.splitext(name)[1].lower().lstrip("."))
    if known is None:
        return UNKNOWN_TYPE
    # One table for the feeds and the server (core.media): a fixed one, as mimetypes reads
    # /etc/mime.types and two machines would publish different manifests. Text says UTF-8.
    return f"{known}; charset=utf-8" if known.startswith("text/") else known


def safe_media_rel(rel: str) -> bool:
    """Whether ``rel`` (already percent-decoded, "/" separated) names something ``serve`` may
    answer: no empty, ``.`` or ``..`` segment, no hidden name, no backslash (a path separator
    to some tools), no NUL or other control character. The one rule for the listing and for
    ``/media/`` requests; the real path is checked for containment on top of it."""
    if not rel or len(rel) > 4096:
        return False
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in rel):
        return False
    try:
        rel.encode("utf-8")  # surrogate escapes: a name that is not UTF-8
    except UnicodeError:
        return False
    return all(seg and not seg.startswith(".") for seg in rel.split("/"))


@dataclass
class MediaListing:
    """The result of one listing: the records, and whether the cache file needs writing."""

    records: dict[str, MediaRecord]
    cache: dict[str, dict[str, Any]]
    dirty: bool


def list_media(media_dir: Path | None, state_dir: Path, now: datetime) -> dict[str, MediaRecord]:
    """Every servable file of ``media_dir`` with its record, sorted by path (``None``: no media).

    Reads only files whose size or ``mtime_ns`` differ from the cache; saves the cache when
    anything in it changed."""
    if media_dir is None:
        return {}
    cache_path = state_dir / CACHE_FILE
    listing = _list(media_dir, _load_cache(cache_path), iso_seconds(now))
    if listing.dirty:
        try:
            write_atomic(cache_path, json_bytes(listing.cache))
        except OSError as exc:  # the next build hashes again; nothing published is wrong
            log.warning("cannot save %s: %s", cache_path, exc)
    return listing.records


def _load_cache(path: Path) -> dict[str, dict[str, Any]]:
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _list(media_dir: Path, cache: dict[str, dict[str, Any]], now_iso: str) -> MediaListing:
    root = os.path.realpath(media_dir)
    records: dict[str, MediaRecord] = {}
    new_cache: dict[str, dict[str, Any]] = {}
    dirty = False
    for rel, path in sorted(_walk(root)):
        try:
            st = os.stat(path)
        except OSError as exc:
            log.warning("media file %s skipped: %s", path, exc.strerror or exc)
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        old = cache.get(rel)
        if (
            isinstance(old, dict)
            and old.get("bytes") == st.st_size
            and old.get("mtime_ns") == st.st_mtime_ns
            and isinstance(old.get("sha256"), str)
            and isinstance(old.get("changed"), str)
        ):
            sha, changed = str(old["sha256"]), str(old["changed"])
        else:
            try:
                sha = _sha256(path)
            except OSError as exc:
                log.warning("media file %s skipped: %s", path, exc.strerror or exc)
                continue
            same = isinstance(old, dict) and old.get("sha256") == sha
            changed = str(old["changed"]) if same and isinstance(old, dict) else now_iso
            dirty = True
        new_cache[rel] = {
            "bytes": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "sha256": sha,
            "changed": changed,
        }
        records[rel] = MediaRecord(rel, sha, st.st_size, changed, media_type(rel))
    dirty = dirty or set(new_cache) != set(cache)
    return MediaListing(records, new_cache, dirty)


def _walk(root: str) -> list[tuple[str, str]]:
    """(rel, path) of every candidate file under ``root``; directories reached through a
    symlink are followed only while their real path stays inside ``root`` (and once)."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def visit(folder: str, prefix: str) -> None:
        real = os.path.realpath(folder)
        if real in seen or not _inside(real, root):
            return
        seen.add(real)
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            if not prefix:
                # media_dir itself (unmounted, deleted): fail the build rather than publish
                # "no media", which would take every file out of the bucket.
                raise
            log.warning("media folder %s skipped: %s", folder, exc.strerror or exc)
            return
        for entry in entries:
            rel = prefix + entry.name
            if not safe_media_rel(rel):
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks; containment checked in visit
            except OSError:
                continue
            if is_dir:
                visit(entry.path, rel + "/")
            elif _inside(os.path.realpath(entry.path), root):
                found.append((rel, entry.path))

    visit(root, "")
    return found


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def media_as_published(config: Config, published: ChangeSet | None, now: datetime) -> bool:
    """Whether ``media_dir`` still holds what the published manifest lists (a stat per file,
    a hash only of what changed). Media files are no posts, so the nothing-changed shortcuts
    ask this too: a new, changed or removed file goes on to a build that publishes it."""
    if config.media_dir is None:
        return True
    media = list_media(config.media_dir, config.state_dir, now)
    return published is not None and published.media == media
