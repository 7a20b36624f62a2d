"""Files written beside their final path before anyone decides to publish them, and their sidecars.

Why apart from :mod:`feedsmith.publish.output`: pool workers stage their own output
(:func:`stage`) while the parent only decides and renames, so this is the part both sides of
the pool share; the gzip sidecar format (:func:`gzip_bytes`) is shared further still (the
bucket sink, the replicas' store and ``serve`` compress with it).

Sidecars are deterministic (zlib-ng at a fixed level, ``mtime=0``, no file name, OS byte 255 in
the header), so the same bytes always give the same ``.gz`` with a given zlib-ng version, and
static servers such as nginx ``gzip_static`` can serve them. An archive page is staged as its
sidecar alone (:func:`~feedsmith.core.layout.stored_gzip_only`): that is all that is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zlib_ng import gzip_ng

from feedsmith.core.layout import MANIFEST, stored_gzip_only
from feedsmith.system.diskerrors import doing

__all__ = [
    "GZIP_LEVEL",
    "STAGE_SUFFIX",
    "TMP_SUFFIX",
    "FileData",
    "Staged",
    "check_rel",
    "discard",
    "gzip_bytes",
    "remove_staged",
    "sha256",
    "stage",
    "unlink_all",
    "write_temp",
]

TMP_SUFFIX = ".feedsmith-tmp"
#: Temp files written by pool workers (:func:`stage`), possibly while ``publish`` already runs,
#: so its clean-up of ``TMP_SUFFIX`` files must not see them; :func:`remove_staged` clears
#: them instead, before a build starts staging (leftovers of a crashed build) and after a
#: failed one.
STAGE_SUFFIX = ".feedsmith-stage"
#: zlib-ng level 5: on the bench corpora's feeds ~1.4 % larger than stdlib zlib level 6 for
#: ~half its CPU (zlib-ng 6 saves only 1 % more bytes at ~1.3x the CPU of 5; level 4 is ~4 %
#: larger on the 10,000-post feeds; ISA-L is faster still but ~20-30 % larger).
GZIP_LEVEL = 5


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: same input and zlib-ng version, same output, every time.

    zlib-ng rather than the stdlib's zlib because compressing is ~20 % of a cold build's CPU.
    ``gzip_ng`` writes a fixed header (mtime 0, no name, OS 255) on every platform.
    """
    return gzip_ng.compress(data, GZIP_LEVEL, mtime=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Staged:
    """A file already written, with its sidecar, to hidden temp files beside its final path.

    Creating thousands of files is a large share of a cold build on some disks, so pool
    workers write their own output (:func:`stage`) and ``publish`` only decides and renames:
    a staged file that turns out unchanged has its temp files removed instead. A temp file
    that no build renames (a crash) is removed by the next ``publish`` like any other.
    """

    sha256: str
    size: int
    tmp: str  # "" for a path stored gzip-only (:func:`~feedsmith.core.layout.stored_gzip_only`)
    gz_tmp: str
    gz_size: int


def stage(output_dir: Path | str, rel: str, data: bytes) -> Staged:
    check_rel(rel)
    final = os.path.join(output_dir, rel)
    packed = gzip_bytes(data)
    if stored_gzip_only(rel):  # an archive page: its gzip twin is all that is stored
        gz_only = write_temp(final + ".gz", packed, STAGE_SUFFIX)
        return Staged(sha256(data), len(data), "", gz_only, len(packed))
    tmp = write_temp(final, data, STAGE_SUFFIX)
    try:
        gz_tmp = write_temp(final + ".gz", packed, STAGE_SUFFIX)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Staged(sha256(data), len(data), tmp, gz_tmp, len(packed))


FileData = bytes | Staged


def remove_staged(output_dir: Path | str) -> None:
    """Delete every staged temp file under ``output_dir`` (call only while holding the build
    lock, when no worker of this build is staging)."""
    for folder, _, names in os.walk(output_dir):
        for name in names:
            if name.endswith(STAGE_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))


def discard(item: FileData) -> None:
    """Remove the temp files of a staged item that will not be published."""
    if isinstance(item, Staged):
        for tmp in (item.tmp, item.gz_tmp):
            if not tmp:
                continue
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_temp(final: str, data: bytes, suffix: str = TMP_SUFFIX) -> str:
    """Write ``data`` next to ``final`` under a hidden temp name; return that name.

    The name has a random part and is created with ``O_EXCL | O_NOFOLLOW``: a file or symlink
    planted at a predictable name cannot redirect the write. Mode 0644: output is public.
    """
    folder, name = os.path.split(final)
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}{suffix}")
    with doing("write", tmp):  # a failed write() names no path by itself
        os.makedirs(folder, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return tmp


def unlink_all(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def check_rel(rel: str) -> None:
    """Refuse paths that could escape ``output_dir`` or collide with our own bookkeeping."""
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or "\0" in rel
        or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
        or rel == MANIFEST
        or rel.endswith(".gz")
    ):
        raise ValueError(f"refusing to publish unsafe path {rel!r}")
