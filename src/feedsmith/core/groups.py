"""Grouping: the site feed, one feed per category, per tag and per author, with stable slugs.

Posts are grouped under their names merged on :func:`~feedsmith.core.naming.normalize_name`,
each group named by its most used spelling; the slugs come from the registry kept by
:mod:`~feedsmith.core.naming`, which never hands a slug to a different name. The service's
small deltas (:func:`~feedsmith.core.regrouping.regroup`) must give what :func:`group_posts`
gives, so the helpers both use are here.

Everything here is pure and independent of the input order, so the same posts always give the
same groups, names and slugs (the build's byte-identical-output promise depends on it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter, lt
from typing import Literal

from feedsmith.core.model import Post
from feedsmith.core.naming import assign_slugs, normalize_name
from feedsmith.core.paging import Paging

Kind = Literal["all", "category", "tag", "author"]

#: The "all" group's fixed key, name and slug (its files are ``all.*``, outside the folders).
ALL = "all"


@dataclass(frozen=True)
class FeedGroup:
    """One feed's worth of posts. ``posts`` are newest first (date desc, then id asc), all of
    them: renderers cut to ``max_entries``."""

    kind: Kind
    key: str
    name: str
    slug: str
    posts: tuple[Post, ...]
    #: Set by :func:`feedsmith.core.archive.archive_groups` for the documents of an archived feed
    #: (``None``: archives off, the feed's documents are rendered as without them).
    paging: Paging | None = None


# group_posts runs on every rebuild of the service, over every post, so it is written for
# speed (about 7x fewer instructions than the literal version it replaced, same result): posts
# are sorted once and each group is a list of indices into that order (no group is sorted); a
# post costs one list append per name, and merging spellings, choosing display names and
# re-spelling then work per *name*, falling back to the literal per-post rules
# (``distinct_names``) only for the keys and posts where the shortcut could differ; only posts
# that need new spellings are copied, and more cheaply than by ``dataclasses.replace``.
# tests/test_groups.py checks the result against a literal implementation of the rules on
# generated posts.

_DATE = attrgetter("date")
_ID = attrgetter("id")
#: A post's names of each kind that re-spelling applies to (also used by ``regrouping``).
CATEGORIES = attrgetter("categories")
TAGS = attrgetter("tags")


def author_names(post: Post) -> tuple[str, ...]:
    """The names that put ``post`` in author feeds: none when it only has the site default."""
    if post.default_author:
        return ()
    return tuple(author.name for author in post.authors)


# The re-spelling shortcut (``respelled_copy``) is the same as ``dataclasses.replace`` only
# while Post stays a plain dataclass: no ``__post_init__``, every field set by ``__init__``, an
# instance ``__dict__``. Checked once here, so a change to Post cannot silently break it.
_PLAIN_POST = (
    not hasattr(Post, "__post_init__")
    and not hasattr(Post, "__slots__")
    and all(f.init for f in dataclasses.fields(Post))
)


def _newest_first(posts: Iterable[Post]) -> list[Post]:
    """Date descending, then id ascending, then input order: the order of every group.

    The same as sorting by id and then stably by date, but dates rarely tie, so sorting by date
    alone and then only each run of equal dates by id does about half the comparisons.
    """
    ordered = sorted(posts, key=_DATE, reverse=True)
    dates = list(map(_DATE, ordered))
    # A run is what the sort itself saw as equal: neighbours where the later is not older.
    if all(map(lt, dates[1:], dates)):
        return ordered
    start = 0
    for end in range(1, len(ordered) + 1):
        if end == len(ordered) or dates[end] < dates[end - 1]:
            if end - start > 1:
                ordered[start:end] = sorted(ordered[start:end], key=_ID)
            start = end
    return ordered


def _no_repeats(indices: list[int]) -> bool:
    return len(set(indices)) == len(indices)  # cheaper than testing neighbours, in C


def display_name(spellings: dict[str, int]) -> str:
    # dict order is first-seen (oldest post first); max() keeps the first of equal counts.
    return max(spellings.items(), key=lambda item: item[1])[0]


@dataclass
class _Merged:
    """One kind's names merged into groups; posts are indices into the newest-first list."""

    buckets: dict[str, list[int]]  # merge key -> its posts, newest first
    display: dict[str, str]  # merge key -> display name
    canon: dict[str, str]  # every spelling seen -> the display name of its key
    respelled: frozenset[str]  # the spellings that differ from their key's display name
    exact: set[int]  # posts that repeat a key or hold a name with an empty key

    def holders(self, by_name: dict[str, list[int]]) -> set[int]:
        """The posts holding a spelling that is not its display name."""
        return set().union(*(by_name[name] for name in self.respelled))


