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
   ``gone``.
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
that an earlier crash lost without their size also disagreeing. ``FSYNC = True`` restores a
per-file fsync pass for deployments that want it anyway.

Incremental builds pass feeds they did not re-render as ``kept``: their previous records are
carried over (the caller has verified size and mtime on disk), they are neither read, written
nor deleted, and they stay in the manifest.

Sidecars are deterministic (zlib-ng at a fixed level, ``mtime=0``, no file name, OS byte 255 in
the header), so the same bytes always give the same ``.gz`` with a given zlib-ng version, and
static servers such as nginx ``gzip_static`` can serve them.

Unicode paths (Japanese tag slugs) are ordinary file names here; URLs are percent-encoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zlib_ng import gzip_ng

from feedsmith.state import BuildState, json_bytes, write_atomic

log = logging.getLogger(__name__)

MANIFEST = "index.json"
OPML_NAME = "index.opml"
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
#: fsync temp files before renaming them; off by default (see "Durability" above).
FSYNC = False
#: Top-level names and folders the build owns; only these are ever deleted as stale.
_OWNED_DIRS = ("categories", "tags")
_OWNED_SUFFIXES = (".atom.xml", ".rss.xml", ".json", ".opml")


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


def iso_z(dt: datetime) -> str:
    """The one timestamp format of the manifest: UTC, seconds, ``Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    tmp: str
    gz_tmp: str
    gz_size: int


def stage(output_dir: Path | str, rel: str, data: bytes) -> Staged:
    _check_rel(rel)
    final = os.path.join(output_dir, rel)
    packed = gzip_bytes(data)
    tmp = _write_temp(final, data, STAGE_SUFFIX)
    try:
        gz_tmp = _write_temp(final + ".gz", packed, STAGE_SUFFIX)
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
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@dataclass
class _Pending:
    rel: str
    final: str
    tmp: str


def publish(
    output_dir: Path,
    files: Mapping[str, FileData],
    feeds: Sequence[FeedInfo],
    state: BuildState,
    now: datetime,
    *,
    kept: Collection[str] = (),
) -> WriteReport:
    """Make ``output_dir`` hold exactly ``files`` and ``kept`` (plus sidecars and the manifest).

    ``files`` and ``kept`` together must be the *complete* set for this build: ``kept`` are
    paths published by the previous build (``state.files``) whose bytes the caller knows are
    still right and did not render again. ``state`` is the previous build's state (read only);
    the caller stores the returned ``files``/``gone``/``generated``.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    base = str(output_dir)
    now_iso = iso_z(now)
    on_disk = _scan_owned(base)

    new_records: dict[str, dict[str, Any]] = {}
    for rel in kept:
        if rel in files:
            raise ValueError(f"{rel!r} is both rendered and kept")
        new_records[rel] = dict(state.files[rel])
    published = set(files) | set(kept)
    pending: list[_Pending] = []
    changed_paths: set[str] = set()  # published paths whose bytes are new
    try:
        for rel in sorted(files):
            _check_rel(rel)
            item = files[rel]
            try:
                record, writes = _plan_file(base, rel, item, state.files.get(rel), now_iso, on_disk)
            except BaseException:
                discard(item)
                raise
            new_records[rel] = record
            used: set[str] = set()
            for suffix, payload in writes:
                final = os.path.join(base, rel + suffix)
                if isinstance(payload, str):  # already staged
                    used.add(payload)
                    pending.append(_Pending(rel + suffix, final, payload))
                else:
                    pending.append(_Pending(rel + suffix, final, _write_temp(final, payload)))
            if isinstance(item, Staged):
                for tmp in {item.tmp, item.gz_tmp} - used:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
            if any(suffix == "" for suffix, _ in writes):
                changed_paths.add(rel)
        if FSYNC:
            _fsync_all([p.tmp for p in pending])
    except BaseException:
        for p in pending:
            with contextlib.suppress(OSError):
                os.unlink(p.tmp)
        raise

    # Point of no return: everything is on disk, now make it visible. A rename can only fail
    # for reasons outside our control (someone removed the folder); then the rest is left for
    # the next build, which re-verifies every file against the disk.
    order = sorted(pending, key=lambda p: (not p.rel.endswith(".gz"), p.rel))
    for i, p in enumerate(order):
        try:
            os.replace(p.tmp, p.final)
        except BaseException:
            for rest in order[i:]:
                with contextlib.suppress(OSError):
                    os.unlink(rest.tmp)
            raise
    for p in pending:
        if not p.rel.endswith(".gz"):
            new_records[p.rel]["mtime_ns"] = os.stat(p.final).st_mtime_ns
        else:
            new_records[p.rel[:-3]]["gz_mtime_ns"] = os.stat(p.final).st_mtime_ns

    # Stale files: what the last build published, plus owned-looking strays on disk.
    disk_mains = {rel[:-3] if rel.endswith(".gz") else rel for rel in on_disk}
    stale = (set(state.files) | disk_mains) - published
    removed_paths: list[str] = []
    gone = {rel: since for rel, since in state.gone.items() if rel not in published}
    removed_feeds = 0
    for rel in sorted(stale):
        for path_rel in (rel, rel + ".gz"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(base, path_rel))
                removed_paths.append(path_rel)
        gone.setdefault(rel, now_iso)
        removed_feeds += 1

    feed_paths = {rel for feed in feeds for rel in feed.files}
    written = sum(1 for rel in changed_paths if rel in feed_paths)
    unchanged = sum(1 for rel in feed_paths if rel not in changed_paths)

    any_change = bool(pending or removed_paths) or gone != state.gone
    generated = now_iso if any_change or state.generated is None else state.generated
    manifest = render_manifest(generated, feeds, new_records, gone)
    manifest_path = Path(base) / MANIFEST
    current = _read_or_none(manifest_path)
    if current != manifest and current is not None and not any_change:
        # The manifest alone differs (new layout, hand edit, lost state): that is a change too.
        generated = now_iso
        manifest = render_manifest(generated, feeds, new_records, gone)
    manifest_written = current != manifest
    if manifest_written:
        write_atomic(manifest_path, manifest)

    paths_written = tuple(sorted(p.rel for p in pending)) + (
        (MANIFEST,) if manifest_written else ()
    )
    return WriteReport(
        written=written,
        unchanged=unchanged,
        removed=removed_feeds,
        paths_written=paths_written,
        paths_removed=tuple(removed_paths),
        manifest_written=manifest_written,
        files=new_records,
        gone=gone,
        generated=generated,
    )


