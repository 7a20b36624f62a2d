"""``feedsmith build`` when nothing changed, answered before the pipeline is imported.

A cron job or CI step that finds nothing new is the common case, and at 10,000 posts it used
to spend most of its time importing what it would not run (Markdown, Liquid, Jinja, the
renderers: ~0.3 s) and validating the whole build state it only needed the file records of.
:func:`unchanged_build` asks the same question as the builder's own fast path
(:meth:`~feedsmith.pipeline.memo.FastPath.unchanged`), with the same lock and the same
inputs, importing only the listing, the memo and the state file's reader. Anything else — a
change, a sink to catch up, a memo missing — answers ``None`` and the caller builds as
before (whose own fast path then answers the same ``None``).

On an edit the question fails after its costliest part, the stat of every post
(:func:`~feedsmith.pipeline.listing.quick_keys`, ~0.1 s at 10,000 posts). :func:`ask` hands
those keys to the build that follows (:class:`Asked`), which then neither stats the posts again
nor asks its own fast path the question just answered "no" (that costs only time if wrong: the
full path's output is the same either way).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feedsmith.pipeline.early import LOCK_FILE, STATE_FILE

if TYPE_CHECKING:  # types only: the config's and the report's modules import the core
    from feedsmith.core.config import Config
    from feedsmith.pipeline.report import BuildReport
    from feedsmith.pipeline.statpass import Key

# The builder (feedsmith.pipeline.site) takes the state dir's names from here.
__all__ = ["LOCK_FILE", "STATE_FILE", "Asked", "ask", "build_lock", "unchanged_build"]


@dataclass
class Asked:
    """What the no-change question found: the last report when nothing changed, else the
    posts' stat keys it took (``None`` when it did not get that far), for the full build."""

    report: BuildReport | None = None
    keys: list[Key] | None = None


@contextlib.contextmanager
def build_lock(config: Config) -> Iterator[None]:
    """One build per site at a time, across processes (``feedsmith build`` while the service
    runs would otherwise race on the same temp files and state)."""
    from feedsmith.system.statedir import open_private

    fd = open_private(config.state_dir / LOCK_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def unchanged_build(config: Config, now: datetime) -> BuildReport | None:
    """The last build's report when building now would change nothing, for a one-off build
    with no sinks (a sink that failed last time must catch up: that is the builder's job)."""
    return ask(config, now).report


def ask(config: Config, now: datetime) -> Asked:
    """:func:`unchanged_build`'s question, with the posts' keys it took when the answer is no."""
    if config.publish.s3 is not None or config.websub.enabled:
        return Asked()
    import logging

    # Start-up cost only: ``feedsmith build`` imports this module before it knows whether the
    # answer comes from the records alone (:mod:`.early`), which needs none of these.
    from feedsmith.core.post_files import post_files
    from feedsmith.pipeline.listing import quick_keys
    from feedsmith.pipeline.memo import FastPath
    from feedsmith.pipeline.statefile import load_files, load_state
    from feedsmith.system.statedir import ensure_state_dir

    t0 = time.perf_counter()
    now = now.astimezone(UTC).replace(microsecond=0)
    ensure_state_dir(config.state_dir)
    state_path = config.state_dir / STATE_FILE
    with build_lock(config):
        # As the builder does: an unreadable posts_dir is an error for the full path to report.
        try:
            os.scandir(config.posts_dir).close()
        except OSError:
            return Asked()
        keys = quick_keys(config.posts_dir, post_files(config))
        fast = FastPath(config, config.fingerprint(), state_path, persist=True)

        def published_files() -> dict[str, dict[str, object]]:
            files = load_files(state_path)
            return files if files is not None else load_state(state_path).files

        report = fast.unchanged(now, keys, published_files)
        if report is not None and config.media_dir is not None:
            # Start-up cost only: what media_dir needs (the manifest's reader, the media tree)
            # is imported for the sites that have one.
            from feedsmith.pipeline.media_tree import media_as_published
            from feedsmith.publish.changes import published_changes

            try:
                published = published_changes(config.output_dir, config.media_dir)
                if not media_as_published(config, published, now):
                    report = None
            except OSError:  # media_dir unreadable: the builder reports it
                report = None
    if report is not None:
        report.seconds = time.perf_counter() - t0
        logging.getLogger("feedsmith.build").info(
            "build ok (nothing changed): %s", report.summary()
        )
        return Asked(report=report)
    return Asked(keys=keys)
