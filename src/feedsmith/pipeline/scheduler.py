"""The render scheduler: which feeds render where, and when, so memory stays bounded.

Dirty feeds are not rendered up front: :class:`LazyFiles` hands ``publish`` each file's bytes
when it asks for them, rendering a group (all its formats at once) on first access. A cold
build renders in a process pool instead (:class:`BuildPool`, ``POOL_START_METHOD``): every
entry needed is serialised once, then groups are rendered, hashed, gzipped and staged by the
workers in the order ``publish`` reads them, at most :data:`RENDER_WINDOW` ahead. Either way
the bytes are identical to a single-process build.

The worker functions live at module level so the pool can pickle them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedsmith.core import documents
from feedsmith.core.config import Config
from feedsmith.core.layout import gzip_only_rule
from feedsmith.core.model import ParseOutcome, Post
from feedsmith.core.posts import parse_post
from feedsmith.core.render.entries import (
    EntryCache,
    Packed,
    PackedEntryCache,
    pack_entry,
    unpack_entry,
)
from feedsmith.pipeline.cache import Entry, content_sha256, hydrate, make_entry, unpack_html
from feedsmith.pipeline.entryspill import SpilledEntries
from feedsmith.pipeline.includes import includes_for
from feedsmith.pipeline.listing import read_source
from feedsmith.pipeline.report import RenderError
from feedsmith.pipeline.sources import SourceFile
from feedsmith.publish.staging import FileData, Staged, stage
from feedsmith.system.lifeline import mark_forkserver_parent, pool_lifeline, watch

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.connection import Connection

log = logging.getLogger("feedsmith.build")

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
#: Serialising tasks submitted ahead of the one whose results are awaited.
SERIALISE_AHEAD = 6


def _html(html: Any) -> bytes | str | None:
    """A task's HTML: as it is, or read now from the parse cache file when the planner sent a
    reference (:class:`~feedsmith.pipeline.lazyblob.HtmlRef`), so that it is held only while the
    task is on its way."""
    return html() if callable(html) else html  # type: ignore[no-any-return]


class BuildPool:
    """The build's worker pool, started on first use and shut down when the build ends
    (parsing and rendering share it, so a cold build starts its workers once).

    ``wanted``: ``None`` decides per use (by the thresholds above), ``True``/``False`` force
    it on/off (tests compare the two)."""

    def __init__(self, config: Config, wanted: bool | None = None) -> None:
        self.config = config
        self.wanted = wanted
        self._executor: ProcessPoolExecutor | None = None

    def wants(self, count: int, threshold: int) -> bool:
        return self.wanted if self.wanted is not None else count >= threshold

    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            import multiprocessing  # here: most builds need no pool, and these imports cost
            from concurrent.futures import ProcessPoolExecutor

            ctx = multiprocessing.get_context(POOL_START_METHOD)
            # Every process of the pool ends with this one, even on SIGKILL (see lifeline).
            mark_forkserver_parent()
            ctx.set_forkserver_preload(["__main__", "feedsmith.system.forkserver_tie"])
            self._executor = ProcessPoolExecutor(
                POOL_WORKERS,
                mp_context=ctx,
                initializer=_worker_init,
                initargs=(self.config, pool_lifeline()),
            )
        return self._executor

    def parse_many(
        self,
        todo: list[tuple[int, SourceFile, str]],
        parse_here: Callable[[SourceFile, str], Entry | ParseOutcome],
    ) -> Iterator[tuple[int, Entry | ParseOutcome]]:
        """Each ``(i, source, shown)`` parsed, in order: here, or in the pool when many."""
        if not self.wants(len(todo), POOL_THRESHOLD):
            for i, src, shown in todo:
                yield i, parse_here(src, shown)
            return
        log.debug("parsing %d files in a pool of %d workers", len(todo), POOL_WORKERS)
        results = self.executor().map(
            _worker_parse, [(s, shown) for _, s, shown in todo], chunksize=POOL_CHUNKSIZE
        )
        for (i, _, _), result in zip(todo, results, strict=True):
            yield i, result

    def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True, cancel_futures=True)


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
    see :class:`~feedsmith.publish.staging.Staged`) by a process pool instead, in the order
    ``publish`` reads them and at most :data:`RENDER_WINDOW` groups ahead of it, which bounds memory
    the same way.
    """

    def __init__(self) -> None:
        self._owner: dict[str, _Job] = {}
        self._jobs: list[_Job] = []
        self._ready: dict[str, FileData] = {}
        self._executor: Executor | None = None
        self._order: dict[int, int] = {}  # id(job) -> position in the pool's submission order
        self._submitted = 0
        self._entries: PackedEntryCache | SpilledEntries | None = None
        #: Entries parked on disk by a one-shot build (see ``start``), once started.
        self.spill: SpilledEntries | None = None
        #: Without ``keep`` (a builder that builds once): uses left of each entry by the jobs
        #: not yet submitted; an entry is dropped from the cache after its last.
        self._uses: dict[str, int] | None = None

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

    def start(
        self,
        executor: Executor,
        entries: PackedEntryCache | None = None,
        *,
        keep: bool = True,
        spill_dir: Path | str | None = None,
    ) -> None:
        """Render the jobs that have a task in ``executor``, in ``publish``'s (sorted) order;
        the entries the workers serialise are put in ``entries`` as they come back.

        ``keep``: leave every entry in ``entries`` for the next builds (the service). Without
        it (``feedsmith build`` builds once) each entry is dropped once the last job showing
        it was submitted, and the entries workers send back are not kept: held to the end,
        they were ~4.5 KB a post of a cold build's peak (all of them, packed, while the publish
        plan and the state were being made). With ``spill_dir`` too, the entries serialised
        ahead are parked in a temp file there (:class:`SpilledEntries`) rather than held: every
        post is on archive pages all along the job order, so until the last of them they were
        all in memory at once (~4.5 KB a post)."""
        self._jobs.sort(key=lambda job: min(job.paths.values()))
        self._order = {id(job): i for i, job in enumerate(self._jobs)}
        self._executor = executor
        self._entries = entries
        self._uses = None if keep else {}
        if entries is not None and not keep and spill_dir is not None:
            try:
                self.spill = SpilledEntries(spill_dir, entries)
                self._entries = self.spill
            except OSError as exc:  # no temp file to be had: held in memory, as before
                log.debug("entries kept in memory: %s", exc)
        log.debug("rendering %d groups in the pool", len(self._jobs))
        if self._entries is not None:
            self._serialise_first(executor, self._entries)
        self._pump(0)

    def _serialise_first(
        self, executor: Executor, entries: PackedEntryCache | SpilledEntries
    ) -> None:
        """Serialise every entry the jobs need and ``entries`` lacks, each exactly once, in the
        pool, before any feed is rendered; the feeds then only splice.

        Rendered feed by feed, a post shown in several feeds was serialised by both workers
        whenever its feeds went to different ones: at 10,000 posts ~9,700 serialisations for
        ~6,700 distinct entries (~0.8 ms each), a third of them done twice."""
        needed: dict[str, tuple[Post, Any]] = {}  # the HTML maybe a ref (see ``_html``)
        uses = self._uses
        for job in self._jobs:
            if job.task is None:
                continue
            job.args = job.task()
            group, z, _, keys = job.args
            if uses is not None:
                for key in keys:
                    uses[key] = uses.get(key, 0) + 1
            for post, html, key in zip(group.posts, z, keys, strict=True):
                if key not in needed and key not in entries:
                    needed[key] = (post, html)
        # Every entry serialised here must still be held when its feeds are rendered: were the
        # cache bounded below them, the first ones would be dropped unused and serialised again
        # by the workers (at 10,000 posts ~3,300 of ~16,700, with summary entries keyed apart).
        entries.max_items = max(entries.max_items, len(entries) + len(needed))
        items = [(key, post, html) for key, (post, html) in needed.items()]
        del needed
        # A few chunks ahead only: a chunk's HTML is read (see ``_html``) when it is submitted
        # and held until a worker takes it, so submitting all at once held every post's.
        pending: deque[Future[list[tuple[str, Packed]]]] = deque()
        for i in range(0, len(items), SERIALISE_CHUNK):
            chunk = [(key, post, _html(html)) for key, post, html in items[i : i + SERIALISE_CHUNK]]
            pending.append(executor.submit(_worker_serialise, chunk))
            while len(pending) > SERIALISE_AHEAD or (pending and i + SERIALISE_CHUNK >= len(items)):
                for key, packed in pending.popleft().result():
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
            pre: dict[str, Packed] = {}
            if self._entries is not None:
                z = list(z)
                uses = self._uses
                for i, key in enumerate(keys):
                    packed = self._entries.get_packed(key)
                    if packed is not None:
                        pre[key] = packed
                        z[i] = None
                    if uses is not None and key in uses:
                        uses[key] -= 1
                        if not uses[key]:
                            del uses[key]
                            self._entries.discard(key)
            z = [_html(html) for html in z]
            job.future = self._executor.submit(_worker_render, (group, z, paths, keys, pre))
        if self.spill is not None and self._submitted >= len(self._jobs):
            self.spill.close()  # every feed has its entries: the file goes

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
                if self._entries is not None and self._uses is None:
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