def render_manifest(
    generated: str,
    feeds: Sequence[FeedInfo],
    records: Mapping[str, Mapping[str, Any]],
    gone: Mapping[str, str],
) -> bytes:
    """``index.json``: deterministic compact JSON (sorted keys, UTF-8 names, no ASCII escapes).

    Files that belong to no feed (``index.opml``) are listed under a top-level ``files`` so the
    server can give them a ``Last-Modified`` too.
    """
    feed_paths: set[str] = set()
    out_feeds = []
    for feed in feeds:
        entry_files = {}
        for rel in feed.files:
            feed_paths.add(rel)
            rec = records[rel]
            entry_files[rel] = {
                "sha256": rec["sha256"],
                "bytes": rec["bytes"],
                "changed": rec["changed"],
            }
        out_feeds.append(
            {
                "kind": feed.kind,
                "name": feed.name,
                "slug": feed.slug,
                "entries": feed.entries,
                "updated": feed.updated,
                "urls": dict(feed.urls),
                "files": entry_files,
            }
        )
    extras = {
        rel: {"sha256": rec["sha256"], "bytes": rec["bytes"], "changed": rec["changed"]}
        for rel, rec in records.items()
        if rel not in feed_paths
    }
    data = {"generated": generated, "feeds": out_feeds, "files": extras, "gone": dict(gone)}
    return json_bytes(data)


# -- helpers ----------------------------------------------------------------------------------


def _check_rel(rel: str) -> None:
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


def _plan_file(
    base: str,
    rel: str,
    item: FileData,
    prev: Mapping[str, Any] | None,
    now_iso: str,
    on_disk: Collection[str] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, bytes | str]]]:
    """Decide what must be written for one file; returns its new record and the writes as
    ``(suffix, bytes)`` or, for a :class:`Staged` item, ``(suffix, temp path)``.

    ``on_disk``: :func:`_scan_owned`'s listing from the start of ``publish``. A file it did
    not find is not stat'ed (a cold build would stat ~5,000 missing paths): one that appeared
    since is replaced by the rename all the same."""
    data: bytes | None
    if isinstance(item, Staged):
        data, digest, size = None, item.sha256, item.size
    else:
        data, digest, size = item, sha256(item), len(item)
    path = os.path.join(base, rel)
    same_as_state = prev is not None and prev.get("sha256") == digest
    listed = on_disk is None or not _owned_shape(rel)
    st = _stat(path) if listed or rel in on_disk else None
    if same_as_state and st and st.st_size == size and st.st_mtime_ns == prev.get("mtime_ns"):
        main_ok = True  # trusted: state and disk agree
    elif st is None or st.st_size != size:
        main_ok = False
    elif data is not None:
        main_ok = _read_or_none(path) == data
    else:
        on_disk = _read_or_none(path)
        main_ok = on_disk is not None and sha256(on_disk) == digest
    if same_as_state:
        changed = str(prev["changed"])  # type: ignore[index]
    elif main_ok and st is not None:
        changed = iso_z(datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC))  # state was lost
    else:
        changed = now_iso
    record: dict[str, Any] = {"sha256": digest, "bytes": size, "changed": changed}
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


def _write_temp(final: str, data: bytes, suffix: str = TMP_SUFFIX) -> str:
    """Write ``data`` next to ``final`` under a hidden temp name; return that name."""
    folder, name = os.path.split(final)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}{suffix}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _fsync_all(paths: Sequence[str]) -> None:
    """Flush every temp file before any rename, in one pass after all were written.

    One pass at the end lets the kernel write the data back in bulk while we were still
    rendering; fsyncing each file right after writing it costs a journal commit per file.
    """
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _scan_owned(base: str) -> set[str]:
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
            if not name.endswith(_OWNED_SUFFIXES) or name == MANIFEST:
                continue
            if prefix or name.startswith("all.") or name == OPML_NAME:
                found.add(rel)

    visit(base, "", False)
    for sub in _OWNED_DIRS:
        visit(os.path.join(base, sub), sub + "/", True)
    return found


def _owned_shape(rel: str) -> bool:
    """Whether :func:`_scan_owned` would list ``rel`` (and its sidecar) when it exists."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(".") or not name.endswith(_OWNED_SUFFIXES) or name == MANIFEST:
        return False
    if "/" in rel:
        return rel.split("/", 1)[0] in _OWNED_DIRS
    return name.startswith("all.") or name == OPML_NAME


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_or_none(path: str | Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
