"""The feed formats feedsmith publishes, one entry each.

A format is everything the rest of the code needs to know about it: the file suffix, the
``Content-Type`` it is served with, the media type autodiscovery ``<link>``\\s use, the name
people know it by, and its renderer. Paths (:mod:`feedsmith.core.layout`), the web server, the
bucket, the feed pages, the ``/`` index and the documents (:mod:`feedsmith.core.documents`) all
read this table, so a new format (a podcast RSS variant, say) is a new renderer module plus an
entry here, and nothing else learns a name.

Why the table imports the renderers and not the other way round: layout reads this table (for
suffixes) and renderers need URLs, so a renderer importing layout would close a cycle. Renderers
are handed their URLs instead (:class:`feedsmith.core.render.common.DocLinks`, Datasette's
``url_builder`` idea) and import neither layout nor this module; the table is complete the moment
it is imported, with no registration step whose order could matter.
"""

from __future__ import annotations

from dataclasses import dataclass

from feedsmith.core.render.atom_rss import ATOM, RSS
from feedsmith.core.render.common import Renderer
from feedsmith.core.render.jsonfeed import JSON_FEED

__all__ = ["FORMATS", "Format", "by_suffix"]


@dataclass(frozen=True)
class Format:
    name: str  # as written in ``feed.formats``
    suffix: str  # of its files: ``all.atom.xml``
    content_type: str  # served with (charset included where the type has one)
    link_type: str  # for ``<link type=…>``: no parameters, autodiscovery matches it literally
    label: str  # what people call it
    renderer: Renderer  # its documents and entries (formats sharing an engine share the work)


#: In order of preference: OPML subscribes to the first one published.
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "atom",
            ".atom.xml",
            "application/atom+xml; charset=utf-8",
            "application/atom+xml",
            "Atom",
            ATOM,
        ),
        Format(
            "rss",
            ".rss.xml",
            "application/rss+xml; charset=utf-8",
            "application/rss+xml",
            "RSS",
            RSS,
        ),
        Format(
            "json",
            ".json",
            "application/feed+json; charset=utf-8",
            "application/feed+json",
            "JSON Feed",
            JSON_FEED,
        ),
    )
}


def by_suffix(name: str) -> Format | None:
    """The format a published file name is in, or ``None`` (OPML, pages, assets, …)."""
    for fmt in FORMATS.values():
        if name.endswith(fmt.suffix):
            return fmt
    return None
