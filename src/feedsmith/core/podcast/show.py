"""A show's feed, its GUID, its episodes and the chapters files it publishes.

Why the show's RSS lists every episode: podcast apps treat a feed as the whole catalogue (an
episode missing from it disappears from the app), and none of them follows RFC 5005 archive
links. So a show's RSS subscription document holds all its episodes, whatever
``feed.max_entries``, and carries no ``prev-archive`` link; its Atom and JSON documents (and
the RSS archive pages, still published for readers that followed them before) keep their
normal, archived form.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from feedsmith.core.config import Config, PodcastShow
from feedsmith.core.groups import FeedGroup
from feedsmith.core.naming import normalize_name
from feedsmith.core.podcast.episode import Episode, Finding, read_episode

__all__ = [
    "PODCAST_GUID_NAMESPACE",
    "ShowPlan",
    "chapters_file",
    "chapters_json",
    "cover_url",
    "default_guid",
    "fit",
    "plan_show",
    "show_for",
]

#: The Podcast Index namespace's fixed namespace for ``podcast:guid`` (UUID v5).
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def show_for(group: FeedGroup, shows: Sequence[PodcastShow]) -> PodcastShow | None:
    """The show this feed is (a subscription document's group; archive pages are not shows)."""
    if group.paging is not None and group.paging.page:
        return None
    for show in shows:
        if show.kind != group.kind:
            continue
        if group.kind == "all" or normalize_name(show.name) == group.key:
            return show
    return None


def default_guid(feed_url: str) -> str:
    """The Podcast Index's GUID for a feed URL: UUID v5 of it without scheme and trailing
    slashes (``example.com/feeds/all.rss.xml``)."""
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def cover_url(image: str, config: Config) -> str:
    """A show's ``image:`` as a URL: as given, a site path, or a file under ``media_dir``."""
    if "://" in image:
        return image
    if image.startswith("/"):
        return config.site.url + image
    return f"{config.site.url}/media/{image}"


@dataclass(frozen=True)
class ShowPlan:
    """What the show's RSS is made of: its episodes (newest first, all of them), its GUID,
    the chapters files to publish (path → bytes) and what ``check`` says about them."""

    show: PodcastShow
    group: FeedGroup
    guid: str
    episodes: tuple[Episode, ...]
    chapters: dict[str, bytes]
    findings: tuple[Finding, ...]


def plan_show(
    show: PodcastShow, group: FeedGroup, config: Config, guid: str, base: str
) -> ShowPlan:
    """Every post of the feed that has an enclosure, as an episode. ``base``: the feed's
    files' name without suffix (:func:`feedsmith.core.layout.feed_base`), where its chapters
    files go."""
    findings: list[Finding] = []
    episodes: list[Episode] = []
    chapters: dict[str, bytes] = {}
    for post in group.posts:
        if not post.enclosures:
            continue  # in the blog's feeds, not an episode
        episode, found = read_episode(post, config.site.url, config.media_dir is not None)
        findings.extend(found)
        if episode.chapter_list:
            rel = chapters_file(base, post.slug)
            chapters[rel] = chapters_json(episode)
        episodes.append(episode)
    return ShowPlan(show, group, guid, tuple(episodes), chapters, tuple(findings))


def chapters_file(base: str, slug: str) -> str:
    """``tags/show.chapters/<post slug>.json``: beside the feed, one per episode."""
    return f"{base}.chapters/{slug}.json"


def chapters_json(episode: Episode) -> bytes:
    """The Podcast Index's JSON chapters format (version 1.2.0), key order fixed."""
    data = {
        "version": "1.2.0",
        "chapters": [
            {"startTime": int(c.start) if c.start.is_integer() else c.start, "title": c.title}
            for c in episode.chapter_list
        ],
    }
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


def fit(text: str, *, chars: int | None = None, max_bytes: int | None = None) -> str:
    """``text`` cut to at most ``chars`` characters and ``max_bytes`` UTF-8 bytes, on a
    character boundary (never half a multi-byte character)."""
    if chars is not None and len(text) > chars:
        text = text[:chars]
    if max_bytes is not None:
        data = text.encode("utf-8")
        if len(data) > max_bytes:
            text = data[:max_bytes].decode("utf-8", "ignore")
    return text
