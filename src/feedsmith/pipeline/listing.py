"""Scan: which post files exist, with the stat key ``(rel, size, mtime_ns)`` each build starts from.

The cheap path (:func:`quick_keys`, one ``scandir`` per folder) covers trees without symlinks;
anything else goes through :func:`feedsmith.pipeline.sources.find_sources`, where the symlink policy
lives. Also here: the file checks the incremental steps share (a stat key, "is this published
file still what the state records").
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedsmith.core.decoding import SourceError, display_path
from feedsmith.core.layout import PLAIN_MARK, stored_gzip_only
from feedsmith.core.model import ParseOutcome, Problem
from feedsmith.core.post_files import PLAIN, PostFiles
from feedsmith.pipeline import statpass
from feedsmith.pipeline.sources import SourceFile, find_sources, read_bytes
from feedsmith.pipeline.statpass import Key, record_row
from feedsmith.pipeline.statpass import stat_key as stat_key  # re-exported for the builder

if TYPE_CHECKING:  # types only: the parse cache (msgpack, zlib-ng) is not for the no-change path
    from feedsmith.pipeline.cache import Entry


def relabel(entry: Entry, shown: str) -> Entry:
    """The entry with its problems naming the file as ``shown``. A display path depends on the
    working directory, and parsing uses it only to name the file in problems, so a build run
    from elsewhere (cron from ``/``, a shell in the blog) need not parse everything again."""
    old = entry.shown
    outcome = entry.outcome
    problems = [
        dataclasses.replace(p, path=shown) if p.path == old else p for p in outcome.problems
    ]
    display = shown if outcome.display_path == old else outcome.display_path
    outcome = dataclasses.replace(outcome, problems=problems, display_path=display)
    return dataclasses.replace(entry, shown=shown, outcome=outcome)


def read_source(src: SourceFile, shown: str, max_bytes: int) -> bytes | ParseOutcome:
    """The file's bytes, or the outcome of an unreadable file (an invalid post)."""
    try:
        return read_bytes(src, max_bytes)
    except SourceError as exc:
        return ParseOutcome(None, [Problem(shown, None, "error", exc.reason)], None, shown)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        return ParseOutcome(None, [Problem(shown, None, "error", reason)], None, shown)


@dataclass
class Listing:
    """The stat pass: every post file's key, problems met, and how to make a ``SourceFile``
    (only files that must be read get one: a ``Path`` per file is measurable at 10,000).
    ``delta``: set when the keys are the last listing patched with the watcher's suspects
    (``rel`` -> key, ``None`` for gone); only those need looking at."""

    keys: list[Key]
    problems: list[Problem]
    source: Callable[[str, int, int], SourceFile]
    delta: dict[str, tuple[int, int] | None] | None = None
    quick: bool = True  # from quick_keys (no symlinks): the watcher sees all it lists


@dataclass
class Listed:
    """What a later build patches instead of scanning: the last successful build's keys and
    every file's outcome, the files that could not be read (retried every build), and the
    working directory the display paths in those outcomes were made for."""

    keys: list[Key]
    outcome_of: dict[str, ParseOutcome]
    unreadable: set[str]
    cwd: str


def owned_mains(paths: set[str], records: Mapping[str, Any]) -> set[str]:
    """The published files among watcher ``paths`` (a sidecar counts as its main file).
    Others are not ours to verify: the manifest has its own stat check, and stray files are
    ``publish``'s business."""
    mains = {path[:-3] if path.endswith(".gz") else path for path in paths}
    return {rel for rel in mains if rel in records}


def any_name(name: str) -> bool:
    return True


def list_sources(
    posts_dir: Path, keys: list[Key] | None = None, files: PostFiles = PLAIN
) -> Listing:
    """:func:`quick_keys` when the tree has no symlinks, else ``find_sources`` (its policy)."""
    if keys is None:
        keys = quick_keys(posts_dir, files)
    if keys is not None:
        root = Path(posts_dir).resolve()
        return Listing(keys, [], lambda rel, size, mtime: SourceFile(root / rel, rel, size, mtime))
    sources, problems = find_sources(posts_dir, files)
    by_rel = {s.rel: s for s in sources}
    return Listing(
        [(s.rel, s.size, s.mtime_ns) for s in sources],
        problems,
        lambda rel, size, mtime: by_rel[rel],
        quick=False,
    )


def quick_keys(posts_dir: Path, files: PostFiles = PLAIN) -> list[Key] | None:
    """:func:`.statpass.quick_keys` (one ``scandir`` per folder; ``None`` at a symlink or an
    unreadable folder) under the rule ``files``."""
    return statpass.quick_keys(posts_dir, None if files == PLAIN else files)


def display_namer(posts_dir: Path) -> Callable[[str], str]:
    """``rel`` → :func:`display_path` of ``posts_dir/rel``, without a ``Path`` per file (that
    cost ~0.1 ms a file) when the result is just the folder's display path plus ``rel``."""
    base = display_path(posts_dir)
    cwd = os.path.abspath(os.getcwd())
    root = os.path.abspath(posts_dir)
    if base == "." or cwd.startswith(root + os.sep):
        return lambda rel: display_path(posts_dir / rel)
    return lambda rel: f"{base}/{rel}"


def intact(output_dir: Path | str, rel: str, record: dict[str, Any] | None) -> bool:
    """True when ``rel`` and its sidecar on disk still are what ``record`` says was published
    (:func:`records_intact` of one)."""
    return records_intact(output_dir, ((rel, record),))


def records_intact(
    output_dir: Path | str, records: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> bool:
    """:func:`intact` for every ``(rel, record)``: the no-change question's check
    (:func:`.statpass.rows_intact`, one stat and a string concatenation a file) on the state's
    records; a record without its stats is never intact."""
    rows = []
    plain: set[str] = set()
    for rel, record in records:
        row = record_row(rel, record)
        if row is None:
            return False
        if record.get(PLAIN_MARK) is True:  # type: ignore[union-attr]
            plain.add(rel)
        rows.append(row)
    return statpass.rows_intact(output_dir, rows, _stored_by(plain))


def _stored_by(plain: AbstractSet[str]) -> Callable[[str], bool]:
    """The gzip-only rule for rows whose records mark ``plain`` pages (``feed.archive_storage:
    plain``): :func:`~feedsmith.core.layout.stored_gzip_only` on the name, except those."""
    if not plain:
        return stored_gzip_only
    return lambda rel: rel not in plain and stored_gzip_only(rel)
