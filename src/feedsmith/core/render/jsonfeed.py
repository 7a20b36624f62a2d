"""JSON Feed 1.1, written to the spec (feedgen has no JSON Feed support).

Keys are written in a fixed order (spec order, not sorted) so the bytes are deterministic. The
engine's rank is 0: entries are serialised JSON first, because orjson leaves each string's UTF-8
form cached in the str object (CPython), so lxml, which encodes every text it is given (the HTML
twice: Atom and RSS), then copies those bytes instead of encoding again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring
from typing import Any

import orjson

from feedsmith import __version__
from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Author, Post
from feedsmith.core.render.common import (
    GENERATOR_URI,
    DocLinks,
    Part,
    Renderer,
    entry_title,
    feed_id,
    feed_title,
    home,
    newest_update,
    rfc3339,
    shown,
)
from feedsmith.core.render.hubs import doc_hubs, json_hubs
from feedsmith.core.render.media_rss import content_with_image, json_attachments
from feedsmith.core.urlsafety import is_allowed_url

__all__ = ["JSON_ENGINE", "JSON_FEED", "JSON_FEED_VERSION"]

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


def _json_author(author: Author) -> dict[str, str]:
    data = {"name": author.name}
    # Posts are checked when parsed (posts.py); checked again here because a Post can come from
    # anywhere (a cache, a test) and this is where the URL leaves feedsmith.
    uri = author.uri if author.uri and is_allowed_url(author.uri) else None
    url = uri or (f"mailto:{author.email}" if author.email else None)
    if url:
        data["url"] = url
    return data


def _reading_time(post: Post) -> int | float | None:
    value = post.extra.get("reading_time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _json_item(post: Post, full: bool, image_in_content: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": post.id, "url": post.url, "title": entry_title(post)}
    if full and post.content_html:
        content = post.content_html
        item["content_html"] = content_with_image(post, content) if image_in_content else content
    else:
        item["content_text"] = post.summary
    if post.summary:
        item["summary"] = post.summary
    if post.image and is_allowed_url(post.image):
        item["image"] = post.image
    banner = post.picture.banner if post.picture is not None else None
    if banner and is_allowed_url(banner):
        item["banner_image"] = banner
    item["date_published"] = rfc3339(post.date)
    item["date_modified"] = rfc3339(post.updated)
    if post.authors:
        item["authors"] = [_json_author(a) for a in post.authors]
    tags = list(dict.fromkeys([*post.categories, *post.tags]))
    if tags:
        item["tags"] = tags
    if post.lang:
        item["language"] = post.lang
    if post.enclosures:
        attachments = json_attachments(post)
        if attachments:
            item["attachments"] = attachments
    extension: dict[str, Any] = {
        "categories": list(post.categories),
        "tags": list(post.tags),
    }
    reading_time = _reading_time(post)
    if reading_time is not None:
        extension["reading_time"] = reading_time
    item["_feedsmith"] = extension
    return item


def _render_json(group: FeedGroup, config: Config, links: DocLinks) -> bytes:
    posts = shown(group, config)
    full = config.feed.content == "full"
    feed = _json_head(group, config, links)
    in_content = config.feed.image_in_content
    feed["items"] = [_json_item(p, full, in_content) for p in posts]
    return (_indented_json(feed) + "\n").encode("utf-8")


#: Where items sit in the document: ``{ "items": [ <item>`` — two levels in.
_JSON_ITEM_INDENT = "\n    "
_JSON_ITEM_INDENT_B = b"\n    "


def _json_head(group: FeedGroup, config: Config, links: DocLinks) -> dict[str, Any]:
    posts = shown(group, config)
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(group, config),
        "home_page_url": home(config),
        "feed_url": links.page(0),
    }
    if config.site.description:
        feed["description"] = config.site.description
    paging = group.paging
    if paging is not None and paging.prev:  # JSON Feed pages go one way: to older posts
        feed["next_url"] = links.page(paging.prev)
    if config.site.language:
        feed["language"] = config.site.language
    if config.site.author:
        feed["authors"] = [{"name": config.site.author}]
    hubs = doc_hubs(group, config)
    if hubs:
        feed["hubs"] = json_hubs(hubs)
    feed["_feedsmith"] = {
        "about": GENERATOR_URI,
        "version": __version__,
        "id": feed_id(group, config),
        "kind": group.kind,
        "updated": rfc3339(newest_update(posts)),
    }
    if paging is not None and paging.is_archive:
        feed["_feedsmith"]["archive_page"] = paging.page
    return feed


def _json_item_bytes(item: dict[str, Any]) -> bytes:
    """One item of :func:`_json_item` as it sits in ``items``: UTF-8, indented two levels, the
    bytes :func:`_render_json` writes for it.

    orjson writes it ~10x faster than the Python writer and with the same bytes for what an
    item holds (dicts with text keys, lists, text, integers): its string escapes are the json
    module's with ``ensure_ascii=False`` and its ``OPT_INDENT_2`` layout is ``indent=2``'s.
    What it would spell otherwise or refuses goes the Python way: a float it writes unlike
    ``repr`` (``1e-7`` for ``1e-07``; ``reading_time`` is the only float an item can hold), an
    integer beyond 64 bits, a lone surrogate (which then fails as it does in render_json).
    """
    reading_time = item["_feedsmith"].get("reading_time")
    if not isinstance(reading_time, float) or orjson.dumps(reading_time) == (
        float.__repr__(reading_time).encode()
    ):
        try:
            dumped = orjson.dumps(item, option=orjson.OPT_INDENT_2)
        except orjson.JSONEncodeError:
            pass
        else:
            return dumped.replace(b"\n", _JSON_ITEM_INDENT_B)  # no raw newlines in strings
    text: list[str] = []
    try:
        _write_json(item, text, _JSON_ITEM_INDENT)
        indented = "".join(text)
    except _NotPlainJSON:  # as in _indented_json: the json module decides (and raises)
        dumped_text = json.dumps(item, ensure_ascii=False, indent=2, allow_nan=False)
        indented = dumped_text.replace("\n", _JSON_ITEM_INDENT)
    return indented.encode("utf-8")


def _json_document(
    group: FeedGroup, config: Config, links: DocLinks, items: Sequence[bytes | str]
) -> bytes:
    """:func:`_render_json`'s bytes from pre-serialised items (``items`` is the last key).

    Assembled as bytes: the items are UTF-8 already, and encoding each ~100 KB document from
    text again was a third of what a feed with cached entries cost.
    """
    feed = _json_head(group, config, links)
    feed["items"] = []
    text = _indented_json(feed)
    end = '"items": []\n}'
    if not text.endswith(end):  # a head value json.dumps had to write: no splicing
        feed["items"] = [json.loads(item) for item in items]
        return (_indented_json(feed) + "\n").encode("utf-8")
    head = text[: -len(end)].encode("utf-8")
    if not items:
        return head + b'"items": []\n}\n'
    parts = [head, b'"items": [' + _JSON_ITEM_INDENT_B]
    for item in items:
        parts.append(item if isinstance(item, bytes) else item.encode("utf-8"))
        parts.append(b"," + _JSON_ITEM_INDENT_B)
    parts[-1] = b"\n  ]\n}\n"
    return b"".join(parts)


class _NotPlainJSON(Exception):
    """A value the fast writer leaves to :func:`json.dumps` (non-text keys, odd types)."""


def _indented_json(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)``, about 3× faster.

    With ``indent`` set, the standard library falls back to its pure-Python encoder, which made
    JSON the most expensive of the three formats. Feed data is only dicts with text keys, lists,
    strings and numbers, so this writes those directly (strings through the same C escaper
    ``json`` uses) and hands anything else to ``json.dumps`` itself, errors included.
    """
    out: list[str] = []
    try:
        _write_json(value, out, "\n")
    except _NotPlainJSON:
        return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)
    return "".join(out)


