"""Grouping: the site feed, one feed per category, per tag and per author, with stable slugs.

A slug becomes a URL that people subscribe to, so it must never change while its name exists
and must never be handed to a *different* name: a reader subscribed to ``tags/c.atom.xml`` for
``C++`` must not silently start receiving ``C#`` posts. That is why slugs live in a registry that
the build persists between runs, and why this module keeps registry entries of names that have
vanished (their slug stays reserved, the output step answers 410 for the old feed, and the name
gets the same slug back if it reappears). The registry only grows by one short entry per name
ever seen, which is cheap.

Everything here is pure and independent of the input order, so the same posts always give the
same groups, names and slugs (the build's byte-identical-output promise depends on it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import chain
from operator import attrgetter, itemgetter, lt
from typing import Literal

from feedsmith.core.model import Post
from feedsmith.core.paging import Paging

Kind = Literal["all", "category", "tag", "author"]

#: The "all" group's fixed key, name and slug (its files are ``all.*``, outside the folders).
ALL = "all"

# Bounds that keep ``<slug>.atom.xml.gz`` well below NAME_MAX (255 bytes) even for CJK names
# (3 bytes a character) after a ``-<hash>`` suffix is added.
MAX_SLUG_CHARS = 80
MAX_SLUG_BYTES = 180
_HASH_LEN = 8
# Room for a collision suffix after a full-length slug: "-" + 16 hex, or "-" + 8 hex + "-N".
_SUFFIX_ROOM = 24


@lru_cache(maxsize=65536)  # ~800 distinct names, looked up ~100k times per build
def normalize_name(name: str) -> str:
    """The merge key: ``AI``, ``ai`` and ``ＡＩ`` are one tag.

    NFKC is applied again after casefolding because casefolding can produce decomposed or
    compatibility characters (e.g. ``ǰ``); the result is then idempotent.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def _short_hash(key: str, length: int = _HASH_LEN) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]


def _slug_char(ch: str) -> bool:
    # Letters, digits (all of N) and marks (so scripts with combining marks keep them).
    return unicodedata.category(ch)[0] in "LNM"


# Shortcuts for _slug_char over a whole string, in C (slugs are made and checked ~800 times a
# build): in ASCII, letters and digits are exactly the characters of categories L, N and M;
# beyond, every ``isalnum()`` character is in L or N (a test checks every code point), so an
# ``isalnum()`` string is all slug characters (the converse does not hold: marks).
_ASCII_NON_SLUG_RUN = re.compile(r"[^0-9A-Za-z]+")


