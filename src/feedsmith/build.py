"""One build: scan → remember → group → render → publish → remember again.

The whole pipeline runs against the clock it is given (``now``), never the wall clock, so tests
and the scheduler decide what "now" is. It is all-or-nothing for readers: everything is rendered
in memory first and :func:`feedsmith.output.publish` renames files into place only once every
one of them was written, so an exception anywhere before that leaves the previous output exactly
as it was and surfaces as :class:`BuildError`. Invalid posts are not failures: they are skipped
and reported (``BuildReport.skipped``/``problems``).

:class:`SiteBuilder` is a class rather than a function so the long-running service can keep
things between builds (issue 5 adds a parse cache and a process pool here: per-file parsing
goes through :meth:`SiteBuilder.parse_source`, rendering through :meth:`SiteBuilder.render`).

Counting: ``feeds_written``/``feeds_unchanged``/``feeds_removed`` count feed *files* (one per
group per format), the thing a reader subscribes to; ``index.opml``, ``index.json`` and ``.gz``
sidecars are not counted.

The state is saved after the output is published. If saving it fails the feeds are already
out, the error is logged and raised (the next build re-verifies the files against the disk, so
nothing is lost but the exact change times of edits made in between).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from feedsmith import feeds as feeds_mod
from feedsmith.config import Config
from feedsmith.groups import FeedGroup, group_posts
from feedsmith.model import Problem, ScanResult
from feedsmith.output import OPML_NAME, FeedInfo, iso_z, publish
from feedsmith.posts import ParseOutcome, collect, parse_post
from feedsmith.sources import SourceError, SourceFile, display_path, find_sources, read_bytes
from feedsmith.state import BuildState, apply_updates, load_state, save_state

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]

STATE_FILE = "state.json"
LOCK_FILE = "build.lock"


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

    def summary(self) -> str:
        return (
            f"{self.posts} posts, {self.feeds_written} feeds written, "
            f"{self.feeds_unchanged} unchanged, {self.feeds_removed} removed, "
            f"{len(self.problems)} problems, {self.seconds:.2f} s"
        )


class SiteBuilder:
    """Builds one configured site; reusable across builds (the service keeps one)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.state_path = config.state_dir / STATE_FILE

    # -- the pipeline ---------------------------------------------------------------------------

    def build(self, now: datetime, progress: ProgressFn | None = None) -> BuildReport:
        """Run the whole pipeline once at time ``now``; raise :class:`BuildError` on failure."""
        t0 = time.perf_counter()
        # Whole seconds: every timestamp the build records is shown at that precision anyway,
        # and stored times must round-trip exactly for rebuilds to be byte-identical.
        now = now.astimezone(UTC).replace(microsecond=0)
        cfg = self.config
        stage = "prepare"
        try:
            cfg.state_dir.mkdir(parents=True, exist_ok=True)
            with self._lock():
                stage = "scan"
                scan = self.scan(now, progress)
                stage = "load state"
                state = load_state(self.state_path)
                posts, entries = apply_updates(scan.posts, state, now)
                stage = "group"
                groups, slugs = group_posts(posts, state.slugs)
                stage = "render"
                files, feed_infos = self.render(groups)
                stage = "publish"
                written = publish(cfg.output_dir, files, feed_infos, state, now)
                stage = "save state"
                save_state(
                    self.state_path,
                    BuildState(entries, slugs, written.files, written.gone, written.generated),
                )
        except Exception as exc:
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
        )
        log.info("build ok: %s", report.summary())
        return report

    # -- steps (overridable seams for caching / parallelism) -----------------------------------

    def scan(self, now: datetime, progress: ProgressFn | None = None) -> ScanResult:
        """Find, read and parse every post, reporting progress per file; then collect."""
        sources, source_problems = find_sources(self.config.posts_dir)
        result = collect(self._outcomes(sources, progress), now)
        dropped = sum(1 for p in source_problems if p.severity == "error")
        result.problems[:0] = source_problems
        result.skipped += dropped
        result.files_seen += dropped
        return result

    def _outcomes(
        self, sources: list[SourceFile], progress: ProgressFn | None
    ) -> Iterator[ParseOutcome]:
        total = len(sources)
        if progress is not None:
            progress(0, total)
        for done, src in enumerate(sources, 1):
            yield self.parse_source(src)
            if progress is not None:
                progress(done, total)

    def parse_source(self, src: SourceFile) -> ParseOutcome:
        """One file → outcome. Unreadable files are invalid posts, not build failures."""
        shown = display_path(self.config.posts_dir / src.rel)
        try:
            data = read_bytes(src, self.config.max_post_bytes)
        except SourceError as exc:
            return ParseOutcome(None, [Problem(shown, None, "error", exc.reason)], None, shown)
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
            return ParseOutcome(None, [Problem(shown, None, "error", reason)], None, shown)
        return parse_post(data, src.rel, shown, self.config)

    def render(self, groups: list[FeedGroup]) -> tuple[dict[str, bytes], list[FeedInfo]]:
        """Every group in every configured format, plus ``index.opml``, as bytes in memory."""
        cfg = self.config
        files: dict[str, bytes] = {}
        infos: list[FeedInfo] = []
        for group in groups:
            paths = feeds_mod.feed_files(group, cfg.feed.formats)
            rendered = feeds_mod.render_group(group, cfg, tuple(paths))
            for fmt, rel in paths.items():
                files[rel] = rendered[fmt]
            shown = group.posts[: cfg.feed.max_entries]
            newest = max((p.updated for p in shown), default=None)
            infos.append(
                FeedInfo(
                    kind=group.kind,
                    name=group.name,
                    slug=group.slug,
                    entries=len(shown),
                    updated=iso_z(newest) if newest else None,
                    urls={fmt: "/feeds/" + quote(rel, safe="/") for fmt, rel in paths.items()},
                    files=tuple(paths.values()),
                )
            )
        files[OPML_NAME] = feeds_mod.render_opml(groups, cfg)
        return files, infos

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


def build_site(config: Config, now: datetime, *, progress: ProgressFn | None = None) -> BuildReport:
    """Build once with a fresh :class:`SiteBuilder` (what ``feedsmith build`` runs)."""
    return SiteBuilder(config).build(now, progress=progress)
