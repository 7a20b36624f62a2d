"""Hub discovery inside feed documents (WebSub §4): ``rel=hub`` links and JSON Feed ``hubs``.

Only subscription documents are topics: RFC 5005 archive pages are stable by design and a push
of one would never be news, so they advertise no hub. With no hub configured nothing here adds a
byte: feeds stay identical to those of before. (The ``Link`` header of feed responses is
:mod:`feedsmith.core.discovery`'s: it needs published URLs, which renderers are handed.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup

__all__ = ["HubExtension", "NoHubEntryExtension", "doc_hubs", "json_hubs"]

ATOM_NS = "http://www.w3.org/2005/Atom"


def doc_hubs(group: FeedGroup, config: Config) -> tuple[str, ...]:
    """The hubs a document advertises: only subscription documents are WebSub topics."""
    if group.paging is not None and group.paging.is_archive:
        return ()
    return config.hub_urls


class HubExtension:
    """A feedgen extension writing ``<atom:link rel="hub">`` into an RSS channel (feedgen
    writes only ``rel=self`` there). Atom documents get their hub links from ``fg.link``."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, rss: Any) -> Any:
        channel = rss[0]
        for href in self.hubs:
            channel.append(channel.makeelement(f"{{{ATOM_NS}}}link", {"href": href, "rel": "hub"}))
        return rss


class NoHubEntryExtension:
    """The entry half feedgen asks every extension for: entries carry no hub."""

    def extend_atom(self, entry: Any) -> Any:
        return entry

    def extend_rss(self, item: Any) -> Any:
        return item


def json_hubs(hubs: Sequence[str]) -> list[dict[str, str]]:
    """JSON Feed 1.1 ``hubs``: the type is the protocol's name."""
    return [{"type": "WebSub", "url": hub} for hub in hubs]