def _bare_slug(name: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    if text.isascii():
        return _ASCII_NON_SLUG_RUN.sub("-", text).strip("-")
    if text.isalnum():
        return text
    out: list[str] = []
    dash = False
    for ch in text:
        if _slug_char(ch):
            out.append(ch)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def _fits(slug: str) -> bool:
    return len(slug) <= MAX_SLUG_CHARS and len(slug.encode("utf-8")) <= MAX_SLUG_BYTES


def slugify(name: str) -> str:
    """A safe, single path segment for a name; never empty.

    Letters, digits and marks are kept (``最新ニュース`` stays Japanese), every other run becomes
    ``-``. A name with nothing left (``+++``, ``#``) gets ``h-<hash>``; a name too long for a file
    name is cut and gets ``-<hash>``, so two long names sharing a prefix still differ. The hash is
    of :func:`normalize_name`, so names that merge share a slug.
    """
    key = normalize_name(name)
    slug = _bare_slug(key)
    if not slug:
        return f"h-{_short_hash(key)}"
    if _fits(slug):
        return slug
    cut = slug[:MAX_SLUG_CHARS]
    while len(cut.encode("utf-8")) > MAX_SLUG_BYTES - (_HASH_LEN + 1):
        cut = cut[:-1]
    # Do not leave a combining mark without its base, nor a trailing dash.
    while cut and unicodedata.category(cut[-1])[0] == "M":
        cut = cut[:-1]
    cut = cut.rstrip("-")
    return f"{cut}-{_short_hash(key)}" if cut else f"h-{_short_hash(key)}"


def is_safe_slug(slug: object) -> bool:
    """True for what :func:`slugify` (plus a collision suffix) can produce.

    Registry values are read back from a file on disk; anything else (``..``, ``a/b``, junk from
    a hand edit) is not trusted as a path segment and is reassigned.
    """
    if not isinstance(slug, str) or not slug or slug != slug.strip("-"):
        return False
    if len(slug.encode("utf-8")) > MAX_SLUG_BYTES + _SUFFIX_ROOM:
        return False
    if slug.isascii():  # (ASCII is NFKC-normal)
        return slug.replace("-", "").isalnum()
    if unicodedata.normalize("NFKC", slug) != slug:
        return False
    return slug.replace("-", "").isalnum() or all(ch == "-" or _slug_char(ch) for ch in slug)


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
# re-spelling then work per *name*, falling back to the literal per-post rules (``_distinct``)
# only for the keys and posts where the shortcut could differ; only posts that need new
# spellings are copied, and more cheaply than by ``dataclasses.replace``. tests/test_groups.py
# checks the result against a literal implementation of the rules on generated posts.

_DATE = attrgetter("date")
_ID = attrgetter("id")
_CATEGORIES = attrgetter("categories")
_TAGS = attrgetter("tags")


def _author_names(post: Post) -> tuple[str, ...]:
    """The names that put ``post`` in author feeds: none when it only has the site default."""
    if post.default_author:
        return ()
    return tuple(author.name for author in post.authors)


# The re-spelling shortcut (``_respelled``) is the same as ``dataclasses.replace`` only while
# Post stays a plain dataclass: no ``__post_init__``, every field set by ``__init__``, an
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


def _display_name(spellings: dict[str, int]) -> str:
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

    Which names count is what :func:`_distinct` says: a post's first spelling of each key,
    names with an empty key dropped. When no post repeats a key, the posting lists merged are
    the groups and a list's length is its spelling's count. For a key where a post repeats it,
    or where spellings tie on the count (the oldest post decides), the key's posts are counted
    one by one through :func:`_distinct`, oldest first, exactly like the rule says; posts that
    repeat a key or hold a dropped name go to ``exact`` (re-spelled through :func:`_canonical`).
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
            distinct = _distinct(names_i)
            if len(distinct) != len(names_i):
                exact.add(i)
            counted_name = next(name for name, k in distinct if k == key)
            counted[counted_name] = counted.get(counted_name, 0) + 1
        buckets[key] = bucket
        display[key] = shown = _display_name(counted)
        respelled.extend(name for name in names if name != shown)
    canon = {name: name for name in by_name}
    canon.update((name, display[normalize_name(name)]) for name in respelled)
    return _Merged(buckets, display, canon, frozenset(respelled), exact)


def _pick(items: list[Post], indices: list[int]) -> tuple[Post, ...]:
    """``tuple(items[i] for i in indices)``, in C (~50,000 picks a build)."""
    if len(indices) == 1:  # itemgetter with one index returns the item, not a tuple
        return (items[indices[0]],)
    return itemgetter(*indices)(items)  # type: ignore[no-any-return]


def _respelled(post: Post, categories: tuple[str, ...], tags: tuple[str, ...]) -> Post:
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


def _assign_slugs(kind: str, keys: Sequence[str], registry: dict[str, str]) -> dict[str, str]:
    """Slugs for ``keys`` (one kind), honouring and extending ``registry`` in place."""
    prefix = f"{kind}:"
    taken: dict[str, str] = {}  # slug -> key holding it
    # Every registered name of this kind keeps (reserves) its slug, present or not. A corrupt
    # registry with two names on one slug: the first key in sorted order keeps it.
    for reg_key in sorted(k for k in registry if k.startswith(prefix)):
        slug = registry[reg_key]
        if is_safe_slug(slug) and slug not in taken:
            taken[slug] = reg_key[len(prefix) :]
        else:
            del registry[reg_key]
    result: dict[str, str] = {}
    for key in sorted(keys):  # deterministic order for names new to the registry
        reg_key = prefix + key
        if reg_key in registry:
            result[key] = registry[reg_key]
            continue
        bare = slugify(key)
        slug = bare  # then, only if taken (hashes are not free): -<hash>, -<longer hash>, ...
        if slug in taken:
            slug = f"{bare}-{_short_hash(key)}"
        if slug in taken:
            slug = f"{bare}-{_short_hash(key, 16)}"
        counter = 2
        while slug in taken:  # only reachable through hash collisions or adversarial names
            slug = f"{bare}-{_short_hash(key)}-{counter}"
            counter += 1
        taken[slug] = key
        registry[reg_key] = slug
        result[key] = slug
    return result


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
    cats = _merge(cat_lists, newest, _CATEGORIES)
    tags = _merge(tag_lists, newest, _TAGS)
    # Authors merge like tags (case and width variants are one author) but posts are never
    # re-spelled for them: an entry names its authors as the post does.
    author_lists: dict[str, list[int]] = {}
    for i, post in enumerate(newest):
        for name in _author_names(post):
            author_lists.setdefault(name, []).append(i)
    authors = _merge(author_lists, newest, _author_names)

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
                copy = _respelled(post, new_cats, new_tags)
            copies[id(post)] = copy
            if remember is not None:
                remember[id(post)] = (post, copy)
        newest[i] = copy

    groups = [FeedGroup("all", ALL, ALL, ALL, tuple(newest))]
    for kind, merged in (("category", cats), ("tag", tags), ("author", authors)):
        slugs = _assign_slugs(kind, list(merged.buckets), registry)
        kind_groups = [
            FeedGroup(kind, key, merged.display[key], slugs[key], _pick(newest, bucket))  # type: ignore[arg-type]
            for key, bucket in merged.buckets.items()
        ]
        kind_groups.sort(key=lambda g: g.slug)
        groups.extend(kind_groups)
    return groups, registry


def _distinct(names: Sequence[str]) -> list[tuple[str, str]]:
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
    return tuple(display[key] for _, key in _distinct(names))


# -- regrouping after a few changes (the service) ---------------------------------------------

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
    return Grouping(groups, registry, outputs, inputs, where)


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
    """
    if slug_registry is not last.registry:
        return None
    fresh = {id(p): p for p in posts}
    if len(fresh) != len(posts):
        return None
    outputs = last.outputs
    removed = [pair for key, pair in outputs.items() if key not in fresh]
    added = [p for key, p in fresh.items() if key not in outputs]
    if not removed and not added:
        return list(last.groups), dict(last.registry), last
    if len(removed) + len(added) > REGROUP_LIMIT:
        return None
    touched: set[tuple[str, str]] = set()
    for post in [p for p, _ in removed] + added:
        kinds = (("category", post.categories), ("tag", post.tags), ("author", _author_names(post)))
        for kind, names in kinds:
            distinct = _distinct(names)
            if len(distinct) != len(names):
                return None
            for _, key in distinct:
                if (kind, key) not in last.where:
                    return None
                touched.add((kind, key))
    groups = list(last.groups)
    display = {(g.kind, g.key): g.name for g in groups if g.kind != ALL}

    # Added posts as the groups hold them: every name spelled as its group's display name.
    held_new: dict[int, Post] = {}
    for post in added:
        cats = tuple(display["category", k] for _, k in _distinct(post.categories))
        tags = tuple(display["tag", k] for _, k in _distinct(post.tags))
        same = cats == post.categories and tags == post.tags
        held_new[id(post)] = post if same else _respelled(post, cats, tags)
    gone = {id(out) for _, out in removed}

    removed_inputs = [post for post, _ in removed]
    for kind_key in sorted(touched):
        kind, key = kind_key
        at = last.where[kind_key]
        old = groups[at]
        names_of = {"category": _CATEGORIES, "tag": _TAGS}.get(kind, _author_names)
        kept = [p for p in old.posts if id(p) not in gone]
        joining = [p for p in added if any(k == key for _, k in _distinct(names_of(p)))]
        if not kept and not joining:
            return None  # the group vanishes: slugs and the group list change
        leaving = [p for p in removed_inputs if any(k == key for _, k in _distinct(names_of(p)))]
        if not _keeps_display(old.name, key, leaving, joining, names_of):
            # Counted again by the rule, over the inputs (their own spellings), oldest first.
            members = [last.inputs[id(p)] for p in kept] + joining
            counted: dict[str, int] = {}
            for post in sorted(members, key=_date_id):
                name = next(n for n, k in _distinct(names_of(post)) if k == key)
                counted[name] = counted.get(name, 0) + 1
            if _display_name(counted) != old.name:
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

    new_outputs = dict(outputs)
    new_inputs = dict(last.inputs)
    for post, out in removed:
        del new_outputs[id(post)]
        del new_inputs[id(out)]
    for post in added:
        out = held_new[id(post)]
        new_outputs[id(post)] = (post, out)
        new_inputs[id(out)] = post
    registry = dict(last.registry)
    return groups, registry, Grouping(groups, registry, new_outputs, new_inputs, last.where)


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
        return (*_date_id(post), next(n for n, k in _distinct(names_of(post)) if k == key))

    going = sorted(map(spelled, leaving))
    coming = sorted(map(spelled, joining))
    if going == coming:
        return True
    return len(coming) > len(going) and all(s[2] == display for s in going + coming)


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
