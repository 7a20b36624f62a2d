"""Publish one build's complete set of files so readers never see a half-written output.

The protocol, in this order:

1. Temp files left by a crashed earlier build (``*.feedsmith-tmp``) are removed.
2. Every file whose bytes differ from what is on disk is written, with its ``.gz`` sidecar, to a
   temp file *in the same folder* (so the rename below is atomic). A file is judged unchanged
   when the previous state's sha256 matches *and* the file on disk has the recorded size and
   mtime; when the disk disagrees with the state (someone edited or deleted a file, or the state
   was lost) the disk bytes are compared directly. Nothing visible has changed yet: an exception
   here removes the temp files and leaves the previous output exactly as it was.
3. Only after *all* temp files exist are they renamed into place, sidecars
   first. Each rename is atomic; across files there is a window of a few milliseconds where a
   plain file and its ``.gz`` (or two feeds) come from different builds. ``feedsmith serve``
   checks a sidecar against the plain bytes before using it; a plain static server does not.
4. Files no longer published (and their ``.gz``) are deleted and recorded in ``gone`` with the
   build time, so the server can answer 410 instead of 404; a path published again leaves
   ``gone``. An archive folder a deletion left empty (a feed that lost its pages, a tag no
   post has any more) is removed too: a site whose tags come and go would otherwise collect
   thousands of empty folders under ``archive/``.
   Archive pages are stored only as their ``.gz`` (:func:`~feedsmith.core.layout.stored_gzip_only`);
   a plain copy an older feedsmith left beside one is deleted, and is not ``gone``.
5. ``index.json`` is written last, atomically, and only when its bytes change. Its ``generated``
   is the time of the last build that changed any output, so a rebuild with no changes writes
   nothing at all (bytes and mtimes of every file stay identical).

Durability (fsync policy): feed files are **not** fsynced. fsyncing each of a cold build's
thousands of files cost ~5 s of a 1,000-post build (one journal commit per file), and what it
buys is only protection against a *power loss or kernel crash* in the seconds after a build —
readers never see partial files either way, because visibility comes from the atomic rename,
not from fsync. After such a crash the worst case is a renamed file whose data had not reached
the disk yet (ext4 and XFS flush data of a file renamed over another before the rename is
committed, so in practice it is the old or the new file; elsewhere it may be empty or short).
The next build repairs that: a file is only trusted without reading it when its size *and*
mtime match the record in ``state.json``, and otherwise its bytes are compared and rewritten.
``state.json`` itself is written after the feeds and *is* fsynced, so it never claims files
that an earlier crash lost without their size also disagreeing. ``index.json`` follows the
feed files' policy (a 2.5 MB fsync was ~60 ms of wall time of each edit at 10,000 posts), and
every full build compares its bytes anyway. ``FSYNC = True`` restores a per-file fsync pass
(and the manifest's) for deployments that want it anyway.

Incremental builds pass feeds they did not re-render as ``kept``: their previous records are
carried over (the caller has verified size and mtime on disk), they are neither read, written
nor deleted, and they stay in the manifest.

Unicode paths (Japanese tag slugs) are ordinary file names here; URLs are percent-encoded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any

from feedsmith.core.layout import (
    MANIFEST,
    PLAIN_MARK,
    iso_seconds,
    stored_gzip_only,
)
from feedsmith.core.state import BuildState
from feedsmith.publish.changes import (
    ChangeSet,
    FeedInfo,
    MediaRecord,
    RecordFiles,
    Sink,
)
from feedsmith.publish.gzonly import plan_gzip_only as _plan_gzip_only
from feedsmith.publish.gzonly import read_or_none as _read_or_none
from feedsmith.publish.gzonly import stat_or_none as _stat
from feedsmith.publish.manifest import ManifestMemo, render_manifest
from feedsmith.publish.owned import (
    Found,
    owned_shape,
    remove_empty_archive_folders,
    stale_owned,
)
from feedsmith.publish.owned import scan_owned as _scan_owned
from feedsmith.publish.staging import (
    FileData,
    Staged,
    check_rel,
    discard,
    gzip_bytes,
    sha256,
    unlink_all,
    write_temp,
)
from feedsmith.system.diskerrors import doing
from feedsmith.system.statedir import write_private

__all__ = [
    "FeedInfo",
    "LocalWriter",
    "Planned",
    "WriteReport",
    "plan_publish",
    "render_manifest",
]

log = logging.getLogger("feedsmith.output")

#: fsync temp files before renaming them; off by default (see "Durability" above).
FSYNC = False
#: Owned files that are not feeds (feed pages and their assets): not counted as feeds removed.
_NOT_FEEDS = (".html", ".css", ".js", ".opml")


@dataclass(frozen=True)
class WriteReport:
    """What one publish did.

    ``written``/``unchanged``/``removed`` count *feed files* (one per feed per format: what a
    reader subscribes to); ``index.opml``, ``index.json`` and ``.gz`` sidecars are not counted
    there but every path actually replaced or deleted on disk is in ``paths_written`` /
    ``paths_removed``. ``files``/``gone``/``generated`` are the new values for the state.
    """

    written: int
    unchanged: int
    removed: int
    paths_written: tuple[str, ...]
    paths_removed: tuple[str, ...]
    manifest_written: bool
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)
    generated: str = ""
    manifest: bytes = b""


@dataclass(frozen=True)
class Planned:
    """A publish decided and staged, not yet visible: the change set every sink consumes, and
    the records the next build's state keeps (with the disk's mtimes, see :meth:`report`)."""

    changes: ChangeSet
    records: dict[str, dict[str, Any]]
    written: int
    unchanged: int
    removed: int
    #: The owned files (sidecars too) in ``output_dir`` once committed: what the publish found
    #: there, less its deletions, plus what it renames into place (the service's next listing).
    owned: set[str] = field(default_factory=set)

    def commit(self, writer: Sink) -> WriteReport:
        """Make the publish visible through ``writer`` (the local writer) and report it; if
        the writer fails, the temp files go and the previous feeds stay as they were."""
        try:
            writer.consume(self.changes)
        except BaseException:
            discard_planned(self)
            raise
        return self.report()

    def report(self) -> WriteReport:
        """What the publish did, once :class:`LocalWriter` committed it: the records get the
        mtimes of the files just renamed into place (what the next build trusts them by)."""
        changes = self.changes
        for path_rel in changes.staged:
            final = os.path.join(changes.output_dir, path_rel)
            if path_rel.endswith(".gz"):
                record = self.records[path_rel[:-3]]
                record["gz_mtime_ns"] = os.stat(final).st_mtime_ns
                if stored_gzip_only(path_rel[:-3], record):
                    record["mtime_ns"] = record["gz_mtime_ns"]
            else:
                self.records[path_rel]["mtime_ns"] = os.stat(final).st_mtime_ns
        paths_written = tuple(sorted(changes.staged)) + (
            (MANIFEST,) if changes.manifest_changed else ()
        )
        return WriteReport(
            written=self.written,
            unchanged=self.unchanged,
            removed=self.removed,
            paths_written=paths_written,
            paths_removed=changes.deletions,
            manifest_written=changes.manifest_changed,
            files=self.records,
            gone=dict(changes.gone),
            generated=changes.generated,
            manifest=changes.manifest,
        )


def plan_publish(
    output_dir: Path,
    files: Mapping[str, FileData],
    feeds: Sequence[FeedInfo],
    state: BuildState,
    now: datetime,
    *,
    kept: Collection[str] = (),
    media: Mapping[str, MediaRecord] | None = None,
    media_dir: Path | None = None,
    on_disk: set[str] | None = None,
    manifest_memo: ManifestMemo | None = None,
    gzip_only: Callable[[str], bool] = stored_gzip_only,
) -> Planned:
    """Steps 1, 2 and the decisions of 4 and 5 (see the module docstring): every changed file
    is in a temp file beside its final path, the stale files and the manifest are decided, and
    nothing a reader can see has changed. An exception removes the temp files.

    ``on_disk``: the owned files on disk when the caller knows them (:func:`listed_owned`, in
    the service); else the output tree is walked (:func:`_scan_owned`). ``manifest_memo``:
    the manifest's feeds as serialised last build (:class:`ManifestMemo`, the service)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    base = str(output_dir)
    now_iso = iso_seconds(now)
    if on_disk is None:
        on_disk = _scan_owned(base)

    rendered = set(files)
    kept_set = kept if isinstance(kept, (set, frozenset)) else set(kept)
    both = rendered & kept_set
    if both:
        raise ValueError(f"{min(both)!r} is both rendered and kept")
    # A kept file's record is the previous one, shared rather than copied: records are only
    # ever changed while their build plans them (``_plan_file``, :meth:`Planned.report`), and
    # kept ones are not planned. At 10,000 posts that is ~25,000 dict copies spared per build.
    previous = state.files
    none_dropped = False
    if len(kept_set) * 2 > len(previous):  # most files kept (an edit): copy all, drop the rest
        new_records: dict[str, dict[str, Any]] = dict(previous)
        for rel in rendered:
            new_records.pop(rel, None)
        # What is left is exactly the kept files when there are as many and all were recorded
        # (an edit that unpublishes nothing: the usual case, found without a set difference).
        none_dropped = len(new_records) == len(kept_set) and kept_set.issubset(previous)
        if not none_dropped:
            for rel in new_records.keys() - kept_set:
                del new_records[rel]
        if len(new_records) != len(kept_set):
            missing = kept_set - previous.keys()
            raise KeyError(min(missing))
    else:
        new_records = {rel: previous[rel] for rel in kept_set}
    # ``on_disk`` made from the last publish's owned files (or records) that are this state's:
    # only the paths looked at again can be strays (see owned.Found).
    memo = manifest_memo
    source = on_disk.source if isinstance(on_disk, Found) else None
    fast = none_dropped and (
        source is previous
        or (memo is not None and memo.records is previous and source is memo.owned is not None)
    )
    published: Container[str] = _Either(rendered, kept_set) if fast else rendered | kept_set
    staged: dict[str, str] = {}  # final rel (sidecars too) -> temp file
    changed_paths: set[str] = set()  # published paths whose bytes are new
    try:
        for rel in sorted(files):
            check_rel(rel)
            item = files[rel]
            try:
                record, writes = _plan_file(
                    base, rel, item, state.files.get(rel), now_iso, on_disk, gzip_only
                )
            except BaseException:
                discard(item)
                raise
            new_records[rel] = record
            used: set[str] = set()
            for suffix, payload in writes:
                final = os.path.join(base, rel + suffix)
                if isinstance(payload, str):  # already staged
                    used.add(payload)
                    staged[rel + suffix] = payload
                else:
                    staged[rel + suffix] = write_temp(final, payload)
            if isinstance(item, Staged):
                for tmp in {item.tmp, item.gz_tmp} - used - {""}:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            if any(suffix == "" for suffix, _ in writes) or (
                writes and stored_gzip_only(rel, record)
            ):
                changed_paths.add(rel)
        if FSYNC:
            _fsync_all(list(staged.values()))
    except BaseException:
        unlink_all(staged.values())
        raise

    # Stale files: what the last build published, plus owned-looking strays on disk.
    stale, deletions = stale_owned(
        previous.keys(),
        published,
        on_disk,
        none_dropped=fast,
        source=source if fast else None,
        gzip_only=gzip_only,
    )
    gone = {rel: since for rel, since in state.gone.items() if rel not in published}
    for rel in stale:
        gone.setdefault(rel, now_iso)

    feed_paths = set(chain.from_iterable(map(attrgetter("files"), feeds)))
    written = sum(1 for rel in changed_paths if rel in feed_paths)

    any_change = bool(staged or deletions) or gone != state.gone
    generated = now_iso if any_change or state.generated is None else state.generated
    manifest = render_manifest(
        generated, feeds, new_records, gone, media, manifest_memo, changed=rendered, since=previous
    )
    current = _read_or_none(Path(base) / MANIFEST)
    if current != manifest and current is not None and not any_change:
        # The manifest alone differs (new layout, hand edit, lost state): that is a change too.
        generated = now_iso
        manifest = render_manifest(generated, feeds, new_records, gone, media, manifest_memo)
    changes = ChangeSet(
        output_dir=output_dir,
        generated=generated,
        files=RecordFiles(new_records),
        feeds=tuple(feeds),
        gone=gone,
        manifest=manifest,
        written=tuple(sorted(changed_paths)),
        removed=tuple(stale),
        manifest_changed=current != manifest,
        staged=staged,
        deletions=deletions,
        media=dict(media or {}),
        media_dir=media_dir,
    )
    removed = sum(1 for rel in stale if not rel.endswith(_NOT_FEEDS))
    # A Found listing is this publish's own (made for it from the last one): updated in place.
    owned = on_disk if isinstance(on_disk, Found) else on_disk.difference(deletions)
    owned.difference_update(deletions)
    if memo is not None:
        memo.owned = owned
    owned.update(p for p in staged if owned_shape(p[:-3] if p.endswith(".gz") else p))
    return Planned(changes, new_records, written, len(feed_paths) - written, removed, owned)


