"""The whole scan in one call: find every post file, read, parse and collect it.

The simple, uncached form of what :mod:`feedsmith.pipeline.index` does incrementally; tests and
``feedsmith check`` use it as the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.decoding import SourceError, display_path
from feedsmith.core.model import ParseOutcome, Problem, ScanResult
from feedsmith.core.post_files import post_files
from feedsmith.core.posts import collect, parse_post
from feedsmith.pipeline.includes import includes_for
from feedsmith.pipeline.links import resolve_links
from feedsmith.pipeline.sources import find_sources, read_bytes


def _outcomes(config: Config, sources: Iterable[Any]) -> Iterator[ParseOutcome]:
    for src in sources:
        # posts_dir/rel, not src.path: a followed symlink is shown where the user put it.
        shown = display_path(config.posts_dir / src.rel)
        try:
            data = read_bytes(src, config.max_post_bytes)
        except SourceError as exc:
            problem = Problem(shown, None, "error", exc.reason)
            yield ParseOutcome(None, [problem], None, shown)
            continue
        except OSError as exc:
            problem = Problem(shown, None, "error", f"cannot read: {exc.strerror or exc}")
            yield ParseOutcome(None, [problem], None, shown)
            continue
        yield parse_post(data, src.rel, shown, config, includes_for(config, src.rel))


def scan_posts(config: Config, now: datetime) -> ScanResult:
    """The edge: find every post file, read and parse it, and collect the result."""
    sources, source_problems = find_sources(config.posts_dir, post_files(config))
    result = resolve_links(collect(_outcomes(config, sources), now), config, lambda post: "")
    dropped = sum(1 for p in source_problems if p.severity == "error")
    result.problems[:0] = source_problems
    result.skipped += dropped
    result.files_seen += dropped
    return result
