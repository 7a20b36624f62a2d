"""Hub discovery (WebSub §4): where a subscriber learns the hubs and the topic URL.

The topic URL is exactly the subscription document's ``rel=self`` URL, as the Recommendation
asks, so the hub, the publisher and the subscriber all compare the same string. Only
subscription documents are topics: RFC 5005 archive pages are stable by design and a push of
one would never be news, so they advertise no hub.

With no hub configured nothing here adds a byte: feeds stay identical to those of before. The
links inside the documents are written by the renderers (:mod:`feedsmith.core.render.hubs`);
this module keeps what needs published URLs: the ``Link`` header of feed responses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from feedsmith.core.config import Config
from feedsmith.core.layout import feed_url

__all__ = ["link_for", "link_header"]


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
