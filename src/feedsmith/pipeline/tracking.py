"""What changed since the last build, as the service learns it from inotify instead of a scan.

A builder that builds more than once (the service) arms a :class:`~feedsmith.pipeline.watch.Watcher`
on ``posts_dir`` and ``output_dir`` before each full scan; later builds stat and re-read only the
files events named (suspects) and patch the last listing, and check only touched output files
against their records. Whenever the events may be incomplete — a new or removed folder, a queue
overflow, a vanished root, a non-local file system, a failed build, or ``FULL_SCAN_SECONDS``
since the last full pass — the answer is "unknown" (``None``) and the build scans in full.
"""

from __future__ import annotations

import os
import stat
import time
from bisect import bisect_left
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from feedsmith.core.post_files import PLAIN, PostFiles
from feedsmith.core.state import BuildState
from feedsmith.pipeline.listing import Key, Listed, any_name, intact, owned_mains
from feedsmith.pipeline.watch import Watcher

POSTS_TREE, OUTPUT_TREE = "posts", "output"  # the watcher's names for the two trees
#: However good the watcher, the service scans everything in full this often anyway.
FULL_SCAN_SECONDS = 600.0


class ChangeTracker:
    """The watcher and what the last successful build left for the next to patch.

    ``wanted``: ask inotify at all (``False`` for one-off builds, and once inotify turned out
    not to exist here)."""

    def __init__(
        self, posts_dir: Path, output_dir: Path, *, wanted: bool, files: PostFiles = PLAIN
    ) -> None:
        self.posts_dir = posts_dir
        self.files = files
        self.output_dir = output_dir
        self.wanted = wanted
        self.watcher: Watcher | None = None  # opened on the first build
        self.armed_at: float | None = None  # monotonic time of the last full pass
        self.listed: Listed | None = None  # the last successful build's listing
        self.published: BuildState | None = None  # the state the last build saved
        #: Published files (main ``rel``) touched since a build verified them; ``None``: unknown.
        self.touched: set[str] | None = None
        #: Paths in ``output_dir`` the watcher named since the last build that are not a
        #: published file (strays someone put there, our own temp files): with ``touched``,
        #: all that may differ from the last build's records (see ``publish.listed_owned``).
        self.strays: set[str] = set()
        #: The owned files (sidecars too) the last build's publish left in ``output_dir``: what
        #: it found there, less what it deleted, plus what it renamed into place. With
        #: ``touched`` and ``strays`` the next build's listing without a walk, and without a
        #: pass over every record (``publish.owned.patched_owned``); ``None``: unknown.
        self.owned: set[str] | None = None

    def changes_since_last_build(self) -> set[str] | None:
        """Post files (``rel``) that may have changed since the last successful build, or
        ``None`` when that is unknown and a full scan must run (then the caller arms first)."""
        if not self.wanted:
            return None
        if self.watcher is None:
            self.watcher = Watcher.open()
            if self.watcher is None:
                self.wanted = False  # not on this system: don't ask every build
            return None
        listed = self.listed
        if listed is None or self.armed_at is None or listed.cwd != os.getcwd():
            return None
        if time.monotonic() - self.armed_at > FULL_SCAN_SECONDS:
            return None  # a full pass now and then, so no oversight can last
        return self.watcher.take(POSTS_TREE)

    def delta(
        self, suspects: set[str]
    ) -> tuple[list[Key], dict[str, tuple[int, int] | None]] | None:
        """The last listing with ``suspects`` stat'ed again: the keys now, and per looked-at
        ``rel`` its key or ``None`` (gone). ``None`` when a suspect is no longer a plain file
        (a symlink or a folder now): the full scan's policy decides about those."""
        listed = self.listed
        assert listed is not None
        todo = set(suspects) | listed.unreadable  # unreadable files are retried every build
        if not todo:
            return listed.keys, {}
        keys = list(listed.keys)
        rels = [rel for rel, _, _ in keys]
        root = os.fspath(self.posts_dir)
        delta: dict[str, tuple[int, int] | None] = {}
        for rel in sorted(todo):
            try:
                st = os.lstat(os.path.join(root, rel))
            except (FileNotFoundError, NotADirectoryError):
                st = None
            except OSError:
                return None
            i = bisect_left(rels, rel)
            present = i < len(rels) and rels[i] == rel
            if st is None:
                delta[rel] = None
                if present:
                    del keys[i], rels[i]
                continue
            if not stat.S_ISREG(st.st_mode):
                return None
            delta[rel] = (st.st_size, st.st_mtime_ns)
            if present:
                keys[i] = (rel, st.st_size, st.st_mtime_ns)
            else:
                keys.insert(i, (rel, st.st_size, st.st_mtime_ns))
                rels.insert(i, rel)
        return keys, delta

    def output_touched(self) -> set[str] | None:
        """Published files (the main file's ``rel`` for a ``.gz`` too) that were written to,
        moved or deleted since the last build verified them, or ``None`` when unknown (not
        watching, or the watcher lost track: every kept file is then stat'ed)."""
        watcher, published = self.watcher, self.published
        if watcher is None or published is None or self.touched is None:
            return None
        found = watcher.take(OUTPUT_TREE)
        if found is None:
            self.touched = None
            return None
        self.touched |= owned_mains(found, published.files)
        self.strays |= _strays(found, published.files)
        return self.touched

    def settle_output(self, state: BuildState) -> set[str] | None:
        """After publishing: the watcher's events since it was armed or last asked are mostly
        this build's own writes. Those whose file still is what ``state`` records are done
        with; anything else stays touched for the next build. Without this, the build after
        any change would see its predecessor's writes and miss the no-change fast path."""
        watcher = self.watcher
        if watcher is None:
            return None
        output_dir, records = self.output_dir, state.files
        found = watcher.take(OUTPUT_TREE)
        self.strays = set()
        if found is not None:
            mains = owned_mains(found, records)
            self.strays = _strays(found, records)
        else:  # not armed before (the first build: no folder yet): arm, then check it all
            self.arm(OUTPUT_TREE, output_dir)
            if watcher.take(OUTPUT_TREE) is None:
                return None
            mains = set(records)
        return {rel for rel in mains if not intact(output_dir, rel, records[rel])}

    def arm(self, tree: str, root: Path) -> None:
        if self.watcher is None:
            return
        if tree == POSTS_TREE:
            armed = self.watcher.arm(tree, os.fspath(root), self.files.wants, self.files.enters)
        else:
            armed = self.watcher.arm(tree, os.fspath(root), any_name)
        if tree == POSTS_TREE:
            self.armed_at = time.monotonic() if armed else None

    def lose_track(self) -> None:
        """After a failed build: what was kept about the last one may no longer describe the
        disk (the index moved on, events were taken), so the next build scans in full."""
        self.listed = None
        self.published = None
        self.touched = None
        self.strays = set()
        self.owned = None
        if self.watcher is not None:
            self.watcher.forget(POSTS_TREE)
            self.watcher.forget(OUTPUT_TREE)

    @property
    def watching(self) -> bool:
        """True once builds learn what changed from the watcher rather than by scanning."""
        return self.watcher is not None and self.armed_at is not None

    def close(self) -> None:
        """Release the watcher's descriptor (also done when the builder is collected)."""
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None


def _strays(paths: set[str], records: Mapping[str, Any]) -> set[str]:
    """The watcher's ``paths`` that are neither a published file nor its ``.gz``."""
    return {p for p in paths if (p[:-3] if p.endswith(".gz") else p) not in records}