def _merge(
    by_name: dict[str, list[int]], newest: list[Post], names_of: Callable[[Post], tuple[str, ...]]
) -> _Merged:
    """Merge per-spelling posting lists (``by_name``, newest first) on :func:`normalize_name`.

    Which names count is what :func:`distinct_names` says: a post's first spelling of each
    key, names with an empty key dropped. When no post repeats a key, the posting lists merged
    are the groups and a list's length is its spelling's count. For a key where a post repeats
    it, or where spellings tie on the count (the oldest post decides), the key's posts are
    counted one by one through :func:`distinct_names`, oldest first, exactly like the rule
    says; posts that repeat a key or hold a dropped name go to ``exact`` (re-spelled through
    :func:`_canonical`).
    """
    spellings: dict[str, list[str]] = {}
    for name in by_name:
        spellings.setdefault(normalize_name(name), []).append(name)
    exact: set[int] = set()
    for name in spellings.pop("", ()):
        exact.update(by_name[name])
    buckets: dict[str, list[int]] = {}
    display: dict[str, str] = {}
    respelled: list[str] = []
    for key, names in spellings.items():
        if len(names) == 1:
            bucket = by_name[names[0]]
            if _no_repeats(bucket):
                buckets[key] = bucket
                display[key] = names[0]
                continue
        else:
            parts = [by_name[name] for name in names]
            bucket = sorted(chain.from_iterable(parts))  # merges the sorted runs
            counts = list(map(len, parts))
            top = max(counts)
            if counts.count(top) == 1 and _no_repeats(bucket):
                buckets[key] = bucket
                display[key] = shown = names[counts.index(top)]
                respelled.extend(name for name in names if name != shown)
                continue
        bucket = sorted(set(bucket))
        counted: dict[str, int] = {}
        # Oldest first (stable: equal dates keep id order), as the tie-break is first-seen.
        for i in sorted(bucket, key=lambda i: newest[i].date):
            names_i = names_of(newest[i])
            distinct = distinct_names(names_i)
            if len(distinct) != len(names_i):
                exact.add(i)
            counted_name = next(name for name, k in distinct if k == key)
            counted[counted_name] = counted.get(counted_name, 0) + 1
        buckets[key] = bucket
        display[key] = shown = display_name(counted)
        respelled.extend(name for name in names if name != shown)
    canon = {name: name for name in by_name}
    canon.update((name, display[normalize_name(name)]) for name in respelled)
    return _Merged(buckets, display, canon, frozenset(respelled), exact)


def _pick(items: list[Post], indices: list[int]) -> tuple[Post, ...]:
    """``tuple(items[i] for i in indices)``, in C (~50,000 picks a build)."""
    if len(indices) == 1:  # itemgetter with one index returns the item, not a tuple
        return (items[indices[0]],)
    return itemgetter(*indices)(items)  # type: ignore[no-any-return]


def respelled_copy(post: Post, categories: tuple[str, ...], tags: tuple[str, ...]) -> Post:
    """``dataclasses.replace(post, categories=categories, tags=tags)``, about 10x cheaper.

    ~40 % of posts are re-spelled on every build, and ``replace`` re-runs ``__init__`` with
    keyword arguments for each. For a plain dataclass (``_PLAIN_POST``) a copy of the instance
    dict (Posts hold only their fields) with two values changed gives an equal object
    (``extra`` shared, as with ``replace``); the frozen ``__setattr__`` is bypassed on the
    fresh copy only, never on a post in use. (Reading ``post.__dict__`` makes CPython give
    ``post`` a real dict if it kept its values inline; nothing observable about it changes.)
    """
    if not _PLAIN_POST or type(post) is not Post:
        return dataclasses.replace(post, categories=categories, tags=tags)
    state = post.__dict__.copy()  # a plain copy is several times faster than {**d, k: v}
    state["categories"] = categories
    state["tags"] = tags
    new = object.__new__(Post)
    object.__setattr__(new, "__dict__", state)
    return new


#: The re-spelled copies :func:`group_posts` made last time: ``id(post) -> (post, copy)``
#: (the post is held so its id cannot be reused while it is a key).
RespellMemo = dict[int, tuple[Post, Post]]


