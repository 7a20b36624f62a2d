"""Which files in ``output_dir`` the build owns, found by a walk or from the last records.

Apart from :mod:`.output` because it is the one rule of what may be deleted: only names the
build itself produces, under the folders it owns, are ever listed, so an ``output_dir``
shared with other content never loses that content. The service asks it without the walk
(:func:`listed_owned`: the last build's records plus what the watcher named), a new process
with it (:func:`scan_owned`); the two must agree, archive pages being their ``.gz`` alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from collections.abc import Set as AbstractSet
from functools import lru_cache
from itertools import repeat
from operator import concat
from pathlib import Path
from typing import Any

from feedsmith.core.layout import (
    ASSETS,
    MANIFEST,
    OPML,
    OWNED_SUFFIXES,
    PLAIN_MARK,
    stored_gzip_only,
)
from feedsmith.publish.staging import TMP_SUFFIX

__all__ = [
    "Found",
    "listed_owned",
    "owned_shape",
    "remove_empty_archive_folders",
    "scan_owned",
    "stale_owned",
]

log = logging.getLogger("feedsmith.output")

#: Top-level names and folders the build owns; only these are ever deleted as stale.
OWNED_DIRS = ("categories", "tags", "authors", "archive")


class Found(set[str]):
    """A listing made without a walk (:func:`listed_owned`, :func:`patched_owned`): what
    :func:`scan_owned` would find, plus what it was made from and what was looked at again.

    Every path in ``source`` (the last publish's records or owned files, held) is a file that
    publish published or its ``.gz``; only ``looked`` (the suspects and their ``.gz``) may be
    anything else. So when nothing published last time is unpublished now, only ``looked``
    can hold a stray (:func:`stale_owned`), and a one-post edit looks at those, not at every
    owned file (~50,000 at 10,000 posts, each a set operation per build)."""

    source: object = None
    looked: frozenset[str] = frozenset()


def stale_owned(
    previous: AbstractSet[str],
    published: Container[str],
    on_disk: set[str],
    *,
    none_dropped: bool = False,
    source: object = None,
    gzip_only: Callable[[str], bool] = stored_gzip_only,
) -> tuple[list[str], tuple[str, ...]]:
    """The stale main paths (sorted) and the files to delete: what the last build published
    (``previous``) and is not ``published`` now, plus owned-looking strays on disk (a file
    whose main path, without ``.gz``, is not published), plus a plain copy of a path now
    stored gzip-only (an older feedsmith, or ``feed.archive_storage: plain``, wrote it:
    deleted, not stale). ``gzip_only``: the rule this build stores by
    (:func:`~feedsmith.core.layout.gzip_only_rule`); with ``plain`` nothing is gzip-only, and a
    page's ``.gz`` left by a gzip-only build is its twin now, so a switch either way leaves
    exactly the files the new rule stores.

    ``none_dropped``: the caller knows every path of ``previous`` is published again; with
    ``on_disk`` a :class:`Found` made from ``source``, only its ``looked`` paths are
    looked at (``published`` then only answers ``in``)."""
    if none_dropped and isinstance(on_disk, Found) and on_disk.source is source is not None:
        there = [p for p in on_disk.looked if p in on_disk]
        stale = sorted({m for m in map(_main, there) if m not in published})
        deletions = tuple(p for rel in stale for p in (rel, rel + ".gz") if p in on_disk)
        deletions += tuple(sorted(p for p in there if p in published and gzip_only(p)))
        return stale, deletions
    # Set operations over the ~25,000 paths of a 10,000-post site, no Python loop over them.
    twins = set(map(concat, published, repeat(".gz")))
    strays = on_disk - published - twins  # type: ignore[operator]
    stray_mains = set(map(_main, strays))
    stale = sorted((previous - published) | stray_mains)  # type: ignore[operator]
    deletions = tuple(p for rel in stale for p in (rel, rel + ".gz") if p in on_disk)
    deletions += tuple(sorted(filter(gzip_only, published & on_disk)))  # type: ignore[operator]
    return stale, deletions


def _main(path_rel: str) -> str:
    return path_rel[:-3] if path_rel.endswith(".gz") else path_rel


def scan_owned(base: str) -> set[str]:
    """Published-looking files on disk (rel paths), removing crashed builds' temp files.

    Only names the build itself produces are returned, so pointing ``output_dir`` at a folder
    with other content never deletes that content.
    """
    found: set[str] = set()

    def visit(folder: str, prefix: str, recurse: bool) -> None:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if recurse:
                    visit(entry.path, rel + "/", True)
                continue
            if entry.name.endswith(TMP_SUFFIX):
                log.info("removing temp file left by an interrupted build: %s", entry.path)
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                continue
            if entry.name.startswith("."):
                continue
            name = entry.name[:-3] if entry.name.endswith(".gz") else entry.name
            if not name.endswith(OWNED_SUFFIXES) or name == MANIFEST:
                continue
            if prefix or name.startswith("all.") or name == OPML or name in ASSETS:
                found.add(rel)

    visit(base, "", False)
    for sub in OWNED_DIRS:
        visit(os.path.join(base, sub), sub + "/", True)
    return found


def listed_owned(
    base: str, records: Mapping[str, Mapping[str, Any]], suspects: Collection[str]
) -> set[str]:
    """What :func:`scan_owned` would find, from the last build's ``records`` (each file
    with its ``.gz`` when it recorded one), for a caller that knows nothing else changed in
    the tree but ``suspects`` (rel paths the watcher named, sidecars and strays included):
    only those are stat'ed. At 10,000 posts this spares a walk of ~25,000 files per build."""
    found = Found()
    found.source = records
    add = found.add
    # One pass over ~25,000 records per build of the service: one cached lookup per name.
    for rel, record in records.items():
        shape = _stored_as(rel)
        if not shape or rel in suspects:
            continue
        if shape is _GZ_ONLY and PLAIN_MARK not in record:  # an archive page: its .gz alone
            add(rel + ".gz")
        else:
            add(rel)
            if "gz_bytes" in record:
                add(rel + ".gz")
    return _look_again(base, found, suspects)


