"""Collect: per-file outcomes → the site's posts (duplicate ids refused, future posts held back).

Its own module because the service calls it on every build over every post: with a
:class:`CollectMemo` a one-post edit patches the last result in place of a 10,000-post pass,
and the patch's rules (when it gives what the full pass gives) are kept beside that pass.
Pure: ``now`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from feedsmith.core.delta import changed_places
from feedsmith.core.model import ParseOutcome, Post, Problem, ScanResult

#: More changed outcomes than this and :func:`collect` runs in full (a delta's per-outcome work
#: is several times a full pass's, and a big change is rare in the service).
COLLECT_DELTA_LIMIT = 64


@dataclass
class CollectMemo:
    """The last :func:`collect` call, so the next one can look only at the outcomes that are
    not the very objects it saw (the service: an unchanged file's outcome stays the same object
    from build to build). Holds its objects, so identities stay valid.

    ``slot``: per outcome, the index of its post in ``posts``, or -1 when it added none.
    ``plain``: ``slot`` is set and the outcome carries no problems (an edit between two such
    outcomes changes nothing but that post). ``dupes``: a duplicate id was refused (who owns
    an id then depends on the order, so an id that moves needs the full pass)."""

    outcomes: list[ParseOutcome] = field(default_factory=list)
    now: datetime | None = None
    result: ScanResult | None = None
    owners: dict[str, str] = field(default_factory=dict)
    slot: list[int] = field(default_factory=list)
    dupes: bool = False
    delta_used: int = 0  # outcomes the last call looked at when it took the delta (tests)
    full_passes: int = 0  # calls that took the full pass (tests)


def _copy(result: ScanResult) -> ScanResult:
    """A result callers may change (they extend ``problems``) without changing the memo."""
    out = ScanResult(posts=list(result.posts), problems=list(result.problems))
    out.files_seen, out.excluded, out.skipped = result.files_seen, result.excluded, result.skipped
    out.next_publish = result.next_publish
    return out


def _plain(outcome: ParseOutcome, now: datetime) -> Post | None:
    """The post an outcome adds with nothing else (no problems, not excluded, not future)."""
    post = outcome.post
    if post is None or outcome.problems or outcome.excluded is not None or post.date > now:
        return None
    return post


def _same_future(was: ParseOutcome, new: ParseOutcome, now: datetime) -> bool:
    """Both hold back the same future post, with nothing else to say (a scheduled post's
    outcome comes back as a new object on every build)."""
    a, b = was.post, new.post
    return (
        a is not None
        and b is not None
        and not was.problems
        and not new.problems
        and was.excluded is None
        and new.excluded is None
        and a.date > now
        and (a.id, a.date, a.source, was.display_path) == (b.id, b.date, b.source, new.display_path)
    )


def _collect_delta(outcomes: list[ParseOutcome], now: datetime, memo: CollectMemo) -> bool:
    """Patch ``memo`` to what :func:`collect` gives for ``outcomes`` at ``now``; ``False``
    (memo untouched) when the patch could differ from the full pass. Taken only when no
    outcome came or went, no time passed the next scheduled post (and the clock did not go
    back), and every changed outcome and the one it replaces hold back the same future post
    (:func:`_same_future`) or are plain posts (see :func:`_plain`) keeping their id, or
    moving to an id nobody holds while no duplicate was refused: then only that post's place
    in ``posts`` changes."""
    last = memo.result
    if (
        last is None
        or memo.now is None
        or len(outcomes) != len(memo.outcomes)
        or now < memo.now
        or (last.next_publish is not None and now >= last.next_publish)
    ):
        return False
    changed = changed_places(outcomes, memo.outcomes)
    if len(changed) > COLLECT_DELTA_LIMIT:
        return False
    owners = memo.owners
    swaps: list[tuple[int, Post]] = []
    moved: dict[str, str] = {}  # new id -> owner (ids given up are removed below)
    gone: list[str] = []
    for i in changed:
        if _same_future(memo.outcomes[i], outcomes[i], now):
            continue  # held back as before, with the same words
        was, now_post = _plain(memo.outcomes[i], now), _plain(outcomes[i], now)
        if was is None or now_post is None or memo.slot[i] < 0:
            return False
        if now_post.id != was.id:
            if memo.dupes or now_post.id in owners or now_post.id in moved:
                return False
            gone.append(was.id)
            moved[now_post.id] = outcomes[i].display_path or now_post.source
        swaps.append((memo.slot[i], now_post))
    if any(ident in moved for ident in gone):
        return False  # two posts trading ids: the full pass decides
    for ident in gone:
        del owners[ident]
    owners.update(moved)
    for at, post in swaps:
        last.posts[at] = post
    for i in changed:
        memo.outcomes[i] = outcomes[i]
    memo.now = now
    memo.delta_used = len(changed)
    return True


def collect(
    outcomes: Iterable[ParseOutcome], now: datetime, memo: CollectMemo | None = None
) -> ScanResult:
    """Merge per-file outcomes (in ``rel`` order): drop duplicate ids, hold back future posts.

    A future post still claims its id, so the day it is published it cannot collide with a
    post that was added in the meantime.

    With ``memo`` (the service), the last call is patched where only a few outcomes are new
    objects (:func:`_collect_delta`), else the full pass runs and is remembered there.
    """
    if memo is None:
        return _collect(outcomes, now, None)
    listed = list(outcomes)
    if _collect_delta(listed, now, memo):
        assert memo.result is not None
        return _copy(memo.result)
    memo.full_passes += 1
    memo.delta_used = 0
    result = _collect(listed, now, memo)
    memo.outcomes, memo.now, memo.result = listed, now, result
    return _copy(result)


def _collect(
    outcomes: Iterable[ParseOutcome], now: datetime, memo: CollectMemo | None
) -> ScanResult:
    """The full pass. This runs over every post on every build without a memo (and in the
    service whenever the delta does not apply), so the loop keeps its counts and lists in
    locals and does per post only what a post needs."""
    problems: list[Problem] = []
    posts: list[Post] = []
    append = posts.append
    owners: dict[str, str] = {}
    slot: list[int] = []
    mark = slot.append
    dupes = False
    seen = excluded = skipped = 0
    next_publish: datetime | None = None
    for outcome in outcomes:
        seen += 1
        if outcome.problems:
            problems.extend(outcome.problems)
        if outcome.excluded is not None:
            excluded += 1
            mark(-1)
            continue
        post = outcome.post
        if post is None:
            skipped += 1
            mark(-1)
            continue
        post_id = post.id
        if post_id in owners:
            path = outcome.display_path or post.source
            reason = f"duplicate id {post_id!r} (already used by {owners[post_id]})"
            problems.append(Problem(path, None, "error", reason))
            skipped += 1
            dupes = True
            mark(-1)
            continue
        owners[post_id] = outcome.display_path or post.source
        date = post.date
        if date > now:
            path = outcome.display_path or post.source
            when = date.isoformat()
            problems.append(
                Problem(path, None, "info", f"scheduled for {when}; excluded until then")
            )
            excluded += 1
            if next_publish is None or date < next_publish:
                next_publish = date
            mark(-1)
            continue
        mark(len(posts))
        append(post)
    result = ScanResult(posts=posts, problems=problems)
    result.files_seen, result.excluded, result.skipped = seen, excluded, skipped
    result.next_publish = next_publish
    if memo is not None:
        memo.owners, memo.slot, memo.dupes = owners, slot, dupes
    return result
