"""One build: scan → remember → group → render → publish → remember again.

The whole pipeline runs against the clock it is given (``now``), never the wall clock, so tests
and the scheduler decide what "now" is. It is all-or-nothing for readers: everything is rendered
in memory first and :func:`feedsmith.output.publish` renames files into place only once every
one of them was written, so an exception anywhere before that leaves the previous output exactly
as it was and surfaces as :class:`BuildError`. Invalid posts are not failures: they are skipped
and reported (``BuildReport.skipped``/``problems``).

:class:`SiteBuilder` is a class rather than a function so the long-running service can keep
things between builds. What it keeps, cheapest check first:

1. *What changed* (service only): inotify (:mod:`feedsmith.watch`) names the post files and the
   published files that may have changed since the last build; only those are stat'ed and read.
   Whenever the events may be incomplete the build scans everything, as a new process does.
2. *Nothing changed*: the previous build's source keys, ``next_publish``, and the stat of
   ``index.json`` and ``state.json``. The same ``(rel, size, mtime_ns)`` list, no scheduled post
   due, and our own outputs untouched → the previous report is returned and nothing else runs.
3. *The parse index* (:mod:`feedsmith.cache`, in memory and in ``state_dir``): files whose key
   is unchanged are not read; changed keys with unchanged bytes are not re-parsed. ``collect``,
   ``apply_updates`` and ``group_posts`` still run over every outcome (duplicate ids, scheduled
   posts and group membership are global facts), but unchanged posts come out as the very same
   objects as last build, so later steps recognise them by identity.
4. *Group signatures* (in ``state.json``): a feed whose signature (config fingerprint, identity,
   and the shown posts' ids, hashes, dates and display spellings) is unchanged, and whose files
   on disk still have the recorded size and mtime, is not rendered, compressed or written.

Cold builds use a process pool (``POOL_START_METHOD``, see there) when many files need parsing
or many feeds rendering: outcomes come back in ``rel`` order and feeds are published in sorted
order, so the output is identical to a single-process build.

Rendered HTML is kept only zlib-compressed in the index; posts are "hydrated" with their HTML
only for the newest ``max_entries`` of a feed being rendered.

Counting: ``feeds_written``/``feeds_unchanged``/``feeds_removed`` count feed *files* (one per
group per format), the thing a reader subscribes to; ``index.opml``, ``index.json`` and ``.gz``
sidecars are not counted.

The state is saved after the output is published. If saving it fails the feeds are already
out, the error is logged and raised (the next build re-verifies the files against the disk, so
nothing is lost but the exact change times of edits made in between).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import gc
import hashlib
import json
import logging
import os
import stat
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from operator import is_
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from feedsmith import feeds as feeds_mod
from feedsmith.cache import (
    CACHE_FILE,
    Entry,
    content_sha256,
    html_of,
    hydrate,
    load_index,
    make_entry,
    save_index,
    unpack_html,
)
from feedsmith.changes import ChangeSet, Sink, published_changes
from feedsmith.config import Config
from feedsmith.groups import (
    FeedGroup,
    Grouping,
    RespellMemo,
    group_posts,
    record_grouping,
    regroup,
)
from feedsmith.kept import KEPT_FILE, Kept, is_broken, keep, kept_from, load_kept, save_kept
from feedsmith.model import Post, Problem, ScanResult
from feedsmith.output import (
    MANIFEST,
    OPML_NAME,
    FeedInfo,
    FileData,
    LocalWriter,
    Staged,
    discard_planned,
    iso_z,
    plan_publish,
    remove_staged,
    stage,
)
from feedsmith.posts import ParseOutcome, collect, parse_post
from feedsmith.sources import (
    POST_EXTENSIONS,
    SourceError,
    SourceFile,
    display_path,
    find_sources,
    read_bytes,
)
from feedsmith.state import (
    BuildState,
    UpdateMemo,
    apply_updates,
    json_bytes,
    load_state,
    save_state,
    write_atomic,
)
from feedsmith.watch import Watcher

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

STATE_FILE = "state.json"
LOCK_FILE = "build.lock"
#: The nothing-changed memo of the last build by a one-off builder (``feedsmith build``), so the
#: next process can take the fast path too (see ``SiteBuilder._load_memo``).
MEMO_FILE = "last-build.json"
MEMO_VERSION = 1
POSTS_TREE, OUTPUT_TREE = "posts", "output"  # the watcher's names for the two trees
#: However good the watcher, the service scans everything in full this often anyway.
FULL_SCAN_SECONDS = 600.0


class BuildError(Exception):
    """The build failed and published nothing new; the previous output is untouched.

    ``stage`` says where (``scan``, ``render``, ``publish``, ``save state``); the original
    exception is chained as ``__cause__``. The one exception to "nothing new was published" is
    ``stage == "save state"``: the feeds are out, only the bookkeeping failed
    (``published`` is then ``True``).
    """

    def __init__(self, stage: str, cause: BaseException) -> None:
        self.stage = stage
        self.published = stage == "save state"
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{stage}: {type(cause).__name__}: {detail}")


@dataclass
class BuildReport:
    """What one successful build did (see the module docstring for how feeds are counted)."""

    posts: int
    feeds_written: int
    feeds_unchanged: int
    feeds_removed: int
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # invalid posts
    excluded: int = 0  # drafts, unpublished, future-dated
    seconds: float = 0.0
    next_publish: datetime | None = None
    ok: bool = True
    files_written: tuple[str, ...] = ()  # every path replaced on disk (sidecars, manifest too)
    files_removed: tuple[str, ...] = ()
    #: ``(sink name, reason)`` for each sink (bucket, WebSub...) that failed after the local
    #: feeds were published; the next build delivers again. ``ok`` stays about the local feeds.
    sink_errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.posts} posts, {self.feeds_written} feeds written, "
            f"{self.feeds_unchanged} unchanged, {self.feeds_removed} removed, "
            f"{len(self.problems)} problems, {self.seconds:.2f} s"
        )


#: Parse in a process pool when at least this many files need parsing (below it, starting
#: the workers costs more than it saves).
POOL_THRESHOLD = 200
POOL_WORKERS = 2
#: Files per task sent to a worker: large enough that pickling/IPC is noise, small enough to
#: keep both workers busy to the end and progress moving.
POOL_CHUNKSIZE = 16
#: "forkserver": workers are forked from a clean single-threaded server process, never from the
#: service process itself, which runs APScheduler and web-watcher threads (forking a threaded
#: process can copy a lock held by another thread and deadlock the child).
POOL_START_METHOD = "forkserver"
#: Render dirty feeds in the pool when at least this many groups are dirty (a one-post edit
#: touches ~10 groups: rendering those here is cheaper than starting workers).
RENDER_POOL_THRESHOLD = 60
#: Groups submitted to the pool ahead of the one ``publish`` is waiting for: enough to keep
#: both workers busy, few enough that rendered bytes waiting in memory stay a few MB.
RENDER_WINDOW = 8
#: Entries a pool worker keeps unpacked (see ``_worker_entries``).
WORKER_ENTRIES = 256
#: Entries per serialising task (see ``LazyFiles._serialise_first``).
SERIALISE_CHUNK = 64


@dataclass
class _Memo:
    """What the last build in this process saw, for the nothing-changed fast path."""

    keys: list[tuple[str, int, int]] | None  # None when read from MEMO_FILE: see keys_digest
    source_problems: list[Problem]
    next_publish: datetime | None
    manifest: tuple[int, int] | None
    state: tuple[int, int] | None
    report: BuildReport
    racy: bool = False
    keys_digest: str | None = None
    from_disk: bool = False  # a new process: the published files are checked too


def _keys_digest(keys: list[tuple[str, int, int]]) -> str:
    return hashlib.sha256(repr(keys).encode("utf-8", "surrogatepass")).hexdigest()


#: In a long-lived builder, persist the parse index at most this often (see ``_save_index``).
CACHE_SAVE_SECONDS = 300.0
#: Decompressed HTML kept at once while rendering (posts), see ``SiteBuilder._hydrate``.
HTML_MEMO = 512


class RenderError(Exception):
    """A renderer failed while ``publish`` was pulling its bytes (cause chained)."""


@dataclass
class _Job:
    """One dirty group: its files, how to render it here, and (for the pool) a picklable task."""

    paths: dict[str, str]  # format -> rel
    render: Callable[[], dict[str, bytes]]
    task: Callable[[], tuple[Any, ...]] | None = None  # built only if submitted to a pool
    future: Future[tuple[dict[str, Staged], dict[str, Any]]] | None = None
    args: tuple[Any, ...] | None = None  # task() once called


class LazyFiles(Mapping[str, FileData]):
    """The files of dirty feeds, rendered only when ``publish`` asks for them.

    ``publish`` writes each file to a temp file as soon as it has its bytes, so rendering on
    access keeps only a few feeds' bytes in memory at a time instead of every feed of a cold
    build (hundreds of MB at 10,000 posts). A group renders all its formats at once (Atom and
    RSS share work); the bytes are handed out once each and then dropped. Reading a path
    again re-renders it, which is merely slower.

    With :meth:`start`, groups are rendered (and hashed, compressed and written to temp files,
    see :class:`~feedsmith.output.Staged`) by a process pool instead, in the order ``publish`` reads
    them and at most :data:`RENDER_WINDOW` groups ahead of it, which bounds memory the same way.
    """

    def __init__(self) -> None:
        self._owner: dict[str, _Job] = {}
        self._jobs: list[_Job] = []
        self._ready: dict[str, FileData] = {}
        self._executor: Executor | None = None
        self._order: dict[int, int] = {}  # id(job) -> position in the pool's submission order
        self._submitted = 0
        self._entries: feeds_mod.PackedEntryCache | None = None

    def add(
        self,
        paths: Mapping[str, str],
        render: Callable[[], dict[str, bytes]],
        task: Callable[[], tuple[Any, ...]] | None = None,
    ) -> None:
        job = _Job(dict(paths), render, task)
        self._jobs.append(job)
        for rel in job.paths.values():
            self._owner[rel] = job

    def groups(self) -> int:
        return len(self._jobs)

    def start(self, executor: Executor, entries: feeds_mod.PackedEntryCache | None = None) -> None:
        """Render the jobs that have a task in ``executor``, in ``publish``'s (sorted) order;
        the entries the workers serialise are put in ``entries`` as they come back."""
        self._jobs.sort(key=lambda job: min(job.paths.values()))
        self._order = {id(job): i for i, job in enumerate(self._jobs)}
        self._executor = executor
        self._entries = entries
        if entries is not None:
            self._serialise_first(executor, entries)
        self._pump(0)

    def _serialise_first(self, executor: Executor, entries: feeds_mod.PackedEntryCache) -> None:
        """Serialise every entry the jobs need and ``entries`` lacks, each exactly once, in the
        pool, before any feed is rendered; the feeds then only splice.

        Rendered feed by feed, a post shown in several feeds was serialised by both workers
        whenever its feeds went to different ones: at 10,000 posts ~9,700 serialisations for
        ~6,700 distinct entries (~0.8 ms each), a third of them done twice."""
        needed: dict[str, tuple[Post, Any]] = {}
        for job in self._jobs:
            if job.task is None:
                continue
            job.args = job.task()
            group, z, _, keys = job.args
            for post, html, key in zip(group.posts, z, keys, strict=True):
                if key not in needed and key not in entries:
                    needed[key] = (post, html)
        items = [(key, post, html) for key, (post, html) in needed.items()]
        futures = [
            executor.submit(_worker_serialise, items[i : i + SERIALISE_CHUNK])
            for i in range(0, len(items), SERIALISE_CHUNK)
        ]
        for future in futures:
            for key, packed in future.result():
                entries.put_packed(key, packed)

    def _pump(self, position: int) -> None:
        assert self._executor is not None
        while self._submitted < len(self._jobs) and self._submitted <= position + RENDER_WINDOW:
            job = self._jobs[self._submitted]
            self._submitted += 1
            if job.task is None:
                continue
            group, z, paths, keys = job.args or job.task()
            job.args = None
            # Entries the builder holds travel packed (a few KB each) instead of as HTML to be
            # serialised again; a post's HTML goes only for an entry it lacks (LRU-evicted).
            pre: dict[str, feeds_mod.Packed] = {}
            if self._entries is not None:
                z = list(z)
                for i, key in enumerate(keys):
                    packed = self._entries.get_packed(key)
                    if packed is not None:
                        pre[key] = packed
                        z[i] = None
            job.future = self._executor.submit(_worker_render, (group, z, paths, keys, pre))

    def __getitem__(self, rel: str) -> FileData:
        data = self._ready.pop(rel, None)
        if data is not None:
            return data
        job = self._owner[rel]
        rendered: Mapping[str, FileData]
        try:
            if self._executor is not None:
                self._pump(self._order[id(job)])
            if job.future is not None:
                future, job.future = job.future, None
                rendered, entries = future.result()
                if self._entries is not None:
                    for key, packed in entries.items():
                        self._entries.put_packed(key, packed)
            else:
                rendered = job.render()
        except Exception as exc:
            raise RenderError(f"rendering {rel}: {exc}") from exc
        for fmt, other in job.paths.items():
            if other != rel:
                self._ready[other] = rendered[fmt]
        return next(rendered[fmt] for fmt, own in job.paths.items() if own == rel)

    def __iter__(self) -> Iterator[str]:
        return iter(self._owner)

    def __len__(self) -> int:
        return len(self._owner)

    def __contains__(self, rel: object) -> bool:
        return rel in self._owner


@dataclass
class _GroupMemo:
    """What :meth:`SiteBuilder.render_changed` worked out for a group, kept for the next build:
    in the service most groups show the very same post objects build after build (see the
    ``memo`` of ``apply_updates`` and ``group_posts``), and then all of this is the same."""

    kind: str
    name: str
    slug: str
    shown: tuple[Post, ...]  # held, so the identity test below cannot see a reused id
    paths: dict[str, str]
    signature: str
    info: FeedInfo
    newest: datetime | None

    def holds(self, group: FeedGroup, shown: tuple[Post, ...]) -> bool:
        """True when ``group`` (same kind and key) shows exactly these objects, so named."""
        return (
            len(shown) == len(self.shown)
            and all(map(is_, shown, self.shown))
            and group.kind == self.kind
            and group.name == self.name
            and group.slug == self.slug
        )


@dataclass
class Rendered:
    """The render step's result: dirty feeds (rendered lazily), what was kept, signatures."""

    files: LazyFiles
    infos: list[FeedInfo]
    kept: list[str]
    signatures: dict[str, str]