def patched_owned(base: str, owned: Collection[str], suspects: Collection[str]) -> set[str]:
    """What :func:`scan_owned` would find, from ``owned`` (what the last build's publish left
    on disk, see :class:`~feedsmith.publish.output.Planned`) for a caller that knows nothing
    else changed in the tree but ``suspects``: as :func:`listed_owned`, without a pass over
    every record (~25,000 at 10,000 posts, ~8 ms a build of the service)."""
    found = Found(owned)
    found.source = owned
    return _look_again(base, found, suspects)


def _look_again(base: str, found: set[str], suspects: Collection[str]) -> set[str]:
    """``found`` with each of ``suspects`` (and its ``.gz``) as the disk has it now."""
    if suspects:
        found.difference_update(suspects)  # a suspect is found below only if it is there
        found.difference_update([rel + ".gz" for rel in suspects])
    looked = {p for rel in suspects for p in (rel, rel + ".gz")} if suspects else set()
    if isinstance(found, Found):
        found.looked = frozenset(looked)
    for path_rel in looked:
        main = path_rel[:-3] if path_rel.endswith(".gz") else path_rel
        if not owned_shape(main) or path_rel in found:
            continue
        try:
            st = os.lstat(os.path.join(base, path_rel))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode):
            found.add(path_rel)
    return found


_PLAIN, _GZ_ONLY = "plain", "gz"


@lru_cache(maxsize=1 << 16)  # the same ~25,000 paths every build of the service
def _stored_as(rel: str) -> str | None:
    """How an owned ``rel`` is stored (its plain file, or its ``.gz`` alone); ``None`` when
    the build does not own such a name."""
    if not owned_shape(rel):
        return None
    return _GZ_ONLY if stored_gzip_only(rel) else _PLAIN


@lru_cache(maxsize=1 << 16)  # the same ~25,000 paths every build of the service
def owned_shape(rel: str) -> bool:
    """Whether :func:`scan_owned` would list ``rel`` (and its sidecar) when it exists."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(".") or not name.endswith(OWNED_SUFFIXES) or name == MANIFEST:
        return False
    if "/" in rel:
        return rel.split("/", 1)[0] in OWNED_DIRS
    return name.startswith("all.") or name == OPML or name in ASSETS


def remove_empty_archive_folders(base: Path, deleted: Sequence[str]) -> None:
    """Remove the folders under ``archive/`` that ``deleted`` emptied, deepest first, up to and
    including ``archive/`` itself. ``rmdir`` only removes an empty folder, so one holding
    anything (a page still published, a file someone put there) stays as it is."""
    folders: set[str] = set()
    for rel in deleted:
        parts = rel.split("/")[:-1]
        if parts[:1] != ["archive"] or any(part in ("", ".", "..") for part in parts):
            continue
        folders.update("/".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    for folder in sorted(folders, key=lambda f: f.count("/"), reverse=True):
        with contextlib.suppress(OSError):  # not empty, already gone: leave it
            os.rmdir(os.path.join(base, folder))