# -- pool workers ---------------------------------------------------------------------------

_worker_config: Config | None = None
#: Per worker process: entries it serialised or unpacked lately. Small: the builder sends every
#: entry a feed needs packed anyway, so this only saves unpacking (~40 µs); 2,048 entries were
#: ~45 MB per worker at ~22 KB each.
_worker_entries = EntryCache(WORKER_ENTRIES)
_worker_sent: set[str] = set()  # keys whose packed entries went back to the builder already


def _worker_init(config: Config, lifeline: Connection) -> None:
    global _worker_config
    _worker_config = config
    watch(lifeline)  # ends this worker when the builder dies, however it dies


def _worker_parse(item: tuple[SourceFile, str]) -> Entry | ParseOutcome:
    """Read, hash, parse and compress one file in a pool worker (HTML compressed here, so
    what crosses the pipe is small)."""
    config = _worker_config
    assert config is not None, "worker not initialised"
    src, shown = item
    read_ns = time.time_ns()
    data = read_source(src, shown, config.max_post_bytes)
    if isinstance(data, ParseOutcome):
        return data
    outcome = parse_post(data, src.rel, shown, config, includes_for(config, src.rel))
    return make_entry(src.size, src.mtime_ns, content_sha256(data), shown, outcome, read_ns)


def _worker_serialise(
    items: list[tuple[str, Post, bytes | str | None]],
) -> list[tuple[str, Packed]]:
    """Serialise entries (key, post without HTML, its compressed HTML) for the builder; the
    fragments are what ``render_group`` would make of that post for this config's formats."""
    config = _worker_config
    assert config is not None, "worker not initialised"
    formats = tuple(config.feed.formats)
    out: list[tuple[str, Packed]] = []
    for key, post, html in items:
        text = html if isinstance(html, str) else unpack_html(html)
        frags = documents.entry_fragments(
            hydrate(post, text), documents.fragment_config(key, config), formats
        )
        _worker_entries.put(key, frags)
        _worker_sent.add(key)
        out.append((key, pack_entry(frags)))
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
    local = EntryCache(max(len(keys), 1))
    for key in keys:
        frags = _worker_entries.get(key)
        if frags is None and key in pre:
            frags = unpack_entry(pre[key])
        if frags is not None:
            local.put(key, frags)
    rendered = documents.render_group(
        group, config, tuple(paths), cache=local, keys=keys, prepare=prepare
    )
    gzip_only = gzip_only_rule(config.feed.archive_storage)
    files = {
        fmt: stage(config.output_dir, paths[fmt], data, gzip_only) for fmt, data in rendered.items()
    }
    # The builder keeps every shown entry (packed) for its next, incremental builds.
    entries: dict[str, Packed] = {}
    for key in keys:
        frags = local.get(key)
        if frags is None:
            continue
        _worker_entries.put(key, frags)
        if key not in _worker_sent and key not in pre:
            entries[key] = pack_entry(frags)
            _worker_sent.add(key)
    return files, entries
