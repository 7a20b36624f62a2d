"""A show's RSS: the feed's RSS 2.0 with the ``itunes:`` and ``podcast:`` namespaces.

Built on the same feedgen generator as every RSS document (:mod:`.atom_rss`), so an episode's
item is the blog's item plus the podcast elements. feedgen's own podcast extension writes what
it writes as Apple asks today (author, owner, categories, type, complete, new-feed-url, block,
duration, season, episode, episodeType); two of its fields it does not: ``itunes:explicit``
(feedgen only knows the old ``yes``/``no``/``clean``; Apple asks for ``true``/``false``) and
``itunes:image`` (feedgen refuses an episode image whose URL does not end in ``.jpg``/``.png``,
which many CDN URLs do not). Those two, and the ``podcast:`` namespace, are written by the small
extensions below. Texts over Apple's limits are cut on a character boundary (``check`` and the
build's report say so: :mod:`feedsmith.core.podcast.checks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from feedsmith.core.config import Config, PodcastShow
from feedsmith.core.podcast.checks import DESCRIPTION_BYTES, TEXT_CHARS
from feedsmith.core.podcast.episode import CHAPTERS_TYPE, Episode, Linked
from feedsmith.core.podcast.show import ShowPlan, cover_url, fit
from feedsmith.core.render import atom_rss
from feedsmith.core.render.common import DocLinks
from feedsmith.core.text import xml_safe

__all__ = ["ITUNES_NS", "PODCAST_NS", "render_show"]

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"


def render_show(
    plan: ShowPlan,
    config: Config,
    links: DocLinks,
    chapter_urls: dict[str, str],
    prepare: Callable[[Episode], Episode] | None = None,
) -> bytes:
    """The show's whole RSS document: every episode, newest first, no archive links.

    ``chapter_urls``: post slug → URL of the chapters file written for it. ``prepare`` gives
    an episode its post's HTML back (the planner keeps posts without it).
    """
    show = plan.show
    episodes = [prepare(e) if prepare else e for e in plan.episodes]
    site = config.site
    cfg = dataclasses.replace(
        config,
        site=dataclasses.replace(
            site,
            description=fit(show.description or site.description, max_bytes=DESCRIPTION_BYTES),
            language=show.language or site.language,
        ),
        feed=dataclasses.replace(config.feed, max_entries=max(1, len(episodes))),
    )
    posts = [_fitted(e.post) for e in episodes]
    group = dataclasses.replace(plan.group, posts=tuple(posts), paging=None)
    fg = atom_rss.show_generator(group, cfg, links.schemes)
    if show.title:
        fg.title(fit(xml_safe(show.title), chars=TEXT_CHARS))
    if show.copyright:
        fg.copyright(xml_safe(show.copyright))
    fg.load_extension("podcast", atom=False, rss=True)
    fg.podcast.itunes_author(_text(show.author or site.author or site.title))
    if show.owner_name or show.owner_email:
        fg.podcast.itunes_owner(
            name=_text(show.owner_name or show.author or site.title), email=show.owner_email or ""
        )
    categories = [{"cat": c, "sub": s} if s else {"cat": c} for c, s in show.categories]
    if categories:
        fg.podcast.itunes_category(categories)
    fg.podcast.itunes_type(show.type)
    if show.complete:
        fg.podcast.itunes_complete(True)
    if show.new_feed_url:
        fg.podcast.itunes_new_feed_url(show.new_feed_url)
    fg.register_extension("podcastns", _ShowNs, _EpisodeNs, atom=False, rss=True)
    fg.podcastns.show = show
    fg.podcastns.guid = plan.guid
    fg.podcastns.cover = cover_url(show.image, config) if show.image else None
    for fe, episode in zip(fg.entry(), episodes, strict=True):
        _fill_episode(fe, episode, chapter_urls)
    return atom_rss.show_rss_bytes(fg, group, cfg, links)


def _text(value: str) -> str:
    return fit(xml_safe(value), chars=TEXT_CHARS)


def _fitted(post: Any) -> Any:
    title = fit(post.title, chars=TEXT_CHARS)
    summary = fit(post.summary, max_bytes=DESCRIPTION_BYTES)
    if title == post.title and summary == post.summary:
        return post
    return dataclasses.replace(post, title=title, summary=summary)


def _fill_episode(fe: Any, episode: Episode, chapter_urls: dict[str, str]) -> None:
    post = episode.post
    enclosure = post.enclosures[0]
    if hasattr(fe, "media"):  # the picture is itunes:image here, not a second media file
        fe.media.image_content = False
    if not fe.enclosure():
        fe.enclosure(enclosure.url, str(enclosure.length or 0), enclosure.mime_type or "")
    ext = fe.podcast
    if episode.duration is not None:
        ext.itunes_duration(episode.duration)
    if episode.number is not None:
        ext.itunes_episode(episode.number)
    if episode.season is not None:
        ext.itunes_season(episode.season)
    if episode.episode_type is not None:
        ext.itunes_episode_type(episode.episode_type)
    if episode.block:
        ext.itunes_block(True)
    ns = fe.podcastns
    ns.explicit = episode.explicit
    ns.image = post.image
    ns.transcripts = episode.transcripts
    chapters = episode.chapters
    if chapters is None and post.slug in chapter_urls:
        chapters = Linked(chapter_urls[post.slug], CHAPTERS_TYPE)
    ns.chapters = chapters


def _elem(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    etree = atom_rss.lxml_etree()
    el = etree.SubElement(parent, tag)
    for key, value in attrs.items():
        el.set(key, value)
    if text is not None:
        el.text = text
    return el


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


class _ShowNs:
    """Channel: ``itunes:image``, ``itunes:explicit``, ``podcast:guid|locked|funding``."""

    def __init__(self) -> None:
        self.show: PodcastShow | None = None
        self.guid = ""
        self.cover: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"itunes": ITUNES_NS, "podcast": PODCAST_NS}

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        show = self.show
        assert show is not None
        if self.cover:
            _elem(channel, f"{{{ITUNES_NS}}}image", href=self.cover)
        if show.explicit is not None:
            _elem(channel, f"{{{ITUNES_NS}}}explicit", _bool_text(show.explicit))
        _elem(channel, f"{{{PODCAST_NS}}}guid", self.guid)
        if show.locked is not None:
            _elem(
                channel,
                f"{{{PODCAST_NS}}}locked",
                "yes" if show.locked else "no",
                owner=show.owner_email or "",
            )
        for url, text in show.funding:
            _elem(channel, f"{{{PODCAST_NS}}}funding", xml_safe(text) or url, url=url)
        return feed


class _EpisodeNs:
    """Item: ``itunes:explicit``, ``itunes:image``, ``podcast:transcript``, ``podcast:chapters``."""

    def __init__(self) -> None:
        self.explicit: bool | None = None
        self.image: str | None = None
        self.transcripts: Sequence[Linked] = ()
        self.chapters: Linked | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: Any) -> Any:
        return entry

    def extend_rss(self, entry: Any) -> Any:
        if self.explicit is not None:
            _elem(entry, f"{{{ITUNES_NS}}}explicit", _bool_text(self.explicit))
        if self.image:
            _elem(entry, f"{{{ITUNES_NS}}}image", href=self.image)
        for t in self.transcripts:
            attrs = {"url": t.url, "type": t.mime_type}
            if t.language:
                attrs["language"] = t.language
            _elem(entry, f"{{{PODCAST_NS}}}transcript", **attrs)
        if self.chapters is not None:
            _elem(
                entry,
                f"{{{PODCAST_NS}}}chapters",
                url=self.chapters.url,
                type=self.chapters.mime_type,
            )
        return entry
