"""Hub discovery (WebSub §4): where a subscriber learns the hubs and the topic URL.

The topic URL is exactly the subscription document's ``rel=self`` URL, as the Recommendation
asks, so the hub, the publisher and the subscriber all compare the same string. Only
subscription documents are topics: RFC 5005 archive pages are stable by design and a push of
one would never be news, so they advertise no hub.

With no hub configured nothing here adds a byte: feeds stay identical to those of before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from feedsmith.config import Config
from feedsmith.core.layout import feed_url

__all__ = ["HubExtension", "json_hubs", "link_for", "link_header"]

ATOM_NS = "http://www.w3.org/2005/Atom"


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


def link_header(hubs: Sequence[str], self_url: str) -> str:
    """``Link: <hub>; rel="hub", <topic>; rel="self"`` (WebSub §4, RFC 8288)."""
    parts = [f'<{hub}>; rel="hub"' for hub in hubs]
    parts.append(f'<{self_url}>; rel="self"')
    return ", ".join(parts)


def link_for(config: Config) -> Callable[[str], str] | None:
    """``rel -> Link header`` for the web workers' feed responses, ``None`` without hubs (the
    responses then stay exactly what they were)."""
    hubs = config.hub_urls
    if not hubs:
        return None
    return lambda rel: link_header(hubs, feed_url(config, rel))