def _write_json(value: object, out: list[str], newline: str) -> None:
    # Same type order as json's encoder: str first, then the singletons, int, float, containers.
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _NotPlainJSON
        out.append(float.__repr__(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        out.append("[")
        separator = inner
        for item in value:
            out.append(separator)
            _write_json(item, out, inner)
            separator = "," + inner
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        out.append("{")
        separator = inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlainJSON
            out.append(separator + encode_basestring(key) + ": ")
            _write_json(item, out, inner)
            separator = "," + inner
        out.append(newline + "}")
    else:
        raise _NotPlainJSON


class JsonEngine:
    """JSON Feed's items and documents: one format, so one renderer."""

    rank = 0  # first (see the module docstring)

    def entries(
        self,
        post: Post,
        config: Config,
        renderers: Sequence[Renderer],
        schemes: Mapping[str, str],
    ) -> list[bytes | str]:
        full = config.feed.content == "full"
        item = _json_item_bytes(_json_item(post, full, config.feed.image_in_content))
        return [item for _ in renderers]

    def documents(self, group: FeedGroup, config: Config, parts: Sequence[Part]) -> list[bytes]:
        # _json_document by name at call time: tests swap it to make a render fail.
        return [_json_document(group, config, links, items) for _, links, items in parts]


JSON_ENGINE = JsonEngine()


class _JsonFeed:
    """JSON Feed 1.1, whole or from serialised items."""

    engine = JSON_ENGINE

    def document(self, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
        return _render_json(group, config, links)


JSON_FEED = _JsonFeed()