class _Either:
    """``in`` either of two sets, without making their union (~25,000 paths)."""

    __slots__ = ("a", "b")

    def __init__(self, a: Container[str], b: Container[str]) -> None:
        self.a, self.b = a, b

    def __contains__(self, rel: object) -> bool:
        return rel in self.a or rel in self.b


def discard_planned(planned: Planned) -> None:
    """Remove the temp files of a publish that will not be committed (or failed half-way)."""
    unlink_all(planned.changes.staged.values())


class LocalWriter:
    """The sink that makes ``output_dir`` the published tree: steps 3 to 5 of the module
    docstring. It runs first, so the other sinks read what it published."""

    name = "local"

    def consume(self, changes: ChangeSet) -> None:
        # Point of no return: everything is on disk, now make it visible. A rename can only
        # fail for reasons outside our control (someone removed the folder); then the rest is
        # left for the next build, which re-verifies every file against the disk.
        base = changes.output_dir
        order = sorted(changes.staged, key=lambda rel: (not rel.endswith(".gz"), rel))
        for i, rel in enumerate(order):
            try:
                with doing("rename", changes.staged[rel]):
                    os.replace(changes.staged[rel], os.path.join(base, rel))
            except BaseException:
                unlink_all(changes.staged[rest] for rest in order[i:])
                raise
        for path_rel in changes.deletions:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(base, path_rel))
        remove_empty_archive_folders(base, changes.deletions)
        if changes.manifest_changed:
            manifest = changes.manifest
            write_private(
                Path(base) / MANIFEST, lambda fh: fh.write(manifest), fsync=FSYNC, mode=0o644
            )