def group_posts(
    posts: Sequence[Post],
    slug_registry: Mapping[str, str],
    *,
    memo: RespellMemo | None = None,
    remember: RespellMemo | None = None,
) -> tuple[list[FeedGroup], dict[str, str]]:
    """All / per-category / per-tag / per-author groups, and the registry to persist next.

    Names merge on :func:`normalize_name`; a group is named by its most used spelling, ties going
    to the spelling of the oldest post (date, then id) so the choice does not depend on the order
    the posts were passed in and does not flip when new posts arrive. Posts are returned with
    their categories and tags spelled that way, so an entry's ``<category>`` matches the title of
    the feed it links to. The ``all`` group is always present, even with no posts, so the site
    feed never disappears. Returned registry: the input's entries (vanished names included, see
    the module docstring; invalid values dropped) plus the new names' slugs.

    ``memo`` (the previous call's ``remember``, kept by the running service) hands back the
    very copy made last time when the same post object needs the same spellings again: an
    equal object either way, but later steps recognise unchanged posts by identity.
    """
    registry: dict[str, str] = {str(k): v for k, v in slug_registry.items()}
    newest = _newest_first(posts)

    # Posting lists per spelling, of indices into ``newest``: built in order, so newest first.
    cat_lists: dict[str, list[int]] = {}
    tag_lists: dict[str, list[int]] = {}
    for i, post in enumerate(newest):
        for name in post.categories:
            try:
                cat_lists[name].append(i)
            except KeyError:
                cat_lists[name] = [i]
        for name in post.tags:
            try:
                tag_lists[name].append(i)
            except KeyError:
                tag_lists[name] = [i]
    cats = _merge(cat_lists, newest, CATEGORIES)
    tags = _merge(tag_lists, newest, TAGS)
    # Authors merge like tags (case and width variants are one author) but posts are never
    # re-spelled for them: an entry names its authors as the post does.
    author_lists: dict[str, list[int]] = {}
    for i, post in enumerate(newest):
        for name in author_names(post):
            author_lists.setdefault(name, []).append(i)
    authors = _merge(author_lists, newest, author_names)

    # Copy only the posts that hold a spelling other than a display name (or need the exact
    # rules); all others are returned as they came.
    exact = cats.exact | tags.exact
    cat_holders, tag_holders = cats.holders(cat_lists), tags.holders(tag_lists)
    cat_canon, tag_canon = cats.canon.__getitem__, tags.canon.__getitem__
    copies: dict[int, Post] = {}  # id(post) -> its copy, so a post passed twice stays one object
    for i in cat_holders | tag_holders | exact:  # each index once: re-spelled in place
        post = newest[i]
        new_cats, new_tags = post.categories, post.tags
        if i in exact:
            new_cats = _canonical(new_cats, cats.display)
            new_tags = _canonical(new_tags, tags.display)
            if new_cats == post.categories and new_tags == post.tags:
                continue
        else:  # no repeats, no dropped names: a name-by-name mapping, and a holder changes
            if i in cat_holders:
                new_cats = tuple(map(cat_canon, new_cats))
            if i in tag_holders:
                new_tags = tuple(map(tag_canon, new_tags))
        copy = copies.get(id(post))
        if copy is None:
            hit = memo.get(id(post)) if memo is not None else None
            if (
                hit is not None
                and hit[0] is post
                and hit[1].categories == new_cats
                and hit[1].tags == new_tags
            ):
                copy = hit[1]
            else:
                copy = respelled_copy(post, new_cats, new_tags)
            copies[id(post)] = copy
            if remember is not None:
                remember[id(post)] = (post, copy)
        newest[i] = copy

    groups = [FeedGroup("all", ALL, ALL, ALL, tuple(newest))]
    for kind, merged in (("category", cats), ("tag", tags), ("author", authors)):
        slugs = assign_slugs(kind, list(merged.buckets), registry)
        kind_groups = [
            FeedGroup(kind, key, merged.display[key], slugs[key], _pick(newest, bucket))  # type: ignore[arg-type]
            for key, bucket in merged.buckets.items()
        ]
        kind_groups.sort(key=lambda g: g.slug)
        groups.extend(kind_groups)
    return groups, registry


def distinct_names(names: Sequence[str]) -> list[tuple[str, str]]:
    """(name, merge key) for the first spelling of each key; names with an empty key dropped.

    Grouping and re-spelling must agree on which names count, so both follow this: literally
    where a post repeats a key or holds a dropped name, and through :func:`_merge`'s shortcut,
    which equals it whenever no post does, everywhere else."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in names:
        key = normalize_name(name)
        if key and key not in seen:
            seen.add(key)
            out.append((name, key))
    return out


def _canonical(names: Sequence[str], display: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(display[key] for _, key in distinct_names(names))