class SiteBuilder:
    """Builds one configured site; reusable across builds (the service keeps one).

    ``pool``: ``None`` decides per build (a pool when ``POOL_THRESHOLD`` files need parsing),
    ``True``/``False`` force it on/off (tests compare the two). ``persist_cache`` writes the
    parse index to ``state_dir`` after builds that changed it. ``watch`` lets later builds ask
    inotify what changed (:mod:`feedsmith.watch`) instead of a stat of every post and of every
    kept file: for a builder that builds more than once (the service); ``build_site`` builds
    once and does not.
    """

    def __init__(
        self,
        config: Config,
        *,
        pool: bool | None = None,
        persist_cache: bool = True,
        watch: bool = True,
        sinks: Sequence[Sink] = (),
    ) -> None:
        self.config = config
        #: Where builds go: the local writer always, first; then ``sinks`` in order.
        self.local = LocalWriter()
        self.sinks: tuple[Sink, ...] = tuple(sinks)
        self.state_path = config.state_dir / STATE_FILE
        self.cache_path = config.state_dir / CACHE_FILE
        self.kept_path = config.state_dir / KEPT_FILE
        #: Last valid versions of posts whose files are broken now (see :mod:`feedsmith.kept`).
        self._kept: dict[str, Kept] | None = None  # loaded with the index
        self._kept_changed = False
        self.fingerprint = config.fingerprint()
        self.pool = pool
        self.persist_cache = persist_cache
        self.index: dict[str, Entry] | None = None  # loaded lazily from disk on first build
        self._index_changed = False
        self._memo: _Memo | None = None
        self._saved_at: float | None = None  # monotonic time of the last cache save
        self._state: tuple[tuple[int, int], BuildState] | None = None
        self.last_parsed = 0  # files actually parsed by the last build (tests, bench)
        self.last_rendered = 0  # groups rendered by the last build (tests, bench)
        self._lines: dict[int, tuple[Post, str]] = {}  # see render_changed
        self._groups: dict[str, _GroupMemo] = {}  # see render_changed
        self._updates: UpdateMemo = {}  # see state.apply_updates
        self._grouping: Grouping | None = None  # see groups.regroup
        #: Serialised entries of recently rendered posts: a post edited in the service is in
        #: ~10 feeds, whose other entries are then reused rather than rendered again.
        self._entries = feeds_mod.PackedEntryCache()
        self._executor: ProcessPoolExecutor | None = None  # only during a build
        self._watch_wanted = watch
        self._watcher: Watcher | None = None  # opened on the first build
        self._armed_at: float | None = None  # monotonic time of the last full pass
        self._listed: _Listed | None = None  # the last successful build's listing
        self._scanned: tuple[dict[str, ParseOutcome], set[str]] | None = None
        self._published: BuildState | None = None  # the state the last build saved
        #: Published files (main ``rel``) touched since a build verified them; ``None``: unknown.
        self._touched: set[str] | None = None
        self._building = False
        self._staging = False  # pool workers may have staged files in output_dir
        self._gc_after: str | None = None  # see _build_scope

    # -- the pipeline ---------------------------------------------------------------------------

    def build(self, now: datetime, progress: ProgressFn | None = None) -> BuildReport:
        """Run the whole pipeline once at time ``now``; raise :class:`BuildError` on failure."""
        t0 = time.perf_counter()
        # Whole seconds: every timestamp the build records is shown at that precision anyway,
        # and stored times must round-trip exactly for rebuilds to be byte-identical.
        now = now.astimezone(UTC).replace(microsecond=0)
        cfg = self.config
        stage = "prepare"
        marks: list[tuple[str, float]] = []

        def mark(name: str) -> None:
            marks.append((name, time.perf_counter()))

        try:
            cfg.state_dir.mkdir(parents=True, exist_ok=True)
            with self._lock(), self._build_scope():
                stage = "scan"
                # An unreadable posts_dir is an I/O failure, not a blog without posts: building
                # on would publish empty feeds (and 410s) over the last good ones.
                os.scandir(cfg.posts_dir).close()
                suspects = self._changes_since_last_build()
                touched = self._output_touched()
                delta = self._delta(suspects) if suspects is not None else None
                if delta is not None:
                    keys: list[tuple[str, int, int]] | None = delta[0]
                else:
                    self._arm(POSTS_TREE, cfg.posts_dir)  # before the scan it stands for
                    keys = _quick_keys(cfg.posts_dir)
                # A suspect means a write, which an unchanged key does not disprove (same size
                # within one mtime tick): it is read again below, never skipped here.
                # A touched output file is repaired by the full path below (it is only noticed
                # when watching; otherwise the fast path trusts the manifest's stat).
                quick = (
                    None
                    if suspects or touched
                    else self._unchanged(now, keys, watched=delta is not None)
                )
                if quick is not None:
                    if self.sinks:  # a sink that failed last time catches up now
                        caught_up = published_changes(cfg.output_dir)
                        if caught_up is not None:
                            quick.sink_errors = self._deliver(caught_up)
                    quick.seconds = time.perf_counter() - t0
                    log.info("build ok (nothing changed): %s", quick.summary())
                    return quick
                self._memo = None
                mark("list")
                listing = _list_sources(cfg.posts_dir, keys)
                if delta is not None:
                    listing.delta = delta[1]
                scan = self.scan(now, progress, listing=listing)
                mark("scan")
                stage = "load state"
                state = self._load_state()
                updates: UpdateMemo = {}
                posts, entries = apply_updates(
                    scan.posts, state, now, memo=self._updates, remember=updates
                )
                self._updates = updates
                mark("state")
                stage = "group"
                last = self._grouping
                regrouped = regroup(last, posts, state.slugs) if last is not None else None
                if regrouped is not None:
                    groups, slugs, self._grouping = regrouped
                else:
                    respelled: RespellMemo = {}
                    memo = last.outputs if last is not None else None
                    groups, slugs = group_posts(posts, state.slugs, memo=memo, remember=respelled)
                    self._grouping = (
                        record_grouping(posts, groups, slugs, respelled)
                        if self._watch_wanted
                        else None
                    )
                mark("group")
                stage = "render"
                if state is not self._published or touched is None:
                    touched = None
                    self._arm(OUTPUT_TREE, cfg.output_dir)  # before the checks it stands for
                rendered = self.render_changed(groups, state, touched)
                mark("signatures")
                self.last_rendered = rendered.files.groups()
                use_pool = (
                    self.pool
                    if self.pool is not None
                    else self.last_rendered >= RENDER_POOL_THRESHOLD
                )
                if use_pool and self.last_rendered:
                    remove_staged(cfg.output_dir)  # a crashed build's, if any
                    self._staging = True
                    rendered.files.start(self._pool(), self._entries)
                mark("entries")
                stage = "publish"
                planned = plan_publish(
                    cfg.output_dir,
                    rendered.files,
                    rendered.infos,
                    state,
                    now,
                    kept=rendered.kept,
                )
                try:
                    self.local.consume(planned.changes)
                except BaseException:
                    discard_planned(planned)
                    raise
                written = planned.report()
                changes = planned.changes
                mark("publish")
                self._close_pool()
                stage = "save state"
                self._state = None
                new_state = BuildState(
                    entries,
                    slugs,
                    written.files,
                    written.gone,
                    written.generated,
                    rendered.signatures,
                )
                self._published = None
                save_state(self.state_path, new_state)
                self._save_kept()
                self._published = new_state
                self._touched = self._settle_output(new_state)
                if self.watching:
                    self._gc_after = "freeze" if delta is not None else "collect"
                    if delta is None:
                        feeds_mod.load_engine()  # the next, incremental builds render here
                saved = _stat_key(self.state_path)
                if saved is not None:
                    self._state = (saved, new_state)
                mark("save state")
                self._save_index()
                mark("save cache")
                sink_errors = self._deliver(changes)
                mark("sinks")
        except Exception as exc:
            self._memo = None
            self._lose_track()
            if isinstance(exc, RenderError) and exc.__cause__ is not None:
                stage = "render"  # rendered lazily, while publishing
                exc = exc.__cause__  # type: ignore[assignment]
            if stage == "save state":
                note = "feeds were published but the state was not saved"
            else:
                note = "previous feeds kept"
            log.error("build failed during %s, %s: %s", stage, note, exc, exc_info=True)
            raise BuildError(stage, exc) from exc

        report = BuildReport(
            posts=len(posts),
            feeds_written=written.written,
            feeds_unchanged=written.unchanged,
            feeds_removed=written.removed,
            problems=list(scan.problems),
            skipped=scan.skipped,
            excluded=scan.excluded,
            seconds=time.perf_counter() - t0,
            next_publish=scan.next_publish,
            files_written=written.paths_written,
            files_removed=written.paths_removed,
            sink_errors=sink_errors,
        )
        self._remember(listing, report)
        log.info("build ok: %s", report.summary())
        if log.isEnabledFor(logging.DEBUG):
            steps, since = [], t0
            for name, at in marks:
                steps.append(f"{name} {1000 * (at - since):.0f}")
                since = at
            log.debug("build steps (ms): %s", ", ".join(steps))
        return report

    def _deliver(self, changes: ChangeSet) -> list[tuple[str, str]]:
        """Hand ``changes`` to every sink after the local writer. A failing sink is logged and
        reported, never raised: the local feeds are out, and the sink catches up next build
        (it is called after no-change builds too)."""
        errors: list[tuple[str, str]] = []
        for sink in self.sinks:
            try:
                sink.consume(changes)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                log.error("sink %s failed, next build retries: %s", sink.name, reason)
                errors.append((sink.name, reason))
        return errors

    # -- nothing-changed fast path --------------------------------------------------------------

    def _remember(self, listing: _Listing, report: BuildReport) -> None:
        if self._scanned is not None and listing.quick:
            outcome_of, unreadable = self._scanned
            self._listed = _Listed(listing.keys, outcome_of, unreadable, os.getcwd())
        else:
            self._listed = None  # found by find_sources (symlinks...): no deltas on top of it
        self._scanned = None
        self._memo = _Memo(
            keys=listing.keys,
            source_problems=list(listing.problems),
            next_publish=report.next_publish,
            manifest=_stat_key(self.config.output_dir / MANIFEST),
            state=_stat_key(self.state_path),
            report=report,
            racy=any(e.racy for e in (self.index or {}).values()),
        )
        if not self._watch_wanted:
            self._save_memo(self._memo)

    def _save_memo(self, memo: _Memo) -> None:
        """Persist ``memo`` for the next process (only when it could be used: nothing racy,
        no source problems); rewritten only when its bytes change. Losing it costs time."""
        path = self.config.state_dir / MEMO_FILE
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
                "keys": _keys_digest(memo.keys),
                "manifest": memo.manifest,
                "state": memo.state,
                "next_publish": memo.next_publish.isoformat() if memo.next_publish else None,
                "posts": report.posts,
                "feeds": report.feeds_written + report.feeds_unchanged,
                "skipped": report.skipped,
                "excluded": report.excluded,
                "problems": [[p.path, p.line, p.severity, p.reason] for p in report.problems],
            }
        )
        try:
            with contextlib.suppress(FileNotFoundError):
                if path.read_bytes() == data:
                    return
            write_atomic(path, data)
        except OSError as exc:
            log.warning("cannot write %s: %s", path, exc)

    def _load_memo(self) -> _Memo | None:
        """The memo a previous process saved, if it is for this config, this feedsmith and this
        working directory (display paths in problems depend on it); anything odd → ``None``."""
        try:
            raw = json.loads((self.config.state_dir / MEMO_FILE).read_bytes())
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
            return _Memo(
                keys=None,
                source_problems=[],
                next_publish=report.next_publish,
                manifest=tuple(raw["manifest"]) if raw["manifest"] else None,  # type: ignore[arg-type]
                state=tuple(raw["state"]) if raw["state"] else None,  # type: ignore[arg-type]
                report=report,
                keys_digest=str(raw["keys"]),
                from_disk=True,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _unchanged(
        self, now: datetime, keys: list[tuple[str, int, int]] | None, *, watched: bool = False
    ) -> BuildReport | None:
        """The last build's report (as "nothing written") when a build now would change nothing.

        Sound because everything a build depends on is covered: the sources' keys (a file whose
        size and mtime did not change was not re-read by the full path either), the clock only
        through ``next_publish``, and our own outputs through the manifest's and state's stat
        (another process building, or someone deleting the output, changes those). The stat
        pass is :func:`_quick_keys`, not ``find_sources``: the latter resolves every path for
        its symlink policy, ~50 µs a file, which alone would be 0.5 s at 10,000 posts.
        ``watched``: ``keys`` come from the watcher, which saw every write since the files were
        read, so a "racy" stat no longer matters.
        """
        memo = self._memo
        if memo is None and not self._watch_wanted:
            memo = self._memo = self._load_memo()
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
        if memo.keys is None and _keys_digest(keys) != memo.keys_digest:
            return None
        if memo.manifest is None or _stat_key(self.config.output_dir / MANIFEST) != memo.manifest:
            return None
        if _stat_key(self.state_path) != memo.state:
            return None
        if memo.from_disk:
            # What a new process's full path would verify too: every published file still is
            # what the state records (``feedsmith build`` is how a user repairs the output).
            files = self._load_state().files
            output_dir = self.config.output_dir
            if not all(_intact(output_dir, rel, rec) for rel, rec in files.items()):
                return None
        last = memo.report
        self.last_parsed = 0
        return dataclasses.replace(
            last,
            feeds_written=0,
            feeds_unchanged=last.feeds_written + last.feeds_unchanged,
            feeds_removed=0,
            problems=list(last.problems),
            files_written=(),
            files_removed=(),
        )

    # -- steps (overridable seams for caching / parallelism) -----------------------------------

    def scan(
        self,
        now: datetime,
        progress: ProgressFn | None = None,
        *,
        listing: _Listing | None = None,
    ) -> ScanResult:
        """Find (unless ``listing`` is given), read and parse every post; then collect.

        Posts in the result carry no ``content_html`` (it stays compressed in the parse index
        until :meth:`render_changed` needs it for a feed).
        """
        listing = listing or _list_sources(self.config.posts_dir)
        try:
            outcomes = self._outcomes(listing, progress)
        finally:
            if not self._building:
                self._close_pool()  # called on its own, not from build(): nothing else will
        result = collect(outcomes, now)
        dropped = sum(1 for p in listing.problems if p.severity == "error")
        result.problems[:0] = listing.problems
        result.skipped += dropped
        result.files_seen += dropped
        return result

    def _outcomes(self, listing: _Listing, progress: ProgressFn | None) -> list[ParseOutcome]:
        """Every source's outcome in ``rel`` order, from the index where its key still holds.

        With ``listing.delta`` (the watcher's suspects, see :meth:`_delta`) only those files
        are looked at, and each is read again even if its key did not move (an event means a
        write, and a write in the same mtime tick keeps the key); every other outcome is the
        last successful build's."""
        if self.index is None:
            self.index = load_index(self.cache_path, self.fingerprint)
        if self._kept is None:
            self._kept = load_kept(self.kept_path)
        old = self.index
        keys = listing.keys
        listed = self._listed
        items: list[tuple[str, int, int]]
        if listing.delta is not None and listed is not None:
            force = True
            new = dict(old)
            outcome_of = dict(listed.outcome_of)
            unreadable = set(listed.unreadable)
            items = []
            changed = False
            for rel, key in sorted(listing.delta.items()):
                if key is not None:
                    items.append((rel, *key))
                    continue
                changed = new.pop(rel, None) is not None or changed
                outcome_of.pop(rel, None)
                unreadable.discard(rel)
                self._forget_kept(rel)  # deleted: a deliberate removal
        else:
            force = False
            new, outcome_of, unreadable = {}, {}, set()
            items = keys
            changed = len(old) != len(keys) or any(rel not in old for rel, _, _ in keys)
        slots: list[Entry | ParseOutcome | None] = []
        todo: list[tuple[int, SourceFile, str]] = []
        shown_of = _display_namer(self.config.posts_dir)
        for i, (rel, size, mtime_ns) in enumerate(items):
            shown = shown_of(rel)
            entry = old.get(rel)
            if entry is not None and entry.shown != shown:
                entry = _relabel(entry, shown)  # built from another working directory
                changed = True
            if entry is not None and not force and entry.trusted(size, mtime_ns):
                slots.append(entry)
                continue
            src = listing.source(rel, size, mtime_ns)
            if entry is not None:
                # Key changed (or racy, or written to): read, and re-parse only when the bytes
                # changed.
                read_ns = time.time_ns()
                data = self._read(src, shown)
                if isinstance(data, ParseOutcome):
                    slots.append(data)
                    changed = True
                    continue
                digest = content_sha256(data)
                if digest == entry.sha256:
                    fresh = dataclasses.replace(
                        entry, size=src.size, mtime_ns=src.mtime_ns, read_ns=read_ns
                    )
                    # Worth saving only when the key moved or the entry stopped being racy
                    # (a no-change rebuild must not rewrite the cache file).
                    if (entry.size, entry.mtime_ns, entry.racy) != (
                        fresh.size,
                        fresh.mtime_ns,
                        fresh.racy,
                    ):
                        changed = True
                    slots.append(fresh)
                    continue
                changed = True
            slots.append(None)
            todo.append((i, src, shown))
        total = len(todo)
        self.last_parsed = total
        if todo:
            changed = True
            if progress is not None:
                progress(0, total)
            for done, (i, result) in enumerate(self._parse_many(todo), 1):
                slots[i] = result
                if progress is not None:
                    progress(done, total)
        for (rel, _, _), slot in zip(items, slots, strict=True):
            assert slot is not None
            if isinstance(slot, Entry):
                new[rel] = slot
                outcome_of[rel] = self._last_good(rel, slot.outcome, old.get(rel))
                unreadable.discard(rel)
            else:  # unreadable: not cached, retried next build
                previous = old.get(rel)
                changed = new.pop(rel, None) is not None or changed
                outcome_of[rel] = self._last_good(rel, slot, previous)
                unreadable.add(rel)
        if self._kept and listing.delta is None:
            for rel in set(self._kept).difference(rel for rel, _, _ in keys):
                self._forget_kept(rel)  # deleted while nobody watched
        self.index = new
        self._index_changed = self._index_changed or changed
        self._scanned = (outcome_of, unreadable)
        return [outcome_of[rel] for rel, _, _ in keys]

    def _last_good(self, rel: str, outcome: ParseOutcome, previous: Entry | None) -> ParseOutcome:
        """``outcome``, or for a broken file that held a valid post its last valid version.

        The version comes from the kept store, else from the index entry of the previous build
        (the file's last outcome, valid then); any other outcome ends keeping that file.
        """
        kept = self._kept
        assert kept is not None
        if not is_broken(outcome):
            self._forget_kept(rel)
            return outcome
        good = kept.get(rel)
        if good is None:
            if previous is None or previous.outcome.post is None:
                return outcome  # never valid (as far as we know): skipped as before
            post = hydrate(previous.outcome.post, html_of(previous))
            good = kept[rel] = kept_from(post, previous.mtime_ns)
            self._kept_changed = True
        return keep(outcome, good)

    def _forget_kept(self, rel: str) -> None:
        if self._kept and self._kept.pop(rel, None) is not None:
            self._kept_changed = True

    def _save_kept(self) -> None:
        if self._kept_changed and self._kept is not None:
            save_kept(self.kept_path, self._kept)
            self._kept_changed = False

    # -- change detection (the service) ---------------------------------------------------------

    def _changes_since_last_build(self) -> set[str] | None:
        """Post files (``rel``) that may have changed since the last successful build, or
        ``None`` when that is unknown and a full scan must run (then the caller arms first)."""
        if not self._watch_wanted:
            return None
        if self._watcher is None:
            self._watcher = Watcher.open()
            if self._watcher is None:
                self._watch_wanted = False  # not on this system: don't ask every build
            return None
        listed = self._listed
        if listed is None or self._armed_at is None or listed.cwd != os.getcwd():
            return None
        if time.monotonic() - self._armed_at > FULL_SCAN_SECONDS:
            return None  # a full pass now and then, so no oversight can last
        return self._watcher.take(POSTS_TREE)

    def _delta(
        self, suspects: set[str]
    ) -> tuple[list[tuple[str, int, int]], dict[str, tuple[int, int] | None]] | None:
        """The last listing with ``suspects`` stat'ed again: the keys now, and per looked-at
        ``rel`` its key or ``None`` (gone). ``None`` when a suspect is no longer a plain file
        (a symlink or a folder now): the full scan's policy decides about those."""
        listed = self._listed
        assert listed is not None
        todo = set(suspects) | listed.unreadable  # unreadable files are retried every build
        if not todo:
            return listed.keys, {}
        keys = list(listed.keys)
        rels = [rel for rel, _, _ in keys]
        root = os.fspath(self.config.posts_dir)
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

    def _output_touched(self) -> set[str] | None:
        """Published files (the main file's ``rel`` for a ``.gz`` too) that were written to,
        moved or deleted since the last build verified them, or ``None`` when unknown (not
        watching, or the watcher lost track: every kept file is then stat'ed)."""
        watcher, published = self._watcher, self._published
        if watcher is None or published is None or self._touched is None:
            return None
        found = watcher.take(OUTPUT_TREE)
        if found is None:
            self._touched = None
            return None
        self._touched |= _owned_mains(found, published.files)
        return self._touched

    def _settle_output(self, state: BuildState) -> set[str] | None:
        """After publishing: the watcher's events since it was armed or last asked are mostly
        this build's own writes. Those whose file still is what ``state`` records are done
        with; anything else stays touched for the next build. Without this, the build after
        any change would see its predecessor's writes and miss the no-change fast path."""
        watcher = self._watcher
        if watcher is None:
            return None
        output_dir, records = self.config.output_dir, state.files
        found = watcher.take(OUTPUT_TREE)
        if found is not None:
            mains = _owned_mains(found, records)
        else:  # not armed before (the first build: no folder yet): arm, then check it all
            self._arm(OUTPUT_TREE, output_dir)
            if watcher.take(OUTPUT_TREE) is None:
                return None
            mains = set(records)
        return {rel for rel in mains if not _intact(output_dir, rel, records[rel])}

    def _arm(self, tree: str, root: Path) -> None:
        if self._watcher is None:
            return
        wants = _is_post_name if tree == POSTS_TREE else _any_name
        armed = self._watcher.arm(tree, os.fspath(root), wants)
        if tree == POSTS_TREE:
            self._armed_at = time.monotonic() if armed else None

    def _lose_track(self) -> None:
        """After a failed build: what was kept about the last one may no longer describe the
        disk (the index moved on, events were taken), so the next build scans in full."""
        self._listed = None
        self._scanned = None
        self._published = None
        self._touched = None
        self._grouping = None
        if self._watcher is not None:
            self._watcher.forget(POSTS_TREE)
            self._watcher.forget(OUTPUT_TREE)

    @property
    def watching(self) -> bool:
        """True once builds learn what changed from the watcher rather than by scanning."""
        return self._watcher is not None and self._armed_at is not None

    def close(self) -> None:
        """Release the watcher's descriptor (also done when the builder is collected)."""
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def _parse_many(
        self, todo: list[tuple[int, SourceFile, str]]
    ) -> Iterator[tuple[int, Entry | ParseOutcome]]:
        use_pool = self.pool if self.pool is not None else len(todo) >= POOL_THRESHOLD
        if not use_pool:
            for i, src, shown in todo:
                yield i, self._parse_entry(src, shown)
            return
        results = self._pool().map(
            _worker_parse, [(s, shown) for _, s, shown in todo], chunksize=POOL_CHUNKSIZE
        )
        for (i, _, _), result in zip(todo, results, strict=True):
            yield i, result

    def _pool(self) -> ProcessPoolExecutor:
        """The build's worker pool, started on first use and shut down when the build ends
        (parsing and rendering share it, so a cold build starts its workers once)."""
        if self._executor is None:
            import multiprocessing  # here: most builds need no pool, and these imports cost
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context(POOL_START_METHOD)
            self._executor = ProcessPoolExecutor(
                POOL_WORKERS, mp_context=ctx, initializer=_worker_init, initargs=(self.config,)
            )
        return self._executor

    def _close_pool(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)

    def _read(self, src: SourceFile, shown: str) -> bytes | ParseOutcome:
        return _read_source(src, shown, self.config.max_post_bytes)

    def _parse_entry(self, src: SourceFile, shown: str) -> Entry | ParseOutcome:
        read_ns = time.time_ns()
        data = self._read(src, shown)
        if isinstance(data, ParseOutcome):
            return data
        outcome = parse_post(data, src.rel, shown, self.config)
        return make_entry(src.size, src.mtime_ns, content_sha256(data), shown, outcome, read_ns)

    def parse_source(self, src: SourceFile) -> ParseOutcome:
        """One file → outcome (uncached). Unreadable files are invalid posts, not failures."""
        shown = display_path(self.config.posts_dir / src.rel)
        data = self._read(src, shown)
        if isinstance(data, ParseOutcome):
            return data
        return parse_post(data, src.rel, shown, self.config)

    def _load_state(self) -> BuildState:
        """The previous state: the copy kept from this process's last build while
        ``state.json`` is still the file that build wrote (same size and mtime), else read."""
        key = _stat_key(self.state_path)
        if self._state is not None and key is not None and key == self._state[0]:
            return self._state[1]
        self._state = None
        return load_state(self.state_path)

    def _save_index(self) -> None:
        """Persist the index after the first build of this builder, then at most every
        ``CACHE_SAVE_SECONDS``: in the service a one-post edit would otherwise pickle the whole
        10,000-entry index each time, and a cache a few edits behind only costs the next process
        re-parsing those few files (keys are always checked)."""
        if not (self.persist_cache and self._index_changed and self.index is not None):
            return
        now = time.monotonic()
        if self._saved_at is not None and now - self._saved_at < CACHE_SAVE_SECONDS:
            return
        try:
            save_index(self.cache_path, self.fingerprint, self.index)
            self._index_changed = False
            self._saved_at = now
        except OSError as exc:  # a cache that cannot be written costs the next process time
            log.warning("cannot write parse cache %s: %s", self.cache_path, exc)

    # -- render ---------------------------------------------------------------------------------

    def render(self, groups: list[FeedGroup]) -> tuple[dict[str, bytes], list[FeedInfo]]:
        """Every group in every configured format, plus ``index.opml``, as bytes in memory."""
        rendered = self.render_changed(groups, None)
        files = {rel: rendered.files[rel] for rel in rendered.files}
        assert all(isinstance(d, bytes) for d in files.values())  # never started on a pool
        return files, rendered.infos  # type: ignore[return-value]

    def render_changed(
        self,
        groups: list[FeedGroup],
        previous: BuildState | None,
        suspects: set[str] | None = None,
    ) -> Rendered:
        """Render only the feeds whose signature changed since ``previous`` (all without one).

        A feed is *kept* instead — not rendered, compressed or written — when its signature
        equals the one recorded in the state *and* each of its files (and ``.gz``) on disk
        still has the size and mtime recorded for it; anything else renders it again (and
        ``publish`` then writes only bytes that really differ). With ``suspects`` (the watcher's
        answer, see :meth:`_output_touched`) only those files are stat'ed: the others were not
        touched since ``previous`` recorded them.
        """
        cfg = self.config
        max_entries = cfg.feed.max_entries
        files = LazyFiles()
        infos: list[FeedInfo] = []
        kept: list[str] = []
        signatures: dict[str, str] = {}
        html: dict[str, str] = {}
        output_dir = cfg.output_dir

        def intact(rel: str) -> bool:
            assert previous is not None
            record = previous.files.get(rel)
            if suspects is None or rel in suspects:
                return _intact(output_dir, rel, record)
            return record is not None and "mtime_ns" in record and "gz_mtime_ns" in record

        # id(post) -> (post, its line of a signature). Kept from the last build: in the service
        # most posts are the very same objects build after build (holding them keeps ids valid).
        previous_lines = self._lines
        lines: dict[int, tuple[Post, str]] = {}
        previous_groups = self._groups
        memos: dict[str, _GroupMemo] = {}
        newest_all: datetime | None = None
        for group in groups:
            shown = group.posts[:max_entries]
            sig_key = f"{group.kind}:{group.key}"
            memo = previous_groups.get(sig_key)
            if memo is None or not memo.holds(group, shown):
                memo = self._group_memo(group, shown, lines, previous_lines)
            memos[sig_key] = memo
            paths = memo.paths
            signatures[sig_key] = memo.signature
            if (
                previous is not None
                and previous.groups.get(sig_key) == memo.signature
                and all(map(intact, paths.values()))
            ):
                kept.extend(paths.values())
            else:
                keys = [self._line(post, lines, previous_lines) for post in shown]
                files.add(
                    paths,
                    self._group_renderer(group, shown, paths, html, keys),
                    partial(self._group_task, group, shown, paths, keys),
                )
            infos.append(memo.info)
            if memo.newest is not None and (newest_all is None or memo.newest > newest_all):
                newest_all = memo.newest
        self._groups = memos
        opml_sig = _opml_signature(self.fingerprint, groups, newest_all)
        signatures["opml"] = opml_sig
        if previous is not None and previous.groups.get("opml") == opml_sig and intact(OPML_NAME):
            kept.append(OPML_NAME)
        else:
            opml = feeds_mod.render_opml(groups, cfg)
            files.add({"opml": OPML_NAME}, lambda: {"opml": opml})
        self._lines = lines
        return Rendered(files, infos, kept, signatures)

    def _group_memo(
        self,
        group: FeedGroup,
        shown: tuple[Post, ...],
        lines: dict[int, tuple[Post, str]],
        previous: dict[int, tuple[Post, str]],
    ) -> _GroupMemo:
        """A group's files, signature and manifest line, worked out from scratch.

        The signature is what the feed's files are a function of: config, the group's identity
        and its shown posts (only the newest ``max_entries`` are ever rendered), each as its
        :func:`_post_line`."""
        paths = feeds_mod.feed_files(group, self.config.feed.formats)
        identity = [group.kind, group.key, group.name, group.slug, sorted(paths.items())]
        parts = [_json([self.fingerprint, *identity])]
        parts.extend(self._line(post, lines, previous) for post in shown)
        signature = hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
        newest = max((p.updated for p in shown), default=None)
        info = FeedInfo(
            kind=group.kind,
            name=group.name,
            slug=group.slug,
            entries=len(shown),
            updated=iso_z(newest) if newest else None,
            urls={fmt: "/feeds/" + _quote_path(rel) for fmt, rel in paths.items()},
            files=tuple(paths.values()),
        )
        return _GroupMemo(group.kind, group.name, group.slug, shown, paths, signature, info, newest)

    @staticmethod
    def _line(
        post: Post, lines: dict[int, tuple[Post, str]], previous: dict[int, tuple[Post, str]]
    ) -> str:
        """:func:`_post_line`, memoised in ``lines`` for this build and ``previous`` for the
        last one (keyed by object id; each value holds its post, so an id is never reused while
        it is a key, and a line is used only for that very object)."""
        memo = lines.get(id(post))
        if memo is None:
            memo = previous.get(id(post))
            if memo is None or memo[0] is not post:
                memo = (post, _post_line(post))
            lines[id(post)] = memo
        return memo[1]

    def _group_task(
        self, group: FeedGroup, shown: tuple[Post, ...], paths: dict[str, str], keys: list[str]
    ) -> tuple[Any, ...]:
        """What a pool worker needs to render the group: the shown posts, their compressed HTML
        (decompressed in the worker), the formats and the entry keys. Only shown posts travel."""
        z = [self._html_z(post) for post in shown]
        return (dataclasses.replace(group, posts=shown), z, paths, keys)

    def _html_z(self, post: Post) -> bytes | str | None:
        if post.content_html or self.index is None:
            return post.content_html
        entry = self.index.get(post.source)
        return entry.html_z if entry is not None else None

    def _group_renderer(
        self,
        group: FeedGroup,
        shown: tuple[Post, ...],
        paths: dict[str, str],
        html: dict[str, str],
        keys: list[str],
    ) -> Callable[[], dict[str, bytes]]:
        def render() -> dict[str, bytes]:
            # Only posts whose entries are not cached need their HTML back.
            return feeds_mod.render_group(
                dataclasses.replace(group, posts=shown),
                self.config,
                tuple(paths),
                cache=self._entries,
                keys=keys,
                prepare=lambda post: self._hydrate(post, html),
            )

        return render

    def _hydrate(self, post: Post, memo: dict[str, str]) -> Post:
        """The post with its HTML back from the index. ``memo`` keeps recently decompressed
        HTML (the newest posts appear in many feeds) but is bounded: holding every shown
        post's HTML at once would be ~100 MB at 10,000 posts."""
        if post.content_html or self.index is None:
            return post
        text = memo.get(post.source)
        if text is None:
            entry = self.index.get(post.source)
            text = html_of(entry) if entry is not None else ""
            if len(memo) >= HTML_MEMO:
                memo.clear()
            memo[post.source] = text
        return hydrate(post, text)

    @contextlib.contextmanager
    def _build_scope(self) -> Iterator[None]:
        """Marks a build in progress; its worker pool (if any) never outlives it.

        The cyclic garbage collector is paused meanwhile: a build allocates hundreds of
        thousands of short-lived objects next to the parse index (millions of long-lived
        ones at 100,000 posts), so the collector would keep walking the index for nothing;
        the build's own data is acyclic and freed by reference counting, and whatever cycles
        it leaves are collected once it is resumed.

        A watching builder (the service) then also freezes the survivors (``gc.freeze``): else
        the first collection after each build walks every object the build allocated (~20 ms
        at 10,000 posts) and every few builds a full one walks the whole index (~180 ms, a
        pause for everything else in the process too). Cyclic garbage frozen that way is not
        lost for good: a full-pass build (the first, one after a failure, one every
        ``FULL_SCAN_SECONDS``) unfreezes, collects once and freezes again.
        """
        self._building = True
        self._staging = False
        self._gc_after = None
        collecting = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if collecting:
                if self._gc_after == "collect":
                    gc.unfreeze()
                    gc.collect()
                if self._gc_after is not None:
                    gc.freeze()
                gc.enable()
            self._building = False
            self._close_pool()
            if self._staging:  # groups staged but never published (a failed build)
                self._staging = False
                with contextlib.suppress(OSError):
                    remove_staged(self.config.output_dir)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One build per site at a time, across processes (``feedsmith build`` while the
        service runs would otherwise race on the same temp files and state)."""
        fd = os.open(self.config.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# -- helpers (module level so the process pool can pickle them) -------------------------------

_worker_config: Config | None = None
#: Per worker process: entries it serialised or unpacked lately. Small: the builder sends every
#: entry a feed needs packed anyway, so this only saves unpacking (~40 µs); 2,048 entries were
#: ~45 MB per worker at ~22 KB each.
_worker_entries = feeds_mod.EntryCache(WORKER_ENTRIES)
_worker_sent: set[str] = set()  # keys whose packed entries went back to the builder already


def _worker_init(config: Config) -> None:
    global _worker_config
    _worker_config = config


def _worker_parse(item: tuple[SourceFile, str]) -> Entry | ParseOutcome:
    """Read, hash, parse and compress one file in a pool worker (HTML compressed here, so
    what crosses the pipe is small)."""
    config = _worker_config
    assert config is not None, "worker not initialised"
    src, shown = item
    read_ns = time.time_ns()
    data = _read_source(src, shown, config.max_post_bytes)
    if isinstance(data, ParseOutcome):
        return data
    outcome = parse_post(data, src.rel, shown, config)
    return make_entry(src.size, src.mtime_ns, content_sha256(data), shown, outcome, read_ns)


def _worker_serialise(
    items: list[tuple[str, Post, bytes | str | None]],
) -> list[tuple[str, feeds_mod.Packed]]:
    """Serialise entries (key, post without HTML, its compressed HTML) for the builder; the
    fragments are what ``render_group`` would make of that post for this config's formats."""
    config = _worker_config
    assert config is not None, "worker not initialised"
    formats = tuple(config.feed.formats)
    out: list[tuple[str, feeds_mod.Packed]] = []
    for key, post, html in items:
        text = html if isinstance(html, str) else unpack_html(html)
        frags = feeds_mod.entry_fragments(hydrate(post, text), config, formats)
        _worker_entries.put(key, frags)
        _worker_sent.add(key)
        out.append((key, feeds_mod.pack_entry(frags)))
    return out


def _worker_render(task: tuple[Any, ...]) -> tuple[dict[str, Staged], dict[str, Any]]:
    """Render one group in a pool worker, and hash, compress and stage its files there too.

    ``pre``: packed entries from the builder. Any other entry comes from this worker's cache or
    is serialised here from the post's HTML in ``z`` (and sent back once)."""
    config = _worker_config
    assert config is not None, "worker not initialised"
    group, z, paths, keys, pre = task
    html_z = {id(post): html for post, html in zip(group.posts, z, strict=True)}

    def prepare(post: Post) -> Post:  # only for entries found nowhere
        html = html_z[id(post)]
        if isinstance(html, bytes) or html is None:
            html = unpack_html(html)
        return hydrate(post, html)

    # A cache that holds this group's entries whatever max_entries is (the worker's own LRU
    # could drop some of a large feed's while rendering it).
    local = feeds_mod.EntryCache(max(len(keys), 1))
    for key in keys:
        frags = _worker_entries.get(key)
        if frags is None and key in pre:
            frags = feeds_mod.unpack_entry(pre[key])
        if frags is not None:
            local.put(key, frags)
    rendered = feeds_mod.render_group(
        group, config, tuple(paths), cache=local, keys=keys, prepare=prepare
    )
    files = {fmt: stage(config.output_dir, paths[fmt], data) for fmt, data in rendered.items()}
    # The builder keeps every shown entry (packed) for its next, incremental builds.
    entries: dict[str, feeds_mod.Packed] = {}
    for key in keys:
        frags = local.get(key)
        if frags is None:
            continue
        _worker_entries.put(key, frags)
        if key not in _worker_sent and key not in pre:
            entries[key] = feeds_mod.pack_entry(frags)
            _worker_sent.add(key)
    return files, entries


def _relabel(entry: Entry, shown: str) -> Entry:
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


def _read_source(src: SourceFile, shown: str, max_bytes: int) -> bytes | ParseOutcome:
    """The file's bytes, or the outcome of an unreadable file (an invalid post)."""
    try:
        return read_bytes(src, max_bytes)
    except SourceError as exc:
        return ParseOutcome(None, [Problem(shown, None, "error", exc.reason)], None, shown)
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        return ParseOutcome(None, [Problem(shown, None, "error", reason)], None, shown)


@dataclass
class _Listing:
    """The stat pass: every post file's key, problems met, and how to make a ``SourceFile``
    (only files that must be read get one: a ``Path`` per file is measurable at 10,000).
    ``delta``: set when the keys are the last listing patched with the watcher's suspects
    (``rel`` -> key, ``None`` for gone); only those need looking at."""

    keys: list[tuple[str, int, int]]
    problems: list[Problem]
    source: Callable[[str, int, int], SourceFile]
    delta: dict[str, tuple[int, int] | None] | None = None
    quick: bool = True  # from _quick_keys (no symlinks): the watcher sees all it lists


@dataclass
class _Listed:
    """What a later build patches instead of scanning: the last successful build's keys and
    every file's outcome, the files that could not be read (retried every build), and the
    working directory the display paths in those outcomes were made for."""

    keys: list[tuple[str, int, int]]
    outcome_of: dict[str, ParseOutcome]
    unreadable: set[str]
    cwd: str


def _owned_mains(paths: set[str], records: Mapping[str, Any]) -> set[str]:
    """The published files among watcher ``paths`` (a sidecar counts as its main file).
    Others are not ours to verify: the manifest has its own stat check, and stray files are
    ``publish``'s business."""
    mains = {path[:-3] if path.endswith(".gz") else path for path in paths}
    return {rel for rel in mains if rel in records}


def _is_post_name(name: str) -> bool:
    return name.lower().endswith(_POST_SUFFIXES)


def _any_name(name: str) -> bool:
    return True


def _list_sources(posts_dir: Path, keys: list[tuple[str, int, int]] | None = None) -> _Listing:
    """:func:`_quick_keys` when the tree has no symlinks, else ``find_sources`` (its policy)."""
    if keys is None:
        keys = _quick_keys(posts_dir)
    if keys is not None:
        root = Path(posts_dir).resolve()
        return _Listing(keys, [], lambda rel, size, mtime: SourceFile(root / rel, rel, size, mtime))
    sources, problems = find_sources(posts_dir)
    by_rel = {s.rel: s for s in sources}
    return _Listing(
        [(s.rel, s.size, s.mtime_ns) for s in sources],
        problems,
        lambda rel, size, mtime: by_rel[rel],
        quick=False,
    )


_POST_SUFFIXES = tuple(POST_EXTENSIONS)


def _quick_keys(posts_dir: Path) -> list[tuple[str, int, int]] | None:
    """``(rel, size, mtime_ns)`` of every post file, sorted — what ``find_sources`` would give
    for a tree without symlinks, at the cost of one ``scandir`` per folder. ``None`` (so the
    caller does the full scan) as soon as a symlink or an unreadable folder is met: the full
    policy for those lives in :mod:`feedsmith.sources` only."""
    found: list[tuple[str, int, int]] = []
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
                        stack.append((entry.path, prefix + name + "/"))
                    elif _is_post_name(name):  # hidden names skipped above
                        if not entry.is_file(follow_symlinks=False):
                            return None
                        st = entry.stat(follow_symlinks=False)
                        found.append((prefix + name, st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    found.sort()
    return found


def _display_namer(posts_dir: Path) -> Callable[[str], str]:
    """``rel`` → :func:`display_path` of ``posts_dir/rel``, without a ``Path`` per file (that
    cost ~0.1 ms a file) when the result is just the folder's display path plus ``rel``."""
    base = display_path(posts_dir)
    cwd = os.path.abspath(os.getcwd())
    root = os.path.abspath(posts_dir)
    if base == "." or cwd.startswith(root + os.sep):
        return lambda rel: display_path(posts_dir / rel)
    return lambda rel: f"{base}/{rel}"


def _stat_key(path: Path | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _intact(output_dir: Path | str, rel: str, record: dict[str, Any] | None) -> bool:
    """True when ``rel`` and its sidecar on disk still are what ``record`` says was published."""
    if record is None or "mtime_ns" not in record or "gz_mtime_ns" not in record:
        return False
    path = os.path.join(output_dir, rel)
    main = _stat_key(path)
    gz = _stat_key(path + ".gz")
    return main == (record["bytes"], record["mtime_ns"]) and gz == (
        record.get("gz_bytes"),
        record["gz_mtime_ns"],
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(_json(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _post_line(post: Post) -> str:
    """One post's part of a feed's signature, and its key in the entry cache: everything of it
    a feed shows. ``content_hash`` stands for the title, URL, summary, HTML, authors and image
    (see ``posts._content_hash``); the rest is written out. Dates as whole epoch seconds: feeds
    show them in UTC to the second. Fields are joined with NUL and names with SOH, which no
    post field can contain (``xml_safe`` removes both), so the line is unambiguous; this costs
    a few µs a post, a fifth of JSON plus a hash."""
    return _SEP.join(
        (
            post.id,
            post.content_hash,
            str(int(post.date.timestamp())),
            str(int(post.updated.timestamp())),
            post.lang or "",
            post.slug,
            _NAME_SEP.join(post.categories),
            _NAME_SEP.join(post.tags),
            repr(post.extra) if post.extra else "",
        )
    )


_SEP = "\x00"
_NAME_SEP = "\x01"


@lru_cache(maxsize=16384)  # feed paths repeat every build; quote() is ~5 µs each
def _quote_path(rel: str) -> str:
    return quote(rel, safe="/")


def _opml_signature(fingerprint: str, groups: list[FeedGroup], newest: datetime | None) -> str:
    """``newest``: the latest ``updated`` among the posts any feed shows."""
    return _digest(
        [
            fingerprint,
            newest.isoformat() if newest else None,
            [[g.kind, g.key, g.name, g.slug] for g in groups],
        ]
    )


def build_site(
    config: Config,
    now: datetime,
    *,
    progress: ProgressFn | None = None,
    sinks: Sequence[Sink] = (),
) -> BuildReport:
    """Build once with a fresh :class:`SiteBuilder` (what ``feedsmith build`` runs)."""
    return SiteBuilder(config, watch=False, sinks=sinks).build(now, progress=progress)
