"""A post's picture and attachments in Atom and RSS (Media RSS, enclosures) and JSON Feed.

What each format gets, and why:

* **Picture** — Atom and RSS: ``<media:thumbnail>`` and ``<media:content medium="image">``
  (Media RSS, what jekyll-feed and Ghost write and what FreshRSS, Feedly, Inoreader pick a card
  image from); the namespace is declared once, on the root, and only in documents whose entries
  use it, so a blog without pictures keeps the bytes it had. JSON Feed: ``image`` (and
  ``banner_image`` where given). With ``feed.image_in_content`` the picture is also an
  ``<img>`` at the top of the full content, for readers that ignore Media RSS.
* **Attachments** — Atom: every one as ``<link rel="enclosure">`` with ``length``, ``type``,
  ``title`` where known. JSON Feed: every one in ``attachments``. RSS 2.0 allows one
  ``<enclosure>`` per item, with ``url``, ``length`` and ``type`` all required: it gets the
  first attachment that can be written validly — a known type and a length above zero (the
  RSS Best Practices Profile suggests ``length="0"`` when unknown, but the W3C validator
  calls it an error). The others are only in Atom and JSON Feed.

Archive pages with ``feed.archive_content: summary`` carry all of this too (only the content
is left out there): a few hundred bytes per entry, and a podcatcher or reader backfilling
history needs the files and the card image as much as new subscribers do.
"""

from __future__ import annotations

import html
from typing import Any

from feedsmith.core.model import Enclosure, Picture, Post
from feedsmith.core.urlsafety import is_allowed_url

__all__ = [
    "MEDIA_NS",
    "MediaEntryExtension",
    "MediaNamespace",
    "atom_links",
    "content_with_image",
    "has_media",
    "has_media_rss",
    "json_attachments",
    "rss_enclosure",
]

MEDIA_NS = "http://search.yahoo.com/mrss/"
_WEB = frozenset({"http", "https"})


def _picture(post: Post) -> Picture | None:
    picture = post.picture
    if picture is not None and is_allowed_url(picture.url, _WEB):
        return picture
    return None


def has_media_rss(post: Post) -> bool:
    """The post's Atom entry and RSS item hold ``media:`` elements."""
    return _picture(post) is not None


def has_media(post: Post) -> bool:
    """The post has anything :class:`MediaEntryExtension` writes."""
    return post.picture is not None or bool(post.enclosures)


def _enclosures(post: Post) -> list[Enclosure]:
    # Checked when parsed (core/media.py); again here, where the URL leaves feedsmith.
    return [e for e in post.enclosures if is_allowed_url(e.url, _WEB)]


def atom_links(post: Post) -> list[dict[str, str]]:
    """The post's attachments as Atom link attributes (``rel="enclosure"``), in order."""
    links = []
    for e in _enclosures(post):
        link = {"rel": "enclosure", "href": e.url}
        if e.mime_type:
            link["type"] = e.mime_type
        if e.length:
            link["length"] = str(e.length)
        if e.title:
            link["title"] = e.title
        links.append(link)
    return links


def rss_enclosure(post: Post) -> dict[str, str] | None:
    """RSS's one ``<enclosure>``: the first attachment RSS can carry validly (see above)."""
    for e in _enclosures(post):
        if e.mime_type and e.length:
            return {"url": e.url, "length": str(e.length), "type": e.mime_type}
    return None


def json_attachments(post: Post) -> list[dict[str, Any]]:
    """JSON Feed 1.1 ``attachments``: ``url`` and ``mime_type`` are required by the spec; an
    attachment whose type is unknown says ``application/octet-stream`` (what it is to a
    client that cannot tell)."""
    out = []
    for e in _enclosures(post):
        item: dict[str, Any] = {"url": e.url, "mime_type": e.mime_type or _OCTETS}
        if e.title:
            item["title"] = e.title
        if e.length:
            item["size_in_bytes"] = e.length
        if e.duration is not None:
            item["duration_in_seconds"] = _seconds(e.duration)
        out.append(item)
    return out


_OCTETS = "application/octet-stream"


def _seconds(value: float) -> int | float:
    """Whole seconds as an integer (``62``, not ``62.0``); else to the millisecond."""
    rounded = round(value, 3)
    return int(rounded) if rounded == int(rounded) else rounded


def content_with_image(post: Post, content_html: str) -> str:
    """``content_html`` with the picture on top (``feed.image_in_content``), as Ghost does."""
    picture = _picture(post)
    if picture is None or not content_html:
        return content_html
    attrs = [f'src="{html.escape(picture.url)}"', f'alt="{html.escape(picture.alt or "")}"']
    if picture.width and picture.height:
        attrs += [f'width="{picture.width}"', f'height="{picture.height}"']
    return f"<p><img {' '.join(attrs)}></p>\n{content_html}"


class MediaNamespace:
    """The feed half of the extension: declares ``xmlns:media`` on the root, nothing else."""

    def extend_ns(self) -> dict[str, str]:
        return {"media": MEDIA_NS}

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, rss: Any) -> Any:
        return rss


class MediaEntryExtension:
    """An entry's ``media:thumbnail`` and ``media:content medium="image"`` (no
    ``media:group``, which feedgen's own media extension always writes), and in Atom its
    ``<link rel="enclosure">``s (feedgen's ``FeedEntry.link`` writes ``href`` only: its loop
    variable shadows the dict, so ``rel``, ``length``, ``title`` are lost)."""

    def __init__(self) -> None:
        self.picture: Picture | None = None
        self.links: list[dict[str, str]] = []
        #: ``media:content`` for the picture. Off in a podcast show's RSS: podcast apps read
        #: ``media:content`` as the episode's media (gPodder lists the picture as a second
        #: file), and ``itunes:image`` says it there.
        self.image_content = True

    def _picture(self, entry: Any) -> None:
        picture = self.picture
        if picture is None:
            return
        size = {}
        if picture.width and picture.height:
            size = {"width": str(picture.width), "height": str(picture.height)}
        thumbnail = {"url": picture.url, **size}
        content = {"url": picture.url, "medium": "image"}
        if picture.mime_type:
            content["type"] = picture.mime_type
        content.update(size)
        entry.append(entry.makeelement(f"{{{MEDIA_NS}}}thumbnail", thumbnail))
        if self.image_content:
            entry.append(entry.makeelement(f"{{{MEDIA_NS}}}content", content))

    def extend_atom(self, entry: Any) -> Any:
        for link in self.links:
            entry.append(entry.makeelement("link", link))
        self._picture(entry)
        return entry

    def extend_rss(self, item: Any) -> Any:
        self._picture(item)
        return item
