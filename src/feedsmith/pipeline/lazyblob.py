"""The parse cache's HTML blobs, read from the cache file only when something asks for them.

A fresh process's one-post edit re-renders a handful of posts, yet loading every post's
compressed HTML (two thirds of the ~32 MB cache at 10,000 posts) used to be part of loading the
cache. Each chunk of the file therefore keeps its blobs in a region of raw bytes after its rows
(see :mod:`feedsmith.pipeline.cache`), and a loaded entry holds only where its blob lies, its
length and its CRC-32 (``Blob``). The file stays open (:class:`BlobFile`): another process
replacing it by rename does not change what this one reads.

A blob that cannot be read back whole and with its CRC (a torn or overwritten file, a closed
handle) is not an error of the user's post: the file's owner (the parse index) parses that
post again (:attr:`BlobFile.recover`), and the chunk is marked for packing anew at the next
save. It costs time, never a wrong feed.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from feedsmith.core.text import escape_controls

log = logging.getLogger("feedsmith.cache")

#: ``rel`` -> that file's compressed HTML parsed again (``None``: none to be had).
Recover = Callable[[str], "bytes | None"]


class BlobFile:
    """An open cache file that blobs are read from (``pread``: no shared file position)."""

    def __init__(self, fh: BinaryIO, recover: Recover | None = None) -> None:
        self.fh = fh
        self.recover = recover

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self.fh.fileno(), length, offset)

    def close(self) -> None:
        self.fh.close()


class Region:
    """One chunk's blob bytes: in ``file`` from ``base`` on. Moved (``file``, ``base``) when a
    save copies the chunk into the new file; ``dirty`` once one of its blobs proved bad, so
    the next save packs that chunk anew instead of copying the bad bytes."""

    __slots__ = ("base", "chunk", "dirty", "file", "size")

    def __init__(self, file: BlobFile, chunk: int, base: int, size: int) -> None:
        self.file = file
        self.chunk = chunk  # where its chunk starts in ``file``
        self.base = base
        self.size = size
        self.dirty = False


#: Where one entry's compressed HTML lies: its chunk's region, ``[offset, length, crc32]`` as
#: stored in its row (a plain tuple: one is made per loaded entry), and the entry's ``rel``.
Blob = tuple[Region, Any, str]


#: Blobs read from cache files: for the build (``read``), by a save packing a chunk anew
#: (``copied``), and how many of those failed their check (``bad``): what a one-post edit
#: reads is counted, not timed (tests).
counts = {"read": 0, "copied": 0, "bad": 0}


def raw(blob: Blob, purpose: str = "read") -> bytes | None:
    """The blob's bytes, or ``None`` when they are not what was written."""
    counts[purpose] += 1
    region, where, _ = blob
    try:
        offset, length, crc = where
        if offset < 0 or length < 0 or offset + length > region.size:
            return None
        data = region.file.read(region.base + offset, length)
    except (OSError, ValueError, TypeError):  # closed, failed, or a malformed row
        return None
    if len(data) != length or zlib.crc32(data) != crc:
        return None
    return data


def fetch(blob: Blob, purpose: str = "read") -> tuple[bytes | None, bool]:
    """The blob's bytes and whether they are sound; a bad blob's post is parsed again."""
    data = raw(blob, purpose)
    if data is not None:
        return data, True
    counts["bad"] += 1
    region, _, rel = blob
    region.dirty = True
    recover = region.file.recover
    log.warning(
        "parse cache: the stored HTML of %s is damaged: parsing it again", escape_controls(rel)
    )
    return (recover(rel) if recover is not None else None), False


def release(region: Region, members: list[tuple[str, Any]]) -> int:
    """Let go of the HTML of ``members`` (a chunk just packed anew, whose blobs lie in
    ``region``, in members' order): each entry holding its ``html_z`` holds where it lies
    instead, as if loaded from the file. Returns the bytes let go.

    For a one-shot cold build, which saves the parse index before rendering (see
    :meth:`feedsmith.pipeline.index.ParseIndex.save`): every post's compressed HTML held to
    the end of the build was ~3 KB a post of its peak."""
    offset = 0
    for rel, entry in members:
        state = entry.__dict__
        html_z = state.get("html_z")
        if html_z is None:
            continue  # no blob written for it
        length = len(html_z)
        del state["html_z"]
        state["_blob"] = (region, [offset, length, zlib.crc32(html_z)], rel)
        offset += length
    return offset


def peek(state: dict[str, Any]) -> bytes | None:
    """The bytes of a lazy entry's blob (its ``__dict__``), read without keeping them; ``None``
    if they are not sound (the caller then reads it the keeping way, which recovers)."""
    return raw(state["_blob"])


def html_z_ref(entry: Any) -> bytes | HtmlRef | None:
    """A parse-index entry's ``html_z``, or for an entry whose HTML is in the cache file a
    :class:`HtmlRef` to read it when needed, without the entry keeping it (a pool task's)."""
    return HtmlRef(entry) if "_blob" in entry.__dict__ else entry.html_z  # type: ignore[no-any-return]


class HtmlRef:
    """A lazy entry's compressed HTML, read when called, not kept (see :func:`html_z_ref`)."""

    __slots__ = ("entry",)

    def __init__(self, entry: Any) -> None:
        self.entry = entry

    def __call__(self) -> bytes | None:
        state = self.entry.__dict__
        data = peek(state) if "_blob" in state else None
        return data if data is not None else self.entry.html_z  # type: ignore[no-any-return]