# -- helpers ----------------------------------------------------------------------------------


def _plan_file(
    base: str,
    rel: str,
    item: FileData,
    prev: Mapping[str, Any] | None,
    now_iso: str,
    on_disk: Collection[str] | None = None,
    gzip_only: Callable[[str], bool] = stored_gzip_only,
) -> tuple[dict[str, Any], list[tuple[str, bytes | str]]]:
    """Decide what must be written for one file; returns its new record and the writes as
    ``(suffix, bytes)`` or, for a :class:`Staged` item, ``(suffix, temp path)``.

    ``on_disk``: :func:`_scan_owned`'s listing from the start of ``publish``. A file it did
    not find is not stat'ed (a cold build would stat ~5,000 missing paths): one that appeared
    since is replaced by the rename all the same."""
    if gzip_only(rel):
        return _plan_gzip_only(base, rel, item, prev, now_iso, on_disk)
    data: bytes | None
    if isinstance(item, Staged):
        data, digest, size = None, item.sha256, item.size
    else:
        data, digest, size = item, sha256(item), len(item)
    path = os.path.join(base, rel)
    same_as_state = prev is not None and prev.get("sha256") == digest
    listed = on_disk is None or not owned_shape(rel)
    st = _stat(path) if listed or rel in on_disk else None
    if same_as_state and st and st.st_size == size and st.st_mtime_ns == prev.get("mtime_ns"):
        main_ok = True  # trusted: state and disk agree
    elif st is None or st.st_size != size:
        main_ok = False
    elif data is not None:
        main_ok = _read_or_none(path) == data
    else:
        existing = _read_or_none(path)
        main_ok = existing is not None and sha256(existing) == digest
    if same_as_state:
        changed = str(prev["changed"])  # type: ignore[index]
    elif main_ok and st is not None:
        changed = iso_seconds(datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC))  # state was lost
    else:
        changed = now_iso
    record: dict[str, Any] = {"sha256": digest, "bytes": size, "changed": changed}
    if stored_gzip_only(rel):  # an archive page stored plain (feed.archive_storage: plain)
        record[PLAIN_MARK] = True
    writes: list[tuple[str, bytes | str]] = []
    if not main_ok:
        writes.append(("", item.tmp if isinstance(item, Staged) else data))  # type: ignore[arg-type]
    else:
        record["mtime_ns"] = st.st_mtime_ns  # type: ignore[union-attr]

    gz_path = path + ".gz"
    gz_st = _stat(gz_path) if listed or rel + ".gz" in on_disk else None  # type: ignore[operator]
    gz_trusted = (
        same_as_state
        and gz_st is not None
        and gz_st.st_size == prev.get("gz_bytes")  # type: ignore[union-attr]
        and gz_st.st_mtime_ns == prev.get("gz_mtime_ns")  # type: ignore[union-attr]
    )
    if gz_trusted:
        record["gz_bytes"] = gz_st.st_size  # type: ignore[union-attr]
        record["gz_mtime_ns"] = gz_st.st_mtime_ns  # type: ignore[union-attr]
        return record, writes
    if isinstance(item, Staged):
        gz_size = item.gz_size
        same_gz = gz_st is not None and gz_st.st_size == gz_size
        same_gz = same_gz and _read_or_none(gz_path) == _read_or_none(item.gz_tmp)
        gz_write: bytes | str = item.gz_tmp
    else:
        packed = gzip_bytes(item)
        gz_size = len(packed)
        same_gz = gz_st is not None and gz_st.st_size == gz_size
        same_gz = same_gz and _read_or_none(gz_path) == packed
        gz_write = packed
    record["gz_bytes"] = gz_size
    if same_gz:
        record["gz_mtime_ns"] = gz_st.st_mtime_ns  # type: ignore[union-attr]
    else:
        writes.append((".gz", gz_write))
    return record, writes


def _fsync_all(paths: Sequence[str]) -> None:
    """Flush every temp file before any rename, in one pass after all were written.

    One pass at the end lets the kernel write the data back in bulk while we were still
    rendering; fsyncing each file right after writing it costs a journal commit per file.
    """
    for path in paths:
        with doing("fsync", path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
