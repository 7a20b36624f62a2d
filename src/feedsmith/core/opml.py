"""OPML 2.0: every feed of the site as one subscription list (``index.opml``).

Not a feed format (no entries, one file per site), so not in the format table; it subscribes
to the first published format in that table's order.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.delta import changed_places
from feedsmith.core.formats import FORMATS
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import feed_files, feed_url
from feedsmith.core.render.common import feed_title, home, rfc822
from feedsmith.core.text import xml_safe

__all__ = ["OpmlMemo", "opml_format", "render_opml"]

_OPML_KIND_TITLES = {
    "all": "All posts",
    "category": "Categories",
    "tag": "Tags",
    "author": "Authors",
}


def opml_format(config: Config) -> str:
    """The format OPML subscribes to: the first published in the table's order, which puts
    Atom first (best-defined ids and dates)."""
    return next(name for name in FORMATS if name in config.feed.formats)


#: Which feed an outline is for: (kind, key, name, slug, paging page).
OutlineKey = tuple[str, str, str, str, int]


@dataclass
class OpmlMemo:
    """What a caller rendering OPML again and again for one config keeps (see
    :func:`render_opml`): each feed's outline attributes, and the last document with the feeds
    it listed and its ``dateModified`` text."""

    outlines: dict[OutlineKey, dict[str, str]] = field(default_factory=dict)
    last: tuple[tuple[OutlineKey, ...], str | None, bytes] | None = None
    #: The groups last rendered (held), in order, with each one's outline key and newest
    #: ``updated`` among its listed posts: a render after an edit works these out only at
    #: the places whose group is another object (found in C), not for ~830 groups.
    groups: list[FeedGroup] = field(default_factory=list)
    keys: list[OutlineKey] = field(default_factory=list)
    newest: list[datetime | None] = field(default_factory=list)
    shown: int = -1  # the entries per feed those were worked out for
    #: Groups the last render worked out (tests: proportional to the edit).
    looked: int = 0


def render_opml(groups: Sequence[FeedGroup], config: Config, memo: OpmlMemo | None = None) -> bytes:
    """OPML 2.0 subscription list: one folder outline per kind, one outline per feed.

    ``dateModified`` is the newest update among the listed feeds (omitted with no posts), so the
    file changes only when a feed does.

    Every text in it (outline ``text``/``title``, head ``title``/``ownerName``) is HTML-escaped
    *before* XML escaping, so ``Bits & <Bytes>`` is written ``Bits &amp;amp; &amp;lt;Bytes&gt;``.
    OPML 2.0 says ``text`` may hold encoded HTML and many readers (and the W3C validator) render
    these attributes as HTML: unescaped, a tag named ``<script>…`` would be markup in them.
    Escaping, not stripping, keeps the title the author chose and shows it literally in a reader
    that renders HTML; a reader that shows the attribute as plain text shows the entities.

    ``memo`` (:class:`OpmlMemo`, kept by the caller for one config): in the service, OPML is
    rendered again whenever the newest post is edited, only for its ``dateModified``. With the
    same feeds listed as last time, the last document is returned with that one element's text
    replaced: the rest of the bytes are a function of the config and the listed feeds alone,
    and the element's text (an RFC 822 date) needs no escaping and appears nowhere else as
    markup (any ``<`` in a title or URL is escaped). Otherwise each feed's outline attributes
    are taken from the memo: the titles and quoted URLs of ~800 feeds are most of the work.
    """
    keys, newest = _keys_and_newest(groups, config.feed.max_entries, memo)
    date = rfc822(newest) if newest is not None else None
    if memo is not None and memo.last is not None:
        last_keys, last_date, last_doc = memo.last
        if last_keys == keys and last_date == date:
            return last_doc
        if last_keys == keys and last_date is not None and date is not None:
            doc = last_doc.replace(_date_element(last_date), _date_element(date), 1)
            memo.last = (keys, date, doc)
            return doc
    doc = _render(groups, keys, config, date, memo)
    if memo is not None:
        memo.last = (keys, date, doc)
    return doc


def _keys_and_newest(
    groups: Sequence[FeedGroup], shown: int, memo: OpmlMemo | None
) -> tuple[tuple[OutlineKey, ...], datetime | None]:
    """Each group's outline key, and the newest ``updated`` among the first ``shown`` posts
    of every group; with ``memo``, the last render's values are kept for the groups that are
    the very objects it saw at the same places (a group never changes once made)."""
    n = len(groups)
    if memo is not None and len(memo.groups) == n and memo.shown == shown:
        keys, newest = list(memo.keys), list(memo.newest)
        at = changed_places(groups, memo.groups)
    else:
        keys, newest = [_NO_KEY] * n, [None] * n
        at = list(range(n))
    for i in at:
        group = groups[i]
        keys[i] = _outline_key(group)
        newest[i] = max((p.updated for p in group.posts[:shown]), default=None)
    if memo is not None:
        memo.groups, memo.keys, memo.newest = list(groups), keys, newest
        memo.shown, memo.looked = shown, len(at)
    dates = [d for d in newest if d is not None]
    return tuple(keys), max(dates) if dates else None


_NO_KEY: OutlineKey = ("", "", "", "", 0)


def _outline_key(group: FeedGroup) -> OutlineKey:
    page = group.paging.page if group.paging is not None else 0
    return (group.kind, group.key, group.name, group.slug, page)


def _date_element(date: str) -> bytes:
    return f"<dateModified>{date}</dateModified>".encode()


def _render(
    groups: Sequence[FeedGroup],
    keys: Sequence[OutlineKey],
    config: Config,
    date: str | None,
    memo: OpmlMemo | None,
) -> bytes:
    from lxml import etree

    fmt = opml_format(config)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _opml_text(config.site.title)
    if date is not None:
        etree.SubElement(head, "dateModified").text = date
    if config.site.author:
        etree.SubElement(head, "ownerName").text = _opml_text(config.site.author)
    body = etree.SubElement(root, "body")
    folders: dict[str, Any] = {}
    for group, memo_key in zip(groups, keys, strict=True):
        folder = folders.get(group.kind)
        if folder is None:
            text = _OPML_KIND_TITLES.get(group.kind, group.kind)
            # Only `text`: a folder outline with more attributes must have a `type` (OPML 2.0;
            # the W3C validator warns MissingOutlineType), and a folder has no type to give.
            folder = etree.SubElement(body, "outline", text=text)
            folders[group.kind] = folder
        attrs = memo.outlines.get(memo_key) if memo is not None else None
        if attrs is None:
            attrs = _outline(group, config, fmt)
            if memo is not None:
                memo.outlines[memo_key] = attrs
        etree.SubElement(folder, "outline", attrs)
    return etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)


def _outline(group: FeedGroup, config: Config, fmt: str) -> dict[str, str]:
    title = _opml_text(feed_title(group, config))
    attrs = {
        "type": "rss",
        "text": title,
        "title": title,
        "xmlUrl": feed_url(config, feed_files(group, [fmt])[fmt]),
        "htmlUrl": home(config),
    }
    if config.site.language:
        attrs["language"] = xml_safe(config.site.language)
    return attrs


def _opml_text(text: str) -> str:
    """OPML text as the HTML its readers take it for (see :func:`render_opml`)."""
    return html.escape(xml_safe(text), quote=False)
