"""The nothing-changed fast path: the last build's report, when a build now would change nothing.

What the last build saw — its source keys, ``next_publish``, the stat of ``index.json`` and of
the build state (``state.json`` and its journal ``state.log``: an edit may only append to the
latter) — is kept in memory (:class:`Memo`) and, for a one-off builder (``feedsmith
build``), in ``state_dir/last-build.json`` so the next process can take the fast path too.

A new process also checks every published file against its record, so ``last-build.json``
carries those records' stat halves (:func:`published_rows`, ~70 bytes a file): reading and
checking them was ~0.1 s of a no-change ``feedsmith build`` at 10,000 posts when they came from
the 5 MB ``state.json`` (which the memo's stat key of ``state.json`` makes them equal to).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from feedsmith.core.config import Config
from feedsmith.core.layout import MANIFEST, gzip_only_rule
from feedsmith.core.model import Problem
from feedsmith.core.state import json_bytes
from feedsmith.pipeline import statpass

# MEMO_FILE: the nothing-changed memo of the last build by a one-off builder (``feedsmith
# build``), so the next process can take the fast path too (:mod:`.early` reads it first).
from feedsmith.pipeline.early import MEMO_FILE, MEMO_VERSION, state_key
from feedsmith.pipeline.listing import Listing, intact
from feedsmith.pipeline.report import BuildReport
from feedsmith.pipeline.statpass import Key, Row, keys_digest, stat_key
from feedsmith.system.statedir import write_if_changed

log = logging.getLogger("feedsmith.build")


@dataclass
class Memo:
    """What the last build in this process saw, for the nothing-changed fast path."""

    keys: list[Key] | None  # None when read from MEMO_FILE: see keys_digest
    source_problems: list[Problem]
    next_publish: datetime | None
    manifest: tuple[int, int] | None
    state: list[int] | None  # early.state_key: state.json's and its journal's stat
    report: BuildReport
    racy: bool = False
    keys_digest: str | None = None
    from_disk: bool = False  # a new process: the published files are checked too
    templates: str = ""  # see FastPath.templates_key
    #: The media files the build measured → their stat keys (:mod:`.media_probe`): an edited
    #: recording must re-render the entries attaching it though no post changed.
    media: dict[str, tuple[int, int] | None] = dataclasses.field(default_factory=dict)
    #: The published files' stat rows (:func:`published_rows`) as ``state.json`` recorded
    #: them, for a new process; ``None``: it reads ``state.json``'s records instead.
    files: list[Row] | None = None
    #: How the archive pages of ``files`` are stored (``feed.archive_storage``: ``gzip`` or
    #: ``plain``): which of a row's files the check stats. Without it a hand-deleted plain
    #: archive page would pass the stat check unseen.
    storage: str = "gzip"
    #: ``files`` as read from MEMO_FILE, checked (:func:`_rows_from`) only when a question gets
    #: that far: an edit's question fails at the keys, and checking 25,000 rows was ~0.05 s.
    unchecked: Any = None


def published_rows(files: Mapping[str, Mapping[str, Any]]) -> list[Row] | None:
    """The stat half of every published file's record, in the state's order; ``None`` when a
    record lacks it (such a file is never intact: the state's own records then answer)."""
    rows: list[Row] = []
    for rel, rec in files.items():
        mtime, gz_mtime = rec.get("mtime_ns"), rec.get("gz_mtime_ns")
        if mtime is None or gz_mtime is None:
            return None
        rows.append([rel, rec.get("bytes"), mtime, rec.get("gz_bytes"), gz_mtime])
    return rows


def rows_intact(output_dir: Path | str, rows: list[Row], storage: str = "gzip") -> bool:
    """:func:`~feedsmith.pipeline.listing.intact` for every row, at a stat and a string
    concatenation a file (the same answers: a test compares them). ``storage``: the rows'
    archive storage (:attr:`Memo.storage`)."""
    return statpass.rows_intact(output_dir, rows, gzip_only_rule(storage))


def _rows_from(raw: Any) -> list[Row] | None:
    """The rows read back, or ``None`` when they are not rows (then the state is asked)."""
    if not isinstance(raw, list):
        return None
    for row in raw:
        if not (
            isinstance(row, list)
            and len(row) == 5
            and isinstance(row[0], str)
            and all(type(v) is int for v in row[1:])
        ):
            return None
    return raw


def _storage_from(raw: Any) -> str:
    """The memo's ``storage``; anything else raises (the memo is then not used)."""
    if raw not in ("gzip", "plain"):
        raise ValueError(f"unknown archive storage {raw!r}")
    return str(raw)


class FastPath:
    """Remembers each build for the next one's "nothing changed?" question.

    ``persist``: also keep the memo in ``state_dir`` (one-off builders; the service asks its
    watcher instead and keeps the memo in memory only)."""

    def __init__(
        self, config: Config, fingerprint: str, state_path: Path, *, persist: bool
    ) -> None:
        self.path = config.state_dir / MEMO_FILE
        self.output_dir = config.output_dir
        self.fingerprint = fingerprint
        self.state_path = state_path
        self.persist = persist
        self.memo: Memo | None = None
        self.templates_dir = config.templates_dir if config.feed.pages else None
        #: The build's ``feed.archive_storage``, which every archive record it saves follows:
        #: the key is part of the fingerprint, so a build after a switch is a full one that
        #: rewrites every archive page in the new form before the state is saved. (Not read
        #: off the ~25,000 records: that loop was ~15 ms of every one-off build.)
        self.storage = config.feed.archive_storage

    def templates_key(self) -> str:
        """The stat of every file in ``templates_dir`` (none: ``""``): the feed pages are a
        function of the templates too, and nothing else would notice an edited template."""
        root = self.templates_dir
        if root is None:
            return ""
        seen = []
        for path in sorted(root.rglob("*")):
            with contextlib.suppress(OSError):
                st = path.stat()
                seen.append((str(path.relative_to(root)), st.st_mtime_ns, st.st_size))
        return hashlib.sha256(repr(seen).encode("utf-8", "surrogatepass")).hexdigest()

    def remember(
        self,
        listing: Listing,
        report: BuildReport,
        *,
        racy: bool,
        media: dict[str, tuple[int, int] | None] | None = None,
        files: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``files``: the published files' records of the state just saved (a new process
        checks them; only a persisting builder keeps them). With the collector held off: this
        runs after the build let it go again, and its ~13,000 rows (at 10,000 posts) set off
        full collections over the whole parse index, ~0.3 s of a one-off build."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._remember(listing, report, racy=racy, media=media, files=files)
        finally:
            if enabled:
                gc.enable()

    def _remember(
        self,
        listing: Listing,
        report: BuildReport,
        *,
        racy: bool,
        media: dict[str, tuple[int, int] | None] | None,
        files: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        self.memo = Memo(
            keys=listing.keys,
            source_problems=list(listing.problems),
            next_publish=report.next_publish,
            manifest=stat_key(self.output_dir / MANIFEST),
            state=state_key(self.state_path.parent),
            report=report,
            racy=racy,
            templates=self.templates_key(),
            media=dict(media or {}),
            files=published_rows(files) if self.persist and files is not None else None,
            storage=self.storage,
        )
        if self.persist:
            self.save(self.memo)

    def save(self, memo: Memo) -> None:
        """Persist ``memo`` for the next process (only when it could be used: nothing racy,
        no source problems); rewritten only when its bytes change. Losing it costs time."""
        path = self.path
        if memo.racy or memo.source_problems or memo.keys is None:
            with contextlib.suppress(OSError):
                path.unlink()
            return
        report = memo.report
        data = json_bytes(
            {
                "version": MEMO_VERSION,
                "fingerprint": self.fingerprint,
                "cwd": os.getcwd(),
                "keys": keys_digest(memo.keys),
                "manifest": memo.manifest,
                "state": memo.state,
                "next_publish": memo.next_publish.isoformat() if memo.next_publish else None,
                "templates": memo.templates,
                "media": [[k, v] for k, v in sorted(memo.media.items())],
                "posts": report.posts,
                "feeds": report.feeds_written + report.feeds_unchanged,
                "skipped": report.skipped,
                "excluded": report.excluded,
                "problems": [[p.path, p.line, p.severity, p.reason] for p in report.problems],
                # As the full path prints them, for .early (which repeats info-level ones).
                "lines": [p.format() for p in report.problems],
                "files": memo.files,
                # Which files of a row are checked; an older memo lacks it: the full way.
                "storage": memo.storage,
            }
        )
        try:
            write_if_changed(path, data)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)

    def load(self) -> Memo | None:
        """The memo a previous process saved, if it is for this config, this feedsmith and this
        working directory (display paths in problems depend on it); anything odd → ``None``."""
        try:
            raw = orjson.loads((self.path).read_bytes())
            if (
                raw["version"] != MEMO_VERSION
                or raw["fingerprint"] != self.fingerprint
                or raw["cwd"] != os.getcwd()
            ):
                return None
            problems = [Problem(str(p), ln, sev, str(r)) for p, ln, sev, r in raw["problems"]]
            report = BuildReport(
                posts=int(raw["posts"]),
                feeds_written=0,
                feeds_unchanged=int(raw["feeds"]),
                feeds_removed=0,
                problems=problems,
                skipped=int(raw["skipped"]),
                excluded=int(raw["excluded"]),
                next_publish=(
                    datetime.fromisoformat(raw["next_publish"]) if raw["next_publish"] else None
                ),
            )
            return Memo(
                keys=None,
                source_problems=[],
                next_publish=report.next_publish,
                manifest=tuple(raw["manifest"]) if raw["manifest"] else None,  # type: ignore[arg-type]
                state=[int(v) for v in raw["state"]] if raw["state"] else None,
                report=report,
                keys_digest=str(raw["keys"]),
                from_disk=True,
                templates=str(raw["templates"]),
                media={str(k): tuple(v) if v else None for k, v in raw["media"]},  # type: ignore[misc]
                unchecked=raw.get("files"),
                storage=_storage_from(raw["storage"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def unchanged(
        self,
        now: datetime,
        keys: list[Key] | None,
        published_files: Callable[[], Mapping[str, dict[str, Any]]],
        *,
        watched: bool = False,
    ) -> BuildReport | None:
        """The last build's report (as "nothing written") when a build now would change nothing.

        Sound because everything a build depends on is covered: the sources' keys (a file whose
        size and mtime did not change was not re-read by the full path either), the clock only
        through ``next_publish``, and our own outputs through the manifest's and state's stat
        (another process building, or someone deleting the output, changes those). The stat
        pass is :func:`~feedsmith.pipeline.listing.quick_keys`, not ``find_sources``: the latter
        resolves every path for its symlink policy, ~50 µs a file, which alone would be 0.5 s
        at 10,000 posts.
        ``watched``: ``keys`` come from the watcher, which saw every write since the files were
        read, so a "racy" stat no longer matters.
        """
        memo = self.memo
        if memo is None and self.persist:
            memo = self.memo = self.load()
        if memo is None:
            return None
        if memo.racy and not watched:
            return None  # a file changed too recently to trust its stat: re-hash it
        if memo.next_publish is not None and memo.next_publish <= now:
            return None
        if memo.source_problems:
            return None  # symlink trouble etc.: let find_sources judge it again
        if keys is None:
            return None
        if memo.keys is not None and keys != memo.keys:
            return None
        if memo.keys is None and keys_digest(keys) != memo.keys_digest:
            return None
        if memo.manifest is None or stat_key(self.output_dir / MANIFEST) != memo.manifest:
            return None
        if state_key(self.state_path.parent) != memo.state:
            return None
        if memo.templates != self.templates_key():
            return None
        if memo.media:
            # Start-up cost only: the media prober (mutagen) is for sites whose posts attach
            # media; `feedsmith build` asks this question before the pipeline is imported.
            from feedsmith.pipeline.media_probe import restat

            if restat(list(memo.media)) != memo.media:
                return None
        if memo.from_disk:
            # What a new process's full path would verify too: every published file still is
            # what the state records (``feedsmith build`` is how a user repairs the output).
            output_dir = self.output_dir
            if memo.unchecked is not None:
                memo.files, memo.unchecked = _rows_from(memo.unchecked), None
            if memo.files is not None:
                if not rows_intact(output_dir, memo.files, memo.storage):
                    return None
            else:
                files = published_files()
                if not all(intact(output_dir, rel, rec) for rel, rec in files.items()):
                    return None
        last = memo.report
        return dataclasses.replace(
            last,
            feeds_written=0,
            feeds_unchanged=last.feeds_written + last.feeds_unchanged,
            feeds_removed=0,
            problems=list(last.problems),
            files_written=(),
            files_removed=(),
        )
