"""The stat pass of the nothing-changed question, with nothing but the standard library.

``feedsmith build`` with nothing changed asks it in a new process before anything else is
imported (:func:`feedsmith.pipeline.early.early_build`): at 10,000 posts the stats themselves
(~25,000 of them) are most of the work left, and importing the core's dataclasses just to reach
these few functions cost more than the question. :mod:`.listing` and :mod:`.memo` re-export
them, so the builder and the early answer run the very same code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from feedsmith.core.names import MARKDOWN_EXTENSIONS

if TYPE_CHECKING:  # types only: the rule's module imports the config's dataclasses
    from feedsmith.core.post_files import PostFiles

Key = tuple[str, int, int]  # (rel, size, mtime_ns)

#: ``core.post_files.MARKDOWN_EXTENSIONS`` (both from :mod:`feedsmith.core.names`, which
#: imports nothing).
PLAIN_SUFFIXES = MARKDOWN_EXTENSIONS

#: A published file as the no-change check needs it: ``[rel, bytes, mtime_ns, gz_bytes,
#: gz_mtime_ns]`` (the plain file's two are unused for a file stored gzip-only).
Row = list[Any]


#: The listing of one ``feedsmith build`` process, by posts folder (:func:`hold`): a plain
#: site's edit took the same ~10,000 stats three times (the early no-change question, the
#: full start-up's, the builder's scan) within a second, ~0.13 s CPU each at 10,000 posts.
#: ``None`` (the default, and always in the service): every call lists afresh.
_held: dict[str, list[Key]] | None = None


def hold() -> None:
    """From now until :func:`release`, :func:`quick_keys` of a plain tree lists each posts
    folder once and answers later calls with that listing. Only for one ``feedsmith build``
    (``cli.main``): the build's snapshot of the tree is then taken at the first question, as
    if the process had started a moment earlier — a file changed since is seen by the next
    build, as a change after the scan always was. A watching builder must never hold: its
    watcher is armed before each scan it trusts."""
    global _held
    if _held is None:
        _held = {}


def release() -> None:
    """Forget the held listing; every later :func:`quick_keys` lists afresh."""
    global _held
    _held = None


def is_post_name(name: str) -> bool:
    return name.lower().endswith(PLAIN_SUFFIXES)


def quick_keys(
    posts_dir: str | os.PathLike[str], files: PostFiles | None = None
) -> list[Key] | None:
    """``(rel, size, mtime_ns)`` of every post file, sorted — what ``find_sources`` would give
    for a tree without symlinks, at the cost of one ``scandir`` per folder. ``None`` (so the
    caller does the full scan) as soon as a symlink or an unreadable folder is met: the full
    policy for those lives in :mod:`feedsmith.pipeline.sources` only. ``files``: the rule of a
    Jekyll site; ``None`` is plain folders (every Markdown file not hidden). While a build
    holds (:func:`hold`), a plain tree is listed once (later calls get a copy of that list)."""
    held = _held if files is None else None
    if held is not None and (keys := held.get(os.fspath(posts_dir))) is not None:
        return list(keys)
    found: list[Key] = []
    plain = files is None  # the common case, at ~1 µs a file less
    stack: list[tuple[str, str]] = [(os.fspath(posts_dir), "")]
    try:
        while stack:
            folder, prefix = stack.pop()
            with os.scandir(folder) as it:
                for entry in it:
                    name = entry.name
                    if name.startswith("."):
                        continue
                    if entry.is_symlink():
                        return None
                    if entry.is_dir(follow_symlinks=False):
                        if plain or files.enters(prefix + name):  # type: ignore[union-attr]
                            stack.append((entry.path, prefix + name + "/"))
                    elif is_post_name(name) if plain else files.wants(prefix + name):  # type: ignore[union-attr]
                        if not entry.is_file(follow_symlinks=False):
                            return None
                        st = entry.stat(follow_symlinks=False)
                        found.append((prefix + name, st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    found.sort()
    if held is not None:
        held[os.fspath(posts_dir)] = list(found)
    return found


def keys_digest(keys: list[Key]) -> str:
    return hashlib.sha256(repr(keys).encode("utf-8", "surrogatepass")).hexdigest()


def stat_key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def record_row(rel: str, record: Mapping[str, Any] | None) -> Row | None:
    """A state's file record as a :data:`Row`, or ``None`` when it lacks its stats (such a file
    is never intact: it is written again)."""
    if record is None or "mtime_ns" not in record or "gz_mtime_ns" not in record:
        return None
    return [
        rel,
        record.get("bytes"),
        record["mtime_ns"],
        record.get("gz_bytes"),
        record["gz_mtime_ns"],
    ]


def rows_intact(
    output_dir: str | os.PathLike[str], rows: list[Row], gzip_only: Callable[[str], bool]
) -> bool:
    """Every published file of ``rows`` (and its gzip twin) still has the recorded size and
    mtime, at a stat and a string concatenation a file. ``gzip_only``: the layout's rule for
    files stored only as ``.gz``. A malformed row (a damaged memo) answers ``False``: that
    only costs a full build. The one form of the check: the builder's (:func:`.listing.intact`,
    the planner's) passes the state's records through :func:`record_row`."""
    base = os.path.join(output_dir, "")
    stat = os.stat
    try:
        for rel, size, mtime, gz_size, gz_mtime in rows:
            path = base + rel
            st = stat(path + ".gz")
            if st.st_size != gz_size or st.st_mtime_ns != gz_mtime:
                return False
            if not gzip_only(rel):
                st = stat(path)
                if st.st_size != size or st.st_mtime_ns != mtime:
                    return False
    except (OSError, TypeError, ValueError):
        return False
    return True
