"""The orchestrator: one build is the pipeline's stages called in order, under one lock.

    scan (:mod:`.listing`, :mod:`.tracking`) → parse (:mod:`.index`) → remember
    (:func:`feedsmith.core.state.apply_updates`) → group (:mod:`feedsmith.core.groups`) → plan
    renders (:mod:`.plan`) → render (:mod:`.scheduler`) → write
    (:func:`feedsmith.publish.output.plan_publish`, :class:`~feedsmith.publish.output.LocalWriter`)
    → save state → sinks (:mod:`feedsmith.publish.changes`).

It runs against the clock it is given (``now``), never the wall clock. It is all-or-nothing
for readers: everything is staged first and the local writer renames files into place only
once every one of them was written, so an exception anywhere before that leaves the previous
output exactly as it was and surfaces as :class:`~feedsmith.pipeline.report.BuildError`.
Invalid posts are not failures: they are skipped and reported (``BuildReport.problems``).

:class:`SiteBuilder` is a class rather than a function so the long-running service can keep
things between builds. What it keeps, cheapest check first:

1. *What changed* (service only, :mod:`.tracking`): inotify names the post files and the
   published files that may have changed since the last build; only those are stat'ed and
   read. Whenever the events may be incomplete the build scans everything, as a new process does.
2. *Nothing changed* (:mod:`.memo`): the same source keys, no scheduled post due, and our own
   outputs untouched → the previous report is returned and nothing else runs.
3. *The parse index* (:mod:`.index`): unchanged files are not read or parsed, and come out as
   the very same objects as last build, so ``assign``, ``collect``, ``apply_updates`` and
   ``regroup`` find the few that are not by identity and patch their last answer.
4. *Group signatures* (:mod:`.plan`, in ``state.json``): a feed whose signature is unchanged
   and whose files on disk are as recorded is not rendered, compressed or written.

The state is saved after the output is published. If saving it fails the feeds are already
out, the error is logged and raised (the next build re-verifies the files against the disk, so
nothing is lost but the exact change times of edits made in between). Sinks run last; one that
fails is reported (``sink_errors``), never raised, and catches up on the next build.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedsmith.core.collecting import CollectMemo, collect
from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup, RespellMemo, group_posts
from feedsmith.core.identity import assign
from feedsmith.core.layout import gzip_only_rule
from feedsmith.core.model import ParseOutcome, Post, Problem, ScanResult
from feedsmith.core.post_files import post_files
from feedsmith.core.regrouping import Grouping, record_grouping, regroup
from feedsmith.core.render.atom_rss import load_engine
from feedsmith.core.state import BuildState, UpdateMemo, apply_updates
from feedsmith.core.text import escape_controls
from feedsmith.pipeline.cache import html_of
from feedsmith.pipeline.gcpause import collector_paused
from feedsmith.pipeline.idbook import IdBook
from feedsmith.pipeline.index import ParseIndex, Scanned
from feedsmith.pipeline.links import resolve_links
from feedsmith.pipeline.listing import Key, Listed, Listing, list_sources, quick_keys
from feedsmith.pipeline.media_probe import MediaProbe
from feedsmith.pipeline.media_tree import list_media, media_as_published
from feedsmith.pipeline.memo import FastPath
from feedsmith.pipeline.plan import RenderPlanner, plan_id_map
from feedsmith.pipeline.quick import STATE_FILE, build_lock
from feedsmith.pipeline.report import BuildError, BuildReport, ProgressFn, RenderError
from feedsmith.pipeline.scheduler import RENDER_POOL_THRESHOLD, BuildPool, LazyFiles
from feedsmith.pipeline.sources import SourceFile
from feedsmith.pipeline.statefile import StateWriter, load_state, save_state, state_key
from feedsmith.pipeline.tracking import OUTPUT_TREE, POSTS_TREE, ChangeTracker
from feedsmith.publish.changes import Sink, published_changes
from feedsmith.publish.manifest import ManifestMemo
from feedsmith.publish.output import FeedInfo, LocalWriter, plan_publish
from feedsmith.publish.owned import listed_owned, patched_owned
from feedsmith.publish.sinks import deliver
from feedsmith.publish.staging import remove_staged
from feedsmith.system.statedir import ensure_state_dir

log = logging.getLogger("feedsmith.build")


@dataclass
class _Scanned:
    """The scan stage's result: what was listed and parsed, and for the watcher its delta."""

    listing: Listing
    result: ScanResult
    watched: bool  # keys came from the watcher's delta, not a full scan


