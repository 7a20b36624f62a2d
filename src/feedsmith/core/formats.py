"""The feed formats feedsmith publishes, one entry each.

A format is everything the rest of the code needs to know about it: the file suffix, the
``Content-Type`` it is served with, the media type autodiscovery ``<link>``\\s use, the name
people know it by, and its renderer. Paths (:mod:`feedsmith.core.layout`), the web server, the
bucket, the feed pages, the ``/`` index and the documents (:mod:`feedsmith.core.documents`) all
read this table, so a new format (a podcast RSS variant, say) is a new renderer module plus an
entry here, and nothing else learns a name.

Why the table names the renderers and not the other way round: layout reads this table (for
suffixes) and renderers need URLs, so a renderer importing layout would close a cycle. Renderers
are handed their URLs instead (:class:`feedsmith.core.render.common.DocLinks`, Datasette's
``url_builder`` idea) and import neither layout nor this module; the table is complete the moment
it is imported, with no registration step whose order could matter.

A format's renderer module is imported when it is first asked for (:attr:`Format.renderer`),
not with the table: a start-up cost only. Paths, content types and ``feedsmith build``'s
nothing-changed answer read the table and render nothing, and the renderers (with what they
import) were ~40 ms of a ~0.3 s no-change build at 10,000 posts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from feedsmith.core.render.common import Renderer

__all__ = ["FORMATS", "Format", "by_suffix"]


@dataclass(frozen=True)
class Format:
    name: str  # as written in ``feed.formats``
    suffix: str  # of its files: ``all.atom.xml``
    content_type: str  # served with (charset included where the type has one)
    link_type: str  # for ``<link type=…>``: no parameters, autodiscovery matches it literally
    label: str  # what people call it
    #: Its renderer, as ``module:attribute`` (formats sharing an engine share the work).
    renderer_at: str

    @property
    def renderer(self) -> Renderer:
        """Its documents and entries; the module is imported here, on first use, for
        start-up cost only (``sys.modules`` makes every later call a lookup)."""
        module, _, name = self.renderer_at.partition(":")
        renderer: Renderer = getattr(importlib.import_module(module), name)
        return renderer


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
            "feedsmith.core.render.atom_rss:ATOM",
        ),
        Format(
            "rss",
            ".rss.xml",
            "application/rss+xml; charset=utf-8",
            "application/rss+xml",
            "RSS",
            "feedsmith.core.render.atom_rss:RSS",
        ),
        Format(
            "json",
            ".json",
            "application/feed+json; charset=utf-8",
            "application/feed+json",
            "JSON Feed",
            "feedsmith.core.render.jsonfeed:JSON_FEED",
        ),
    )
}


def by_suffix(name: str) -> Format | None:
    """The format a published file name is in, or ``None`` (OPML, pages, assets, …)."""
    for fmt in FORMATS.values():
        if name.endswith(fmt.suffix):
            return fmt
    return None
