"""What a show's feed page says: that it is a podcast, its cover, and "open in" links.

Plain links only (no third-party scripts or badges): each app's own documented way to
subscribe to a feed URL. Apple Podcasts opens a feed given as ``podcast://`` + the URL without
its scheme; Overcast, Pocket Casts and AntennaPod have subscribe links taking the feed URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.podcast.show import cover_url, show_for

__all__ = ["app_links", "podcast_context"]


def app_links(feed_url: str) -> list[dict[str, str]]:
    bare = feed_url.split("://", 1)[-1]
    q = quote(feed_url, safe="")
    return [
        {"app": "Apple Podcasts", "url": f"podcast://{bare}"},
        {"app": "Overcast", "url": f"overcast://x-callback-url/add?url={q}"},
        {"app": "Pocket Casts", "url": f"pktc://subscribe/{bare}"},
        {"app": "AntennaPod", "url": f"https://antennapod.org/deeplink/subscribe?url={q}"},
    ]


def podcast_context(group: FeedGroup, config: Config, url: str) -> dict[str, Any] | None:
    """The template's ``podcast`` value (``url``: the show's RSS); ``None``: not a show."""
    show = show_for(group, config.podcasts)
    if show is None or "rss" not in config.feed.formats:
        return None
    return {
        "title": show.title or "",
        "description": show.description or "",
        "cover_url": cover_url(show.image, config) if show.image else None,
        "rss_url": url,
        "apps": app_links(url),
    }
