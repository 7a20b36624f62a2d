"""Last known good: a post that was valid once stays published while its file is broken.

A save caught half-way (``>``, many editors, ``rsync --inplace`` and sync tools truncate the
file, then write it) reads as an empty or cut-off file. Dropping the post then would take it out
of every feed, and a tag or category only it carried would answer 410 Gone — which aggregators
(Feedly, Inoreader, NewsBlur, Miniflux) take as "unsubscribe for ever". So when a file that held
a valid post fails to read or parse (empty, truncated, invalid front matter, undecodable, too
large), its last valid version keeps being published and the failure is reported as a
``warning`` that names the path, the reason and when the published version was saved.

Only deliberate removals take a post out: the file deleted, ``published: false`` or a draft,
or a valid edit that drops a tag. A file that was never valid is skipped as before.

The kept versions live in ``state_dir`` (:data:`KEPT_FILE`), apart from the parse cache, which a
config change or an upgrade invalidates: a fresh ``feedsmith build`` after a bad edit publishes
the kept version too. The file holds only posts that are broken right now, so it stays small.
It is msgpack (:mod:`feedsmith.pipeline.records`), written 0600; a ``kept.pickle`` of an older
feedsmith is never loaded (loading a pickle runs code): it is removed with one log line, and the
posts it kept are simply not kept any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from feedsmith.core.model import ParseOutcome, Post, Problem
from feedsmith.pipeline import records
from feedsmith.system.statedir import remove_legacy, write_atomic

log = logging.getLogger("feedsmith.kept")

KEPT_FILE = "kept.msgpack"
#: The pickle of older versions: never loaded.
LEGACY_KEPT_FILE = "kept.pickle"
#: In the reason of every problem :func:`keep` makes: how reports find them.
KEPT_NOTE = "still publishing its last valid version"
_MAGIC = "feedsmith-kept"
_VERSION = 2


@dataclass(frozen=True)
class Kept:
    """The last valid version of a post whose file is broken now, with its HTML."""

    post: Post
    saved: datetime  # the mtime of the file version it was parsed from (UTC)


def is_broken(outcome: ParseOutcome) -> bool:
    """True for a file that failed to become a post (not one left out on purpose)."""
    return (
        outcome.post is None
        and outcome.excluded is None
        and any(p.severity == "error" for p in outcome.problems)
    )


def kept_from(post: Post, mtime_ns: int) -> Kept:
    return Kept(post, datetime.fromtimestamp(mtime_ns // 1_000_000_000, UTC))


def keep(outcome: ParseOutcome, kept: Kept) -> ParseOutcome:
    """``outcome`` of a broken file, turned into its kept post plus one warning.

    The warning keeps the errors' reasons and the first error's line, so it points at what to
    fix, and says which version readers still get.
    """
    errors = [p for p in outcome.problems if p.severity == "error"]
    others = [p for p in outcome.problems if p.severity != "error"]
    reasons = "; ".join(p.reason for p in errors)
    saved = kept.saved.strftime("%Y-%m-%d %H:%M:%S UTC")
    warning = Problem(
        errors[0].path,
        errors[0].line,
        "warning",
        f"{reasons}; {KEPT_NOTE} (saved {saved})",
    )
    return replace(outcome, post=kept.post, problems=[*others, warning])


def is_kept_problem(problem: Problem) -> bool:
    return problem.severity == "warning" and KEPT_NOTE in problem.reason


def load_kept(path: Path) -> dict[str, Kept]:
    """The kept versions (``rel`` → :class:`Kept`); ``{}`` when there is no usable file."""
    remove_legacy(path.with_name(LEGACY_KEPT_FILE), "posts it kept are not kept any more")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.warning("cannot read %s (%s): no kept post versions", path, exc)
        return {}
    try:
        magic, version, layout, rows = records.unpackb(raw)
        if magic != _MAGIC or version != _VERSION or layout != records.LAYOUT:
            raise ValueError("not a kept-versions file of this version")
        reader = records.Reader()
        kept: dict[str, Kept] = {}
        for rel, post_row, saved in rows:
            if not (isinstance(rel, str) and isinstance(saved, datetime)):
                raise ValueError(f"bad record for {rel!r}")
            kept[rel] = Kept(reader.post(post_row), saved)
    except Exception as exc:
        log.warning("ignoring %s (%s): no kept post versions", path, exc)
        return {}
    return kept


def save_kept(path: Path, kept: dict[str, Kept]) -> None:
    """Write (or, with nothing kept, remove) the kept versions, atomically."""
    if not kept:
        path.unlink(missing_ok=True)
        return
    rows = [[rel, records.post_row(k.post), k.saved] for rel, k in sorted(kept.items())]
    write_atomic(path, records.packb([_MAGIC, _VERSION, records.LAYOUT, rows]))
