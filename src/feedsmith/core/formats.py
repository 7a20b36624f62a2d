"""The feed formats feedsmith publishes, one entry each.

A format is everything the rest of the code needs to know about it: the file suffix, the
``Content-Type`` it is served with, the media type autodiscovery ``<link>``\\s use, and the name
people know it by. Paths (:mod:`feedsmith.core.layout`), the web server, the bucket, the feed
pages and the ``/`` index all read this table, so a new format (a podcast RSS variant, say) is a
new entry here plus its renderer, and nothing else learns a name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FORMATS", "Format", "by_suffix"]


@dataclass(frozen=True)
class Format:
    name: str  # as written in ``feed.formats``
    suffix: str  # of its files: ``all.atom.xml``
    content_type: str  # served with (charset included where the type has one)
    link_type: str  # for ``<link type=…>``: no parameters, autodiscovery matches it literally
    label: str  # what people call it


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "atom",
            ".atom.xml",
            "application/atom+xml; charset=utf-8",
            "application/atom+xml",
            "Atom",
        ),
        Format(
            "rss", ".rss.xml", "application/rss+xml; charset=utf-8", "application/rss+xml", "RSS"
        ),
        Format(
            "json",
            ".json",
            "application/feed+json; charset=utf-8",
            "application/feed+json",
            "JSON Feed",
        ),
    )
}


def by_suffix(name: str) -> Format | None:
    """The format a published file name is in, or ``None`` (OPML, pages, assets, …)."""
    for fmt in FORMATS.values():
        if name.endswith(fmt.suffix):
            return fmt
    return None
