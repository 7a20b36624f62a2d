"""``feedsmith stats import FILE…`` and ``feedsmith stats``: the same counts from access logs,
for sites served by nginx, a bucket or a CDN instead of ``feedsmith serve``.

The log's requests go through the very path live counting takes (:class:`~.store.Poll` →
:meth:`~.store.SubscriberStore.add`), so the numbers agree; only successful answers (200, 304)
to GET/HEAD of a subscription document count, as live. A path is matched to a document by its
tail (``/feeds/tags/ai.atom.xml``, an S3 key ``feeds/tags/ai.atom.xml``, a CDN path
``/tags/ai.atom.xml``), so it does not matter under which prefix the files are served. After
an import, each day the logs cover gets its history row (the window ending that day).
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from feedsmith.core.config import Config
from feedsmith.core.subscribers.logs import LineError, LogReader
from feedsmith.core.text import escape_controls
from feedsmith.serve.aliases import FeedAliases
from feedsmith.serve.stores import FeedStore
from feedsmith.serve.subscribers.recorder import Subscribers
from feedsmith.serve.subscribers.store import Poll

BATCH = 5000
COUNTED_STATUS = frozenset({200, 304})


@dataclass
class ImportResult:
    lines: int = 0
    requests: int = 0  # feed requests found (before crawlers are set aside)
    counted: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)  # "path:line: reason", the first 100


def _lines(path: Path) -> Iterator[str]:
    with path.open("rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.open(raw) as unzipped:
                yield from io.TextIOWrapper(unzipped, encoding="utf-8", errors="replace")
        else:
            yield from io.TextIOWrapper(raw, encoding="utf-8", errors="replace")


def import_logs(
    config: Config, files: Sequence[Path], *, now: datetime | None = None
) -> ImportResult:
    """Read every file into the store; ``OSError`` (unreadable file) propagates."""
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    subs = Subscribers(config, FeedStore.for_config(config), clock)
    feeds = subs.feed_map()
    manifest = subs.site.manifest() if subs.site is not None else None
    aliases = FeedAliases.for_site(config.jekyll)
    result = ImportResult()
    days: set[str] = set()
    batch: list[Poll] = []
    for path in files:
        reader = LogReader()
        for number, line in enumerate(_lines(path), 1):
            result.lines += 1
            try:
                hit = reader.parse(line)
            except LineError as exc:
                result.skipped += 1
                if len(result.problems) < 100:
                    result.problems.append(f"{escape_controls(str(path))}:{number}: {exc}")
                continue
            if hit is None or hit.status not in COUNTED_STATUS or hit.method not in ("GET", "HEAD"):
                continue
            doc = feeds.by_path(hit.path)
            if doc is None and aliases and manifest is not None:
                wanted = aliases.wanted(hit.path)
                target = FeedAliases.target(wanted, manifest.feeds) if wanted else None
                doc = feeds.get(target) if target else None
            if doc is None:
                continue
            result.requests += 1
            batch.append(Poll(*doc, hit.time.timestamp(), hit.addr, hit.ua))
            days.add(hit.time.date().isoformat())
            if len(batch) >= BATCH:
                result.counted += subs.db.add(batch)
                batch = []
    if batch:
        result.counted += subs.db.add(batch)
    current = clock()
    for day in sorted(days):
        end = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1, seconds=-1)
        subs.db.save_day(day, subs.snapshot(min(end, current).timestamp()))
    subs.db.prune(current.timestamp(), config.stats.window_hours, config.stats.keep_days)
    return result


def print_table(config: Config, out: TextIO | None = None) -> None:
    """``feedsmith stats``: the window's counts as a table, widest reader first."""
    out = out or sys.stdout
    subs = Subscribers(config, FeedStore.for_config(config), lambda: datetime.now(UTC))
    snap = subs.snapshot()
    rows = [("FEED", "SUBSCRIBERS", "READERS")]
    for feed in snap.feeds:
        readers = ", ".join(f"{r} {n}" for r, n in feed.as_dict()["by_reader"].items())  # type: ignore[union-attr]
        rows.append(
            (
                escape_controls(f"{feed.kind}: {feed.name}"),
                str(feed.subscribers),
                escape_controls(readers),
            )
        )
    width = max(len(r[0]) for r in rows)
    for name, count, readers in rows:
        print(f"{name:<{width}}  {count:>11}  {readers}".rstrip(), file=out)
    print(
        f"total {snap.total} subscribers over the last {config.stats.window_hours} hours", file=out
    )
