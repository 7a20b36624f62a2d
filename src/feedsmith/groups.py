"""Grouping: the site feed, one feed per category and one per tag, with stable slugs.

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
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from feedsmith.model import Post

Kind = Literal["all", "category", "tag"]

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


def _bare_slug(name: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
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
    if unicodedata.normalize("NFKC", slug) != slug:
        return False
    return all(ch == "-" or _slug_char(ch) for ch in slug)


@dataclass(frozen=True)
class FeedGroup:
    """One feed's worth of posts. ``posts`` are newest first (date desc, then id asc), all of
    them: renderers cut to ``max_entries``."""

    kind: Kind
    key: str
    name: str
    slug: str
    posts: tuple[Post, ...]


def _newest_first(posts: Sequence[Post]) -> list[Post]:
    ordered = sorted(posts, key=lambda p: p.id)
    ordered.sort(key=lambda p: p.date, reverse=True)  # stable: equal dates stay in id order
    return ordered


@dataclass
class _Bucket:
    spellings: dict[str, int]
    posts: list[Post]


def _display_name(spellings: dict[str, int]) -> str:
    # dict order is first-seen (oldest post first); max() keeps the first of equal counts.
    return max(spellings.items(), key=lambda item: item[1])[0]


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
        candidates = [bare, f"{bare}-{_short_hash(key)}", f"{bare}-{_short_hash(key, 16)}"]
        slug = next((c for c in candidates if c not in taken), None)
        counter = 2
        while slug is None:  # only reachable through hash collisions or adversarial names
            candidate = f"{bare}-{_short_hash(key)}-{counter}"
            slug = candidate if candidate not in taken else None
            counter += 1
        taken[slug] = key
        registry[reg_key] = slug
        result[key] = slug
    return result


def group_posts(
    posts: Sequence[Post], slug_registry: Mapping[str, str]
) -> tuple[list[FeedGroup], dict[str, str]]:
    """All / per-category / per-tag groups, and the registry to persist for the next build.

    Names merge on :func:`normalize_name`; a group is named by its most used spelling, ties going
    to the spelling of the oldest post (date, then id) so the choice does not depend on the order
    the posts were passed in and does not flip when new posts arrive. Posts are returned with
    their categories and tags spelled that way, so an entry's ``<category>`` matches the title of
    the feed it links to. The ``all`` group is always present, even with no posts, so the site
    feed never disappears. Returned registry: the input's entries (vanished names included, see
    the module docstring; invalid values dropped) plus the new names' slugs.
    """
    registry: dict[str, str] = {str(k): v for k, v in slug_registry.items()}
    chronological = sorted(posts, key=lambda p: p.id)
    chronological.sort(key=lambda p: p.date)

    buckets: dict[str, dict[str, _Bucket]] = {"category": {}, "tag": {}}
    for post in chronological:
        for kind, names in (("category", post.categories), ("tag", post.tags)):
            for name, key in _distinct(names):
                bucket = buckets[kind].setdefault(key, _Bucket({}, []))
                bucket.spellings[name] = bucket.spellings.get(name, 0) + 1
                bucket.posts.append(post)

    display = {
        kind: {key: _display_name(b.spellings) for key, b in by_key.items()}
        for kind, by_key in buckets.items()
    }

    canonical: dict[int, Post] = {}
    for post in chronological:
        categories = _canonical(post.categories, display["category"])
        tags = _canonical(post.tags, display["tag"])
        if categories != post.categories or tags != post.tags:
            canonical[id(post)] = dataclasses.replace(post, categories=categories, tags=tags)

    def final(items: Sequence[Post]) -> tuple[Post, ...]:
        return tuple(canonical.get(id(p), p) for p in _newest_first(items))

    groups = [FeedGroup("all", ALL, ALL, ALL, final(chronological))]
    for kind in ("category", "tag"):
        slugs = _assign_slugs(kind, list(buckets[kind]), registry)
        kind_groups = [
            FeedGroup(kind, key, display[kind][key], slugs[key], final(bucket.posts))  # type: ignore[arg-type]
            for key, bucket in buckets[kind].items()
        ]
        kind_groups.sort(key=lambda g: g.slug)
        groups.extend(kind_groups)
    return groups, registry


def _distinct(names: Sequence[str]) -> list[tuple[str, str]]:
    """(name, merge key) for the first spelling of each key; names with an empty key dropped.

    Grouping and re-spelling must agree on which names count, so both go through here."""
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
