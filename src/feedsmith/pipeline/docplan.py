"""A group's documents as :class:`~feedsmith.pipeline.plan.RenderPlanner` worked them out: each
document's memo (files, signature, manifest line) and, per group, the whole of it at once.

Apart from the planner's loop because this is what a build leaves for the next: in the service
most groups are the very objects they were (regrouping keeps untouched groups), and a
:class:`GroupPlan` lets such a group's documents be taken over in a few dictionary updates,
not looked at one by one (~5,000 documents at 10,000 posts, for an edit that touches ~30).
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from operator import is_
from typing import NamedTuple
from urllib.parse import quote

from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import feed_files, feed_page_file, iso_seconds, page_file
from feedsmith.core.model import Post
from feedsmith.core.podcast.show import show_for
from feedsmith.pipeline.docrows import GroupMemo
from feedsmith.pipeline.signatures import json_text, post_line
from feedsmith.publish.output import FeedInfo

#: id(post) -> (post, its line of a signature); each value holds its post (see :func:`line`).
Lines = dict[int, tuple[Post, str]]


class Doc(NamedTuple):
    """One document of a feed (its subscription document first, then its archive pages)."""

    doc: FeedGroup
    shown: tuple[Post, ...]
    sig_key: str


class GroupPlan(NamedTuple):
    """A group's documents and their memos as one build left them.

    Valid for the next build while ``group`` is the very object planned (so are its posts,
    and so its documents' signatures) and none of ``rels`` was touched on disk since: then
    every document is kept as it was published, with the signature the state recorded."""

    group: FeedGroup
    docs: list[Doc]
    memos: dict[str, GroupMemo]  # sig_key -> memo, in document order
    signatures: dict[str, str]  # sig_key -> memo.signature
    paths: tuple[str, ...]  # every document's files, in document order
    rels: frozenset[str]


def group_plan(group: FeedGroup, docs: list[Doc], memos: dict[str, GroupMemo]) -> GroupPlan:
    """The :class:`GroupPlan` of ``group`` once each of its documents has its memo."""
    mine = {d.sig_key: memos[d.sig_key] for d in docs}
    paths = tuple(rel for memo in mine.values() for rel in memo.paths.values())
    sigs = {key: memo.signature for key, memo in mine.items()}
    return GroupPlan(group, docs, mine, sigs, paths, frozenset(paths))


def resplit(known: GroupPlan, group: FeedGroup, page_size: int) -> list[Doc] | None:
    """``group``'s documents from those of ``known``, when ``group`` is a new object for the
    same feed with as many posts (an edited post is a new object, so is every group showing
    it): archive pages are cut by position (:func:`~feedsmith.core.archive.archive_groups`),
    so each page whose posts are the very objects it held is that very :class:`Doc`, and only
    the page holding the edit is made again — not ~500 pages of the site feed at 10,000
    posts. ``None`` when the split may differ (another count, name or slug)."""
    old = known.group
    if (
        len(old.posts) != len(group.posts)
        or old.name != group.name
        or old.slug != group.slug
        or old.paging != group.paging
    ):
        return None
    posts, total = group.posts, len(group.posts)
    first = known.docs[0]
    sub = group if first.doc is old else dataclasses.replace(group, paging=first.doc.paging)
    docs = [Doc(sub, posts[: len(first.shown)], first.sig_key)]
    for doc in known.docs[1:]:
        paging = doc.doc.paging
        assert paging is not None  # an archive page
        n = paging.page
        chunk = posts[total - n * page_size : total - (n - 1) * page_size]
        if all(map(is_, chunk, doc.doc.posts)):
            docs.append(doc)
        else:
            page = dataclasses.replace(group, posts=chunk, paging=paging)
            docs.append(Doc(page, chunk[: len(doc.shown)], doc.sig_key))
    return docs


def line(post: Post, lines: Lines, previous: Lines) -> str:
    """:func:`post_line`, memoised in ``lines`` for this build and ``previous`` for the
    last one (keyed by object id; each value holds its post, so an id is never reused while
    it is a key, and a line is used only for that very object)."""
    memo = lines.get(id(post))
    if memo is None:
        memo = previous.get(id(post))
        if memo is None or memo[0] is not post:
            memo = (post, post_line(post))
        lines[id(post)] = memo
    return memo[1]


def group_memo(
    config: Config,
    fingerprint: str,
    group: FeedGroup,
    shown: tuple[Post, ...],
    lines: Lines,
    previous: Lines,
    *,
    pages: bool,
    shows: bool,
) -> GroupMemo:
    """A document's files, signature and manifest line, worked out from scratch.

    The signature is what the feed's files are a function of: config, the group's identity
    and its shown posts (only the newest ``max_entries`` are ever rendered), each as its
    :func:`post_line`. ``pages``: feed pages are on; ``shows``: podcasts are configured."""
    formats = config.feed.formats
    paths = feed_files(group, formats)
    identity = [group.kind, group.key, group.name, group.slug, sorted(paths.items())]
    paging = group.paging
    if paging is not None:
        identity.append([paging.page, paging.prev, paging.next])
    parts = [json_text([fingerprint, *identity])]
    parts.extend(line(post, lines, previous) for post in shown)
    signature = hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    newest = max((p.updated for p in shown), default=None)
    info = FeedInfo(
        kind=group.kind,
        name=group.name,
        slug=group.slug,
        entries=len(shown),
        updated=iso_seconds(newest) if newest else None,
        urls={fmt: "/feeds/" + quote_path(rel) for fmt, rel in paths.items()},
        files=tuple(paths.values()),
        # A subscription document's archive pages, oldest first (paging.prev of them).
        archives=tuple(
            page_file(group, fmt, n)
            for n in range(1, (paging.prev if paging and not paging.page else 0) + 1)
            for fmt in formats
        ),
        page=(feed_page_file(group) if pages and (paging is None or not paging.page) else None),
    )
    if shows and show_for(group, config.podcasts) is not None:
        # A show's RSS is all its episodes, planned by ShowRenders: not this document's.
        paths = {fmt: rel for fmt, rel in paths.items() if fmt != "rss"}
    return GroupMemo(
        group.kind,
        group.name,
        group.slug,
        shown,
        paths,
        signature,
        info,
        newest,
        paging,
        key=group.key,
    )


@lru_cache(maxsize=16384)  # feed paths repeat every build; quote() is ~5 µs each
def quote_path(rel: str) -> str:
    return quote(rel, safe="/")
