"""Regrouping after a few changed posts: the service's delta of :func:`group_posts`.

The running service sees a handful of posts change between builds; grouping all of them again
would cost a full pass each time. :func:`regroup` works the groups out from the last call for
those few posts, or says ``None`` whenever the result could differ from the full rules, so the
caller falls back to :func:`~feedsmith.core.groups.group_posts`. Its own module because it is
an optimisation with its own invariants, checked against the full rules by tests/test_groups.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from feedsmith.core.delta import few_changed
from feedsmith.core.groups import (
    ALL,
    CATEGORIES,
    TAGS,
    FeedGroup,
    RespellMemo,
    author_names,
    display_name,
    distinct_names,
    respelled_copy,
)
from feedsmith.core.model import Post

#: More changed posts than this and :func:`group_posts` runs in full (the delta's per-post
#: work is several times a full pass's, and a big change is rare in the service).
REGROUP_LIMIT = 64


@dataclass
class Grouping:
    """One :func:`group_posts` call remembered, so the next can be a small delta.

    ``outputs``: ``id(input post) -> (input post, the post as the groups hold it)``;
    ``inputs``: ``id(held post) -> input post``. Both hold their objects, so ids stay valid.
    """

    groups: list[FeedGroup]
    registry: dict[str, str]
    outputs: dict[int, tuple[Post, Post]]
    inputs: dict[int, Post]
    where: dict[tuple[str, str], int]  # (kind, key) -> index in groups
    posts: list[Post]  # the input posts, in their order (see ``_changes``)
    #: A delta was taken from this grouping: its ``outputs``/``inputs`` became the next one's
    #: (updated in place, not copied: two 10,000-entry maps per edit), so it is no base now.
    spent: bool = False


def record_grouping(
    posts: Sequence[Post],
    groups: list[FeedGroup],
    registry: dict[str, str],
    respelled: RespellMemo,
) -> Grouping:
    """:class:`Grouping` of a full :func:`group_posts` call whose ``remember`` was
    ``respelled`` (which names every copy, so no search is needed)."""
    outputs: dict[int, tuple[Post, Post]] = {}
    inputs: dict[int, Post] = {}
    for post in posts:
        hit = respelled.get(id(post))
        out = hit[1] if hit is not None else post
        outputs[id(post)] = (post, out)
        inputs[id(out)] = post
    where = {(g.kind, g.key): i for i, g in enumerate(groups) if g.kind != ALL}
    return Grouping(groups, registry, outputs, inputs, where, list(posts))


def regroup(
    last: Grouping, posts: Sequence[Post], slug_registry: Mapping[str, str]
) -> tuple[list[FeedGroup], dict[str, str], Grouping] | None:
    """What ``group_posts(posts, slug_registry)`` returns, worked out from ``last`` for the
    few posts that are not the very objects it grouped; ``None`` when that could differ from
    the full rules (the caller then runs :func:`group_posts`).

    The delta is taken only when no group appears, vanishes or is renamed: ``slug_registry``
    is the registry ``last`` returned, every name of a changed post is a name some group
    already has, each touched group keeps a post and its display name (counted again from
    all its posts, by the rule), and no changed post repeats a name or holds one that merges
    to nothing (the literal rules' cases). Then only touched groups change: untouched posts
    keep their spellings, hence their objects, and groups without a changed post are the
    same objects as before. Grouping does not depend on the order of ``posts``, whose ids
    must be unique (``collect`` sees to that): group_posts orders equal ids by input order.
    tests/test_groups.py checks the result against ``group_posts`` on generated edits.
    A delta taken spends ``last`` (its maps are the returned grouping's): keep the new one.
    """
    if slug_registry is not last.registry or last.spent:
        return None
    outputs = last.outputs
    found = _changes(last, posts)
    if found is None:
        return None
    removed, added = found
    if not removed and not added:
        return list(last.groups), dict(last.registry), last
    if len(removed) + len(added) > REGROUP_LIMIT:
        return None
    touched: set[tuple[str, str]] = set()
    for post in [p for p, _ in removed] + added:
        kinds = (("category", post.categories), ("tag", post.tags), ("author", author_names(post)))
        for kind, names in kinds:
            distinct = distinct_names(names)
            if len(distinct) != len(names):
                return None
            for _, key in distinct:
                if (kind, key) not in last.where:
                    return None
                touched.add((kind, key))
    groups = list(last.groups)

    def display(kind: str, key: str) -> str:
        return groups[last.where[kind, key]].name  # names of touched groups only

    # Added posts as the groups hold them: every name spelled as its group's display name.
    held_new: dict[int, Post] = {}
    for post in added:
        cats = tuple(display("category", k) for _, k in distinct_names(post.categories))
        tags = tuple(display("tag", k) for _, k in distinct_names(post.tags))
        same = cats == post.categories and tags == post.tags
        held_new[id(post)] = post if same else respelled_copy(post, cats, tags)
    gone_outs = [out for _, out in removed]

    removed_inputs = [post for post, _ in removed]
    for kind_key in sorted(touched):
        kind, key = kind_key
        at = last.where[kind_key]
        old = groups[at]
        names_of = {"category": CATEGORIES, "tag": TAGS}.get(kind, author_names)
        kept = _without(old.posts, gone_outs)
        joining = [p for p in added if any(k == key for _, k in distinct_names(names_of(p)))]
        if not kept and not joining:
            return None  # the group vanishes: slugs and the group list change
        leaving = [
            p for p in removed_inputs if any(k == key for _, k in distinct_names(names_of(p)))
        ]
        if not _keeps_display(old.name, key, leaving, joining, names_of):
            # Counted again by the rule, over the inputs (their own spellings), oldest first.
            members = [last.inputs[id(p)] for p in kept] + joining
            counted: dict[str, int] = {}
            for post in sorted(members, key=_date_id):
                name = next(n for n, k in distinct_names(names_of(post)) if k == key)
                counted[name] = counted.get(name, 0) + 1
            if display_name(counted) != old.name:
                return None
        for post in joining:
            _insert_newest_first(kept, held_new[id(post)])
        groups[at] = FeedGroup(kind, key, old.name, old.slug, tuple(kept))

    everyone = list(groups[0].posts)
    for _, out in removed:
        del everyone[_position(everyone, out)]
    for post in added:
        _insert_newest_first(everyone, held_new[id(post)])
    groups[0] = FeedGroup(ALL, ALL, ALL, ALL, tuple(everyone))

    # Past the last ``None``: ``last``'s maps become the new grouping's, updated in place.
    new_outputs, new_inputs = outputs, last.inputs
    last.spent = True
    for post, out in removed:
        del new_outputs[id(post)]
        del new_inputs[id(out)]
    for post in added:
        out = held_new[id(post)]
        new_outputs[id(post)] = (post, out)
        new_inputs[id(out)] = post
    registry = dict(last.registry)
    return (
        groups,
        registry,
        Grouping(groups, registry, new_outputs, new_inputs, last.where, list(posts)),
    )


def _changes(
    last: Grouping, posts: Sequence[Post]
) -> tuple[list[tuple[Post, Post]], list[Post]] | None:
    """The ``(input, held)`` pairs that went and the posts that came since ``last``, or
    ``None`` for too many or a post given twice. This runs over all 10,000 posts on every
    edit of the service, so no Python step is taken per post: with as many posts as last
    time, only the places whose object differs are looked at (:func:`.delta.few_changed`)."""
    found = few_changed(last.posts, posts, REGROUP_LIMIT)
    if found is None:
        return None
    went, came, _ = found
    outputs = last.outputs
    if any(id(post) in outputs for post in came):
        return None  # a post given twice: kept at one place and added at another
    return [outputs[id(post)] for post in went], came


def _keeps_display(
    display: str,
    key: str,
    leaving: list[Post],
    joining: list[Post],
    names_of: Callable[[Post], tuple[str, ...]],
) -> bool:
    """True when the display name provably survives without counting again.

    Either the same (date, id, spelling of ``key``) leave as join — an edit that keeps the
    post's date and its spelling of the name: every count, and the oldest holder of each
    spelling (which breaks ties), stay as they were — or every leaving and joining post spells
    ``key`` as ``display`` and more join than leave, so the display name's count grows while
    no other count changes."""

    def spelled(post: Post) -> tuple[datetime, str, str]:
        return (*_date_id(post), next(n for n, k in distinct_names(names_of(post)) if k == key))

    going = sorted(map(spelled, leaving))
    coming = sorted(map(spelled, joining))
    if going == coming:
        return True
    return len(coming) > len(going) and all(s[2] == display for s in going + coming)


def _without(ordered: tuple[Post, ...], leaving: list[Post]) -> list[Post]:
    """``ordered`` less the very objects ``leaving`` (those it holds), each found by its sort
    position rather than by a pass over the group (a big tag's group holds thousands)."""
    kept = list(ordered)
    for post in leaving:
        at = _first_not_before(kept, post)
        key = _date_id(post)
        while at < len(kept) and kept[at] is not post and _date_id(kept[at]) == key:
            at += 1  # equal keys (collect leaves none: ids are unique)
        if at < len(kept) and kept[at] is post:
            del kept[at]  # else not in this group
    return kept


def _insert_newest_first(ordered: list[Post], post: Post) -> None:
    """Insert ``post`` into ``ordered`` (date descending, then id ascending) where it sorts."""
    ordered.insert(_first_not_before(ordered, post), post)


def _first_not_before(ordered: list[Post], post: Post) -> int:
    date, ident = post.date, post.id
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        other = ordered[mid]
        if other.date > date or (other.date == date and other.id < ident):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _position(ordered: list[Post], post: Post) -> int:
    """Where the very object ``post`` is in ``ordered`` (found by its sort position)."""
    for at in range(_first_not_before(ordered, post), len(ordered)):
        if ordered[at] is post:  # the first, unless ids repeat (collect sees they don't)
            return at
    for at, other in enumerate(ordered):
        if other is post:
            return at
    raise ValueError(f"post {post.id!r} is not in the group")


def _date_id(post: Post) -> tuple[datetime, str]:
    return (post.date, post.id)