class SiteBuilder:
    """Builds one configured site; reusable across builds (the service keeps one).

    ``pool``: ``None`` decides per build (a pool when many files need parsing or many feeds
    rendering), ``True``/``False`` force it on/off (tests compare the two). ``persist_cache``
    writes the parse index to ``state_dir`` after builds that changed it. ``watch`` lets later
    builds ask inotify what changed (:mod:`.tracking`) instead of a stat of every post and of
    every kept file: for a builder that builds more than once (the service); ``build_site``
    builds once and does not. ``sinks``: where builds go after the local writer.
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
        self.state_path = config.state_dir / STATE_FILE
        self.fingerprint = config.fingerprint()
        self.pool = BuildPool(config, pool)
        self.parse = ParseIndex(config, self.fingerprint, persist=persist_cache)
        self.files = post_files(config)
        self.tracker = ChangeTracker(
            config.posts_dir, config.output_dir, wanted=watch, files=self.files
        )
        self.fast = FastPath(config, self.fingerprint, self.state_path, persist=not watch)
        self.planner = RenderPlanner(config, self.fingerprint, self.parse)
        self.ids = IdBook(config)  # the id each post was published under (identity.py)
        self.media = MediaProbe(config, persist=persist_cache)  # media files' facts
        #: Where builds go: the local writer always, first; then ``sinks`` in order.
        self.local = LocalWriter()
        self.manifest_memo = ManifestMemo()  # index.json's feeds, serialised last build
        self.sinks: tuple[Sink, ...] = tuple(sinks)
        self.last_rendered = self.last_spilled = 0  # groups rendered, entries parked on disk
        self.walks_spared = 0  # builds that knew the output listing from the watcher, not a walk
        self.listings_spared = 0  # of those, builds that patched the last one's listing
        self._watching_wanted = watch
        self._state: tuple[tuple[int, ...], BuildState] | None = None
        self._updates = UpdateMemo()  # see state.apply_updates
        self.state_writer = StateWriter()  # what the last save wrote (statefile.py)
        self._grouping: Grouping | None = None  # see groups.regroup
        self.collect_memo = CollectMemo()  # see collecting.collect
        self._scanned: Scanned | None = None  # this build's outcomes, for the tracker
        self._building = False
        self._staging = False  # pool workers may have staged files in output_dir
        self._gc_after: str | None = None  # see gcpause.collector_paused
        self.asked: list[Key] | None = None  # from quick.ask, for the next build (_scan_stage)

    # -- what tests and the bench look at -------------------------------------------------------

    @property
    def index(self) -> dict[str, object] | None:
        return self.parse.index  # type: ignore[return-value]

    @property
    def last_parsed(self) -> int:
        return self.parse.last_parsed

    @property
    def watching(self) -> bool:
        """True once builds learn what changed from the watcher rather than by scanning."""
        return self.tracker.watching

    def close(self) -> None:
        """Release the watcher's descriptor (also done when the builder is collected)."""
        self.tracker.close()

    # -- the pipeline ---------------------------------------------------------------------------

    def build(self, now: datetime, progress: ProgressFn | None = None) -> BuildReport:
        """Run the whole pipeline once at time ``now``; raise :class:`BuildError` on failure."""
        t0 = time.perf_counter()
        # Whole seconds: every timestamp the build records is shown at that precision anyway,
        # and stored times must round-trip exactly for rebuilds to be byte-identical.
        now = now.astimezone(UTC).replace(microsecond=0)
        stage = "prepare"
        marks: list[tuple[str, float]] = []

        def mark(name: str) -> None:
            marks.append((name, time.perf_counter()))

        try:
            ensure_state_dir(self.config.state_dir)
            with build_lock(self.config), self._build_scope():
                stage = "scan"
                scanned, touched = self._scan_stage(now, progress)
                if isinstance(scanned, BuildReport):
                    scanned.seconds = time.perf_counter() - t0
                    log.info("build ok (nothing changed): %s", scanned.summary())
                    return scanned
                mark("scan")
                stage = "load state"
                state = self._load_state()
                updates = UpdateMemo()
                posts, entries = apply_updates(
                    scanned.result.posts, state, now, memo=self._updates, remember=updates
                )
                self._updates = updates
                mark("state")
                stage = "group"
                groups, slugs = self._group_stage(posts, state)
                mark("group")
                stage = "render"
                if state is not self.tracker.published or touched is None:
                    touched = None
                    self.tracker.arm(OUTPUT_TREE, self.config.output_dir)  # before the checks
                rendered = self.planner.render_changed(groups, state, touched)
                plan_id_map(self.config.output_dir, self.ids.published(posts), rendered, state)
                mark("signatures")
                self._start_renders(rendered.files)
                mark("entries")
                stage = "publish"
                planned = plan_publish(
                    self.config.output_dir,
                    rendered.files,
                    rendered.infos,
                    state,
                    now,
                    kept=rendered.kept,
                    media=list_media(self.config.media_dir, self.config.state_dir, now),
                    media_dir=self.config.media_dir,
                    on_disk=self._on_disk(state, touched),
                    manifest_memo=self.manifest_memo,
                    gzip_only=gzip_only_rule(self.config.feed.archive_storage),
                )
                written = planned.commit(self.local)
                self.tracker.owned = planned.owned
                mark("publish")
                self.pool.close()
                stage = "save state"
                self._save_state(
                    BuildState(
                        entries,
                        slugs,
                        written.files,
                        written.gone,
                        written.generated,
                        rendered.signatures,
                    ),
                    watched=scanned.watched,
                )
                self.ids.save(posts)
                mark("save state")
                self.parse.save()
                mark("save cache")
                sink_errors = deliver(self.sinks, planned.changes)
                mark("sinks")
        except Exception as exc:
            self._lose_track()
            self.ids.forget()
            if isinstance(exc, RenderError) and exc.__cause__ is not None:
                stage = "render"  # rendered lazily, while publishing
                exc = exc.__cause__  # type: ignore[assignment]
            if stage == "save state":
                note = "feeds were published but the state was not saved"
            else:
                note = "previous feeds kept"
            # One line, from the caller (the CLI prints it, the service logs it); the
            # traceback only for -v.
            why = escape_controls(str(exc))
            log.debug("build failed during %s, %s: %s", stage, note, why, exc_info=True)
            raise BuildError(stage, exc) from exc

        result = scanned.result
        report = BuildReport(
            posts=len(posts),
            problems=list(result.problems) + self._show_problems(),
            skipped=result.skipped,
            excluded=result.excluded,
            next_publish=result.next_publish,
            seconds=time.perf_counter() - t0,
            feeds_written=written.written,
            feeds_unchanged=written.unchanged,
            feeds_removed=written.removed,
            files_written=written.paths_written,
            files_removed=written.paths_removed,
            sink_errors=sink_errors,
        )
        self._remember(scanned.listing, report)
        log.info("build ok: %s", report.summary())
        if log.isEnabledFor(logging.DEBUG):
            steps, since = [], t0
            for name, at in marks:
                steps.append(f"{name} {1000 * (at - since):.0f}")
                since = at
            log.debug("build steps (ms): %s", ", ".join(steps))
        return report

    # -- the stages -----------------------------------------------------------------------------

    def _scan_stage(
        self, now: datetime, progress: ProgressFn | None
    ) -> tuple[_Scanned | BuildReport, set[str] | None]:
        """List and parse, from the watcher's delta where it knows one; or, when nothing
        changed, the last report (the fast path). Also returns the touched output files."""
        cfg = self.config
        # An unreadable posts_dir is an I/O failure, not a blog without posts: building on
        # would publish empty feeds (and 410s) over the last good ones.
        os.scandir(cfg.posts_dir).close()
        tracker, asked, self.asked = self.tracker, self.asked, None
        suspects = tracker.changes_since_last_build()
        touched = tracker.output_touched()
        delta = tracker.delta(suspects) if suspects is not None else None
        keys: list[Key] | None
        if delta is not None:
            keys = delta[0]
        else:
            tracker.arm(POSTS_TREE, cfg.posts_dir)  # before the scan it stands for
            keys = asked if asked is not None else quick_keys(cfg.posts_dir, self.files)
        # A suspect means a write, which an unchanged key does not disprove (same size within
        # one mtime tick): it is read again below, never skipped here. A touched output file is
        # repaired below (only noticed when watching; else the fast path trusts the manifest's
        # stat). Keys ``asked`` (:func:`.quick.ask`) were just found changed: not asked again.
        if not suspects and not touched and (asked is None or delta is not None):
            quick = self.fast.unchanged(
                now, keys, lambda: self._load_state().files, watched=delta is not None
            )
            caught_up = None
            if quick is not None and (self.sinks or cfg.media_dir is not None):
                caught_up = published_changes(cfg.output_dir, cfg.media_dir)
            if quick is not None and not media_as_published(cfg, caught_up, now):
                quick = None
            if quick is not None:
                self.parse.last_parsed = 0
                if self.sinks and caught_up is not None:  # one that failed catches up now
                    quick.sink_errors = deliver(self.sinks, caught_up)
                return quick, touched
        self.fast.memo = None
        listing = list_sources(cfg.posts_dir, keys, self.files)
        if delta is not None:
            listing.delta = delta[1]
        result = self.scan(now, progress, listing=listing)
        return _Scanned(listing, result, watched=delta is not None), touched

    def scan(
        self,
        now: datetime,
        progress: ProgressFn | None = None,
        *,
        listing: Listing | None = None,
        warn_held: bool = False,
    ) -> ScanResult:
        """Find (unless ``listing`` is given), read and parse every post; give recognised
        posts the id they were published under (:mod:`feedsmith.core.identity`); then collect.

        Posts in the result carry no ``content_html`` (it stays compressed in the parse index
        until a feed being rendered needs it). ``feedsmith check`` calls this alone, with
        ``warn_held``: a warning per post whose id the id map holds.
        """
        listing = listing or list_sources(self.config.posts_dir, files=self.files)
        try:
            outcomes, self._scanned = self.parse.outcomes(
                listing,
                self.tracker.listed if listing.delta is not None else None,
                self.pool,
                progress,
            )
        finally:
            if not self._building:
                self.pool.close()  # called on its own, not from build(): nothing else will
        present = {key[0] for key in listing.keys}
        assigned = assign(outcomes, self.ids.known(), present, memo=self.ids.memo, own=self.ids.own)
        collected = collect(assigned.outcomes, now, self.collect_memo)
        result = resolve_links(collected, self.config, self._html_of)
        result = self.media.resolve(result)
        if warn_held:
            result.problems.extend(assigned.held)
        dropped = sum(1 for p in listing.problems if p.severity == "error")
        result.problems[:0] = listing.problems
        result.skipped += dropped
        result.files_seen += dropped
        return result

    def _show_problems(self) -> list[Problem]:
        """What the podcast shows' checks said this build (:mod:`.podcast`)."""
        return list(self.planner.shows.problems) if self.planner.shows is not None else []

    def _html_of(self, post: Post) -> str:
        """A post's HTML from the parse index (posts in a result carry none)."""
        entry = (self.parse.index or {}).get(post.source)
        return html_of(entry) if entry is not None else ""

    def _group_stage(
        self, posts: list[Post], state: BuildState
    ) -> tuple[list[FeedGroup], dict[str, str]]:
        """Group, patching the last grouping where only a few posts changed (the service)."""
        last = self._grouping
        regrouped = regroup(last, posts, state.slugs) if last is not None else None
        if regrouped is not None:
            groups, slugs, self._grouping = regrouped
            return groups, slugs
        respelled: RespellMemo = {}
        memo = last.outputs if last is not None else None
        groups, slugs = group_posts(posts, state.slugs, memo=memo, remember=respelled)
        self._grouping = (
            record_grouping(posts, groups, slugs, respelled) if self._watching_wanted else None
        )
        return groups, slugs

    def _on_disk(self, state: BuildState, touched: set[str] | None) -> set[str] | None:
        """The owned files in ``output_dir`` without a walk, when the watcher vouches that only
        ``touched`` and its strays changed since ``state`` was published (the service)."""
        if touched is None or state is not self.tracker.published:
            return None
        self.walks_spared += 1
        suspects = touched | self.tracker.strays
        base = str(self.config.output_dir)
        if self.tracker.owned is not None:
            self.listings_spared += 1
            return patched_owned(base, self.tracker.owned, suspects)
        return listed_owned(base, state.files, suspects)

    def _start_renders(self, files: LazyFiles) -> None:
        """Hand the dirty feeds to the pool when there are many (a cold build)."""
        self.last_rendered = files.groups()
        if self.last_rendered and self.pool.wants(self.last_rendered, RENDER_POOL_THRESHOLD):
            remove_staged(self.config.output_dir)  # a crashed build's, if any
            self._staging = True
            entries, spill = self.planner.entries, self.config.state_dir  # spill: one-shot only
            if not self._watching_wanted:  # built once: save now, let go of the posts' HTML
                self.parse.save(release=True)
            files.start(self.pool.executor(), entries, keep=self._watching_wanted, spill_dir=spill)
            self.last_spilled = files.spill.spilled if files.spill else 0

    def _save_state(self, new_state: BuildState, *, watched: bool) -> None:
        self._state = None
        self.tracker.published = None
        save_state(self.state_path, new_state, self.state_writer)
        self.parse.save_kept()
        self.planner.save_rows()
        self.tracker.published = new_state
        self.tracker.touched = self.tracker.settle_output(new_state)
        if self.tracker.watching:
            self._gc_after = "freeze" if watched else "collect"
            if not watched:
                load_engine()  # the next, incremental builds render here
        saved = state_key(self.state_path)
        if saved is not None:
            self._state = (saved, new_state)

    # -- between builds -------------------------------------------------------------------------

    def _remember(self, listing: Listing, report: BuildReport) -> None:
        if self._scanned is not None and listing.quick:
            outcome_of, unreadable = self._scanned
            self.tracker.listed = Listed(listing.keys, outcome_of, unreadable, os.getcwd())
        else:
            self.tracker.listed = None  # found by find_sources (symlinks...): no deltas on it
        self._scanned = None
        # A post reading other files cannot be judged by its own stat key: as for racy ones,
        # the next build looks again.
        racy = self.parse.racy or self.parse.reads_others
        saved = self._state[1].files if self._state is not None else None
        self.fast.remember(listing, report, racy=racy, media=self.media.seen, files=saved)

    def _lose_track(self) -> None:
        """After a failed build: what was kept about the last one may no longer describe the
        disk (the index moved on, events were taken), so the next build scans in full."""
        self.fast.memo = None
        self._scanned = None
        self._grouping = None
        self.tracker.lose_track()

    def _load_state(self) -> BuildState:
        """The last build's state, kept while the state's files are those it wrote, else read."""
        key = state_key(self.state_path)
        if self._state is not None and key is not None and key == self._state[0]:
            return self._state[1]
        self._state = None
        return load_state(self.state_path, self.state_writer)

    # -- one-off uses ---------------------------------------------------------------------------

    def parse_source(self, src: SourceFile) -> ParseOutcome:
        """One file → outcome (uncached). Unreadable files are invalid posts, not failures."""
        return self.parse.parse_source(src)

    def render(self, groups: list[FeedGroup]) -> tuple[dict[str, bytes], list[FeedInfo]]:
        """Every group in every configured format, plus ``index.opml``, as bytes in memory."""
        return self.planner.render(groups)

    @contextlib.contextmanager
    def _build_scope(self) -> Iterator[None]:
        """Marks a build in progress; its worker pool (if any) never outlives it, and the
        garbage collector waits for it (:func:`.gcpause.collector_paused`)."""
        self._building = True
        self._staging = False
        self._gc_after = None
        try:
            with collector_paused(lambda: self._gc_after):
                yield
        finally:
            self._building = False
            self.pool.close()
            if self._staging:  # groups staged but never published (a failed build)
                self._staging = False
                with contextlib.suppress(OSError):
                    remove_staged(self.config.output_dir)


def build_site(
    config: Config, now: datetime, *, progress: ProgressFn | None = None, sinks: Sequence[Sink] = ()
) -> BuildReport:
    """Build once with a fresh :class:`SiteBuilder` (what ``feedsmith build`` runs)."""
    return SiteBuilder(config, watch=False, sinks=sinks).build(now, progress=progress)
