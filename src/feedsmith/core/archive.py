"""RFC 5005 archives: how a feed's posts are cut into archive pages (pure).

A feed's subscription document shows its newest ``max_entries`` posts. When it has more, the
rest stay reachable through *archive documents*: pages of ``archive_page_size`` posts numbered
from the **oldest** (page 1 holds the feed's first posts), and only full pages exist. Why
oldest-first and full-only: a new post never moves a post from one page to another, so a full
page's entries never change when a post is published (RFC 5005 §4 asks archive documents to
be stable, and a CDN can keep them). The newest posts that do not fill a page yet
(fewer than ``archive_page_size``, so at most ``max_entries``) are only in the subscription
document, which is why the page size may not exceed ``max_entries``.

Every published post is therefore in the subscription document or in exactly one page; a
client that follows ``prev-archive`` from the subscription document (JSON Feed: ``next_url``)
sees them all. What does change a page: an edit of a post on it, a removal or a back-dated
post (which shift the posts after it), and — once — the page that was newest, when the next
page fills and it gains its ``next-archive`` link. A feed with no more posts than
``max_entries`` is *complete* (RFC 5005 §2): ``<fh:complete/>`` and no archives.

What a page's entries carry is ``feed.archive_content`` (summaries by default, see
:func:`feedsmith.core.documents.document_config`): pages hold every post of a feed, so they are
most of a site's bytes, and a reader backfilling history follows the link for the text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from feedsmith.core.config import FeedConfig
from feedsmith.core.groups import FeedGroup
from feedsmith.core.paging import Paging

__all__ = [
    "FH_NS",
    "HistoryExtension",
    "NoEntryExtension",
    "archive_groups",
    "archive_links",
]

FH_NS = "http://purl.org/syndication/history/1.0"


def archive_groups(group: FeedGroup, feed: FeedConfig) -> tuple[FeedGroup, list[FeedGroup]]:
    """The subscription document's group (with its :class:`Paging`) and one group per archive
    page, oldest page first, each holding that page's posts newest first.

    With archives off, the group comes back as it was (no paging: the documents are what they
    were before archives existed) and there are no pages.
    """
    if not feed.archive:
        return group, []
    posts = group.posts  # newest first
    total = len(posts)
    if total <= feed.max_entries:
        return dataclasses.replace(group, paging=Paging(0)), []
    size = feed.archive_page_size
    full = total // size
    pages = []
    for number in range(1, full + 1):
        # Page n holds the n-th ``size`` posts counted from the oldest.
        chunk = posts[total - number * size : total - (number - 1) * size]
        paging = Paging(number, number - 1, number + 1 if number < full else 0)
        pages.append(dataclasses.replace(group, posts=chunk, paging=paging))
    return dataclasses.replace(group, paging=Paging(0, full)), pages


def archive_links(paging: Paging, url_of: Callable[[int], str]) -> list[tuple[str, str]]:
    """``(rel, href)`` of a document's RFC 5005 links besides ``self``; ``url_of(n)`` is the
    URL of page ``n`` in the same format (``0``: the subscription document)."""
    links = []
    if paging.is_archive:
        links.append(("current", url_of(0)))
    if paging.prev:
        links.append(("prev-archive", url_of(paging.prev)))
    if paging.next:
        links.append(("next-archive", url_of(paging.next)))
    return links


class HistoryExtension:
    """A feedgen extension for the ``fh:`` marker (``archive`` or ``complete``) and, in RSS,
    the archive ``atom:link``\\ s, which feedgen writes only for Atom (RFC 5005 appendix B puts
    the same links in an RSS channel). Registered only for documents of an archived feed, so
    with archives off the documents are byte for byte what they were before."""

    ATOM_NS = "http://www.w3.org/2005/Atom"

    def __init__(self) -> None:
        self.paging = Paging(0)
        self.links: list[tuple[str, str, str]] = []  # (rel, href, type) for the RSS channel

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS}

    def _marker(self, parent: Any) -> None:
        if self.paging.is_archive or self.paging.complete:
            name = "archive" if self.paging.is_archive else "complete"
            parent.append(parent.makeelement(f"{{{FH_NS}}}{name}", {}))

    def extend_atom(self, feed: Any) -> Any:
        self._marker(feed)
        return feed

    def extend_rss(self, rss: Any) -> Any:
        channel = rss[0]
        for rel, href, mime in self.links:
            attrib = {"href": href, "rel": rel, "type": mime}
            channel.append(channel.makeelement(f"{{{self.ATOM_NS}}}link", attrib))
        self._marker(channel)
        return rss


class NoEntryExtension:
    """The entry half feedgen asks every extension for: entries carry nothing of the history."""

    def extend_atom(self, entry: Any) -> Any:
        return entry

    def extend_rss(self, item: Any) -> Any:
        return item
