"""Rendering: one :class:`FeedGroup` → Atom 1.0, RSS 2.0 (feedgen) or JSON Feed 1.1 bytes.

Every renderer is a pure function of the group and the config. Nothing reads the clock: feedgen
defaults the feed's ``updated``/``lastBuildDate`` and every entry's ``updated`` to *now*, so all
of them are set explicitly here (the feed's to the newest shown entry's ``updated``). The same
posts therefore give byte-identical files, which keeps ETags put and pollers quiet.

Decisions where the formats leave room:

* Dates are written in UTC, whole seconds, RFC 3339 with ``Z`` (Atom, JSON) and RFC 822 with
  English names and ``+0000`` (RSS). RSS dates are formatted here, not by ``strftime``, so the
  process locale can never leak month names into a feed.
* Feed ids are tag URIs built from ``config.id_authority`` and the slug
  (``tag:example.com,2005:feeds/tag/ai``), not from ``site.url``, so switching the site between
  http and https (or to a CDN host) does not make every reader see a new feed.
* Categories and tags are both emitted as ``<category>`` (Atom ``term`` = ``label`` = the name,
  ``scheme`` = the feed folder URL, which tells the two kinds apart) and as JSON ``tags``
  (categories first). JSON also carries them separately under ``_feedsmith``.
* ``feed.content: summary`` drops the HTML body from every format; JSON Feed then carries the
  summary as ``content_text`` because the spec requires one of ``content_html``/``content_text``.
* OPML subscribes to the first configured format in the order atom, rss, json.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson
from zlib_ng import zlib_ng

from feedsmith import __version__
from feedsmith.config import Config
from feedsmith.core.archive import HistoryExtension, NoEntryExtension, archive_links
from feedsmith.core.discovery import HubExtension, NoHubEntryExtension, json_hubs
from feedsmith.core.formats import FORMATS
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import FEEDS_PREFIX, FOLDERS, feed_files, feed_url, page_file
from feedsmith.core.model import Author, Post
from feedsmith.core.text import xml_safe
from feedsmith.core.urlsafety import is_allowed_url

if TYPE_CHECKING:
    from feedgen.entry import FeedEntry
    from feedgen.feed import FeedGenerator

# feedgen and lxml (~70 ms of imports) are imported where a feed is actually rendered: a
# rebuild that changes nothing renders nothing and should not pay for them.


def load_engine() -> None:
    """Import feedgen and lxml now: a long-running builder whose cold build rendered in worker
    processes calls this afterwards, so its first one-post rebuild does not pay ~70 ms of
    imports."""
    _engine()


@functools.cache
def _engine() -> SimpleNamespace:
    """feedgen's and lxml's names, imported on first use and then kept.

    An ``import`` statement per call is not free: ``from lxml import etree`` runs importlib's
    Python-level ``_handle_fromlist`` every time (lxml is a package), and this is asked for
    once per entry and once per feed.
    """
    from feedgen.entry import FeedEntry
    from feedgen.ext.dc import DcEntryExtension, DcExtension
    from feedgen.feed import FeedGenerator
    from lxml import etree

    return SimpleNamespace(
        FeedEntry=FeedEntry,
        FeedGenerator=FeedGenerator,
        DcExtension=DcExtension,
        DcEntryExtension=DcEntryExtension,
        etree=etree,
    )


GENERATOR_NAME = "feedsmith"
GENERATOR_URI = "https://pypi.org/project/feedsmith/"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
#: The date part of feed tag URIs. Fixed forever: changing it would change every feed id.
FEED_ID_DATE = "2005"
#: ``updated`` of a feed with no entries (an empty blog's site feed): fixed, never "now".
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_KIND_LABEL = {"category": "category", "tag": "tag", "author": "author"}
_OPML_KIND_TITLES = {
    "all": "All posts",
    "category": "Categories",
    "tag": "Tags",
    "author": "Authors",
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_RFC2822_FORMAT = "%a, %d %b %Y %H:%M:%S %z"  # what feedgen's formatRFC2822 asks for


# -- paths, URLs, titles ----------------------------------------------------------------------


def feed_title(group: FeedGroup, config: Config) -> str:
    """``Site`` for the site feed, ``Site — tag: 最新ニュース`` for the others."""
    site = xml_safe(config.site.title)
    if group.kind == "all":
        return site
    return f"{site} — {_KIND_LABEL[group.kind]}: {xml_safe(group.name)}"


def feed_id(group: FeedGroup, config: Config) -> str:
    """Stable tag URI for a feed (see the module docstring)."""
    specific = "feeds/all" if group.kind == "all" else f"feeds/{group.kind}/{group.slug}"
    return f"tag:{config.id_authority},{FEED_ID_DATE}:{quote(specific, safe='/-')}"


#: "00" … "99": dates are written ~6 times per entry, and indexing this is about half the cost
#: of formatting each field with ``:02d``.
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


def rfc3339(dt: datetime) -> str:
    """UTC, whole seconds, ``Z``: one spelling for every date in Atom and JSON."""
    u = dt.astimezone(UTC)
    d = _TWO_DIGITS
    return f"{u.year:04d}-{d[u.month]}-{d[u.day]}T{d[u.hour]}:{d[u.minute]}:{d[u.second]}Z"


def rfc822(dt: datetime) -> str:
    """RFC 822 date with English names, built without ``strftime`` so no locale can leak in."""
    u = dt.astimezone(UTC)
    d = _TWO_DIGITS
    return (
        f"{_DAYS[u.weekday()]}, {d[u.day]} {_MONTHS[u.month - 1]} {u.year:04d} "
        f"{d[u.hour]}:{d[u.minute]}:{d[u.second]} +0000"
    )


class _FeedDate(datetime):
    """A UTC datetime that formats itself the way feeds need, whatever feedgen asks.

    feedgen calls ``isoformat()`` for Atom and ``strftime('%a, %d %b …')`` for RSS (after
    switching the process locale to C); answering both here makes the output independent of
    the locale and of feedgen's handling of it.
    """

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return rfc3339(self)

    def strftime(self, fmt: str) -> str:
        if fmt == _RFC2822_FORMAT:
            return rfc822(self)
        return super().strftime(fmt)


def _feed_date(dt: datetime) -> _FeedDate:
    u = dt.astimezone(UTC)
    return _FeedDate(u.year, u.month, u.day, u.hour, u.minute, u.second, tzinfo=UTC)


def _shown(group: FeedGroup, config: Config) -> tuple[Post, ...]:
    return group.posts[: config.feed.max_entries]


def _newest_update(posts: Iterable[Post]) -> datetime:
    return max((p.updated for p in posts), default=EPOCH)


def _scheme(config: Config, kind: str) -> str:
    return f"{config.site.url}{FEEDS_PREFIX}{FOLDERS[kind]}/"


def _home(config: Config) -> str:
    return config.site.url + "/"


def _entry_title(post: Post) -> str:
    # feedgen refuses an empty title; posts.py always gives one, but a crash here loses a build.
    return post.title or post.slug or post.id


def _feed_author(config: Config) -> str:
    # Atom needs an author on the feed unless every entry has one; the site title stands in.
    return xml_safe(config.site.author) or xml_safe(config.site.title) or GENERATOR_NAME


def _author_dict(author: Author) -> dict[str, str]:
    data = {"name": author.name}
    if author.email:
        data["email"] = author.email
    if author.uri and is_allowed_url(author.uri):
        data["uri"] = author.uri
    return data


# -- Atom and RSS via feedgen -------------------------------------------------------------------


def _generator(
    group: FeedGroup, config: Config, entries: Sequence[Post] | None = None
) -> FeedGenerator:
    """One feedgen object serving both Atom and RSS.

    Only the self link and the RSS channel description differ between the two; they are set
    by :func:`_atom_bytes` / :func:`_rss_bytes` right before serialising. ``entries`` are the
    posts to add as entries (default: the shown posts); the feed-level fields always come from
    the shown posts, so ``entries=()`` gives the document the entries are spliced into.
    """
    eng = _engine()
    posts = _shown(group, config)
    fg = eng.FeedGenerator()
    # What fg.load_extension("dc", atom=False, rss=True) registers, without its lookup of a
    # ``feedgen.ext.dc_entry`` module that does not exist: a failed import (a search of
    # sys.path) per feed was ~4% of rendering a feed whose entries were cached.
    fg.register_extension("dc", eng.DcExtension, eng.DcEntryExtension, atom=False, rss=True)
    if group.paging is not None:
        fg.register_extension("fh", HistoryExtension, NoEntryExtension, atom=True, rss=True)
        fg.fh.paging = group.paging
    hubs = _hubs(group, config)
    if hubs:  # registered only then: without hubs the documents are what they were
        fg.register_extension("websub", HubExtension, NoHubEntryExtension, atom=False, rss=True)
        fg.websub.hubs = hubs
    fg.id(feed_id(group, config))
    fg.title(feed_title(group, config))
    fg.updated(_feed_date(_newest_update(posts)))  # sets lastBuildDate too
    fg.author({"name": _feed_author(config)})
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    description = xml_safe(config.site.description)
    if description:
        fg.subtitle(description)  # also the RSS channel description
    if config.site.language:
        fg.language(xml_safe(config.site.language))
    # feedgen prepends by default; append keeps newest first.
    for post in posts if entries is None else entries:
        _fill_entry(fg.add_entry(order="append"), post, config)
    return fg


def _fill_entry(fe: FeedEntry, post: Post, config: Config) -> None:
    full = config.feed.content == "full"
    cat_scheme = _scheme(config, "category")
    tag_scheme = _scheme(config, "tag")
    fe.id(post.id)  # also the RSS guid, isPermaLink="false"
    fe.title(_entry_title(post))
    fe.link(href=post.url, rel="alternate", type="text/html")
    fe.published(_feed_date(post.date))  # RSS pubDate
    fe.updated(_feed_date(post.updated))
    if post.authors:
        fe.author([_author_dict(a) for a in post.authors])
        # RSS <author> must be an e-mail address, and an item should not carry both <author>
        # and <dc:creator> (the W3C validator warns). One author with an e-mail → <author>
        # "email (Name)"; anything else (no e-mail, several authors) → one dc:creator a name.
        if len(post.authors) == 1 and post.authors[0].email:
            pass  # feedgen derived the RSS <author> from the Atom author
        else:
            fe._FeedEntry__rss_author = []  # type: ignore[attr-defined]
            fe.dc.dc_creator([a.name for a in post.authors])
    categories = [
        {"term": name, "label": name, "scheme": cat_scheme} for name in post.categories
    ] + [{"term": name, "label": name, "scheme": tag_scheme} for name in post.tags]
    if categories:
        fe.category(categories)
    if post.summary:
        fe.summary(post.summary)
        # RSS <description> is HTML to every reader (and to the validator): the plain-text
        # summary is escaped once more, so "x < y & z" shows as written instead of as markup.
        # (feedgen's description() would also set the Atom content: only the RSS field is set.)
        fe._FeedEntry__rss_description = html.escape(post.summary, quote=False)  # type: ignore[attr-defined]
    if full and post.content_html:
        fe.content(post.content_html, type="html")
    elif not post.summary:
        # A post with no text at all (no body, no excerpt): an Atom entry needs *some*
        # textual content (the validator's MissingTextualContent), and an empty HTML content
        # says exactly what there is, where a made-up summary (the title again) would not.
        # Atom only: feedgen's content() would also give RSS an empty <description>.
        fe._FeedEntry__atom_content = {"content": "", "type": "html"}  # type: ignore[attr-defined]


def _hubs(group: FeedGroup, config: Config) -> tuple[str, ...]:
    """The hubs a document advertises: only subscription documents are WebSub topics."""
    if group.paging is not None and group.paging.is_archive:
        return ()
    return config.hub_urls


def _set_links(fg: FeedGenerator, group: FeedGroup, config: Config, fmt: str) -> None:
    self_url = feed_url(config, feed_files(group, [fmt])[fmt])
    self_type = "application/atom+xml" if fmt == "atom" else "application/rss+xml"
    # feedgen takes the RSS <link> from the *last* link added: the home page must come last.
    fg.link(href=self_url, rel="self", type=self_type, replace=True)
    for hub in _hubs(group, config):  # Atom; RSS gets them from HubExtension
        fg.link(href=hub, rel="hub")
    if group.paging is not None:
        links = archive_links(group.paging, lambda n: feed_url(config, page_file(group, fmt, n)))
        fg.fh.links = [(rel, href, self_type) for rel, href in links]  # RSS: written by fh
        for rel, href in links:
            fg.link(href=href, rel=rel, type=self_type)
    fg.link(href=_home(config), rel="alternate", type="text/html")


def _atom_bytes(fg: FeedGenerator, group: FeedGroup, config: Config) -> bytes:
    _set_links(fg, group, config, "atom")
    return fg.atom_str(pretty=True, encoding="UTF-8")


def _rss_bytes(fg: FeedGenerator, group: FeedGroup, config: Config) -> bytes:
    _set_links(fg, group, config, "rss")
    if not config.site.description:
        # RSS requires a channel description. Set last: feedgen would also make it the Atom
        # subtitle, which should only ever be the site's own description.
        fg.description(feed_title(group, config))
    doc = fg.rss_str(pretty=True, encoding="UTF-8")
    cut = doc.find(b"<item>")
    if cut < 0:
        return _rss_char_refs(doc, _RSS_CHANNEL_PLAIN)
    return _rss_char_refs(doc[:cut], _RSS_CHANNEL_PLAIN) + _rss_char_refs(
        doc[cut:], _RSS_ITEM_PLAIN
    )


# RSS elements that are plain text (not HTML). The RSS Best Practices Profile asks for "&" and
# "<" in them as hexadecimal character references (the W3C validator warns otherwise): a
# reader that wrongly treats a title as HTML still shows "AT&T" and "x < y" as written.
_RSS_ITEM_PLAIN = re.compile(rb"(<(title|category)(?: [^>]*)?>)([^<]*)(</\2>)")
_RSS_CHANNEL_PLAIN = re.compile(rb"(<(title|description|category)(?: [^>]*)?>)([^<]*)(</\2>)")


def _rss_char_refs(doc: bytes, elements: re.Pattern[bytes]) -> bytes:
    """``&amp;``/``&lt;`` in the plain-text ``elements`` of ``doc`` as ``&#x26;``/``&#x3C;``.

    Same characters to any XML parser; only the spelling changes, and only where needed.
    """
    if b"&amp;" not in doc and b"&lt;" not in doc:
        return doc
    return elements.sub(_char_refs, doc)


def _char_refs(match: re.Match[bytes]) -> bytes:
    text = match.group(3).replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")
    return match.group(1) + text + match.group(4)


def render_atom(group: FeedGroup, config: Config) -> bytes:
    """Atom 1.0 document for the group's newest ``max_entries`` posts."""
    return _atom_bytes(_generator(group, config), group, config)


def render_rss(group: FeedGroup, config: Config) -> bytes:
    """RSS 2.0 document; ``lastBuildDate`` is the newest shown entry's update, never now."""
    return _rss_bytes(_generator(group, config), group, config)


def render_group(
    group: FeedGroup,
    config: Config,
    formats: Sequence[str] | None = None,
    *,
    cache: EntryCache | None = None,
    keys: Sequence[str] | None = None,
    prepare: Callable[[Post], Post] | None = None,
) -> dict[str, bytes]:
    """Every format of one group (default ``config.feed.formats``), keyed like
    :func:`feed_files`: the same bytes as the single renderers, built from entry fragments.

    A post shown in several feeds (the newest ones are in the site feed, their categories' and
    their tags' feeds) is the same entry in each, so each entry is serialised once and spliced
    into each document: feedgen writes the document around the entries and each entry itself,
    and the splice points are where lxml's pretty-printer puts them (tests compare every byte
    with feedgen's own whole-document output). With ``cache`` and ``keys`` (one per shown post;
    equal keys must mean equal posts, see ``build``), fragments are reused across calls, and
    ``prepare`` is applied only to posts whose entries must be serialised (``build`` passes
    posts without their HTML and puts it back there).
    """
    wanted = tuple(config.feed.formats if formats is None else formats)
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown feed format {unknown[0]!r}")
    posts = _shown(group, config)
    if keys is not None and len(keys) != len(posts):
        raise ValueError("one key per shown post")
    needed = frozenset(wanted)
    fragments: list[dict[str, bytes | str]] = []
    for i, post in enumerate(posts):
        key = keys[i] if keys is not None and cache is not None else None
        frags = cache.get(key) if cache is not None and key is not None else None
        if frags is None or not frags.keys() >= needed:
            frags = _entry_fragments(prepare(post) if prepare else post, config, wanted)
            if cache is not None and key is not None:
                cache.put(key, frags)
        fragments.append(frags)
    done: dict[str, bytes] = {}
    if "atom" in wanted or "rss" in wanted:
        fg = _generator(group, config, ())
        if "atom" in wanted:  # before RSS, which may set the channel description
            head = _atom_bytes(fg, group, config)
            done["atom"] = _splice(head, _ATOM_END, [f["atom"] for f in fragments])  # type: ignore[misc]
        if "rss" in wanted:
            head = _rss_bytes(fg, group, config)
            done["rss"] = _splice(head, _RSS_END, [f["rss"] for f in fragments])  # type: ignore[misc]
    if "json" in wanted:
        done["json"] = _json_document(group, config, [f["json"] for f in fragments])
    return {fmt: done[fmt] for fmt in wanted}


class _LRU:
    """A dict bounded by count, least recently used dropped first."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._data: dict[str, Any] = {}

    def _fetch(self, key: str) -> Any:
        value = self._data.pop(key, None)
        if value is not None:
            self._data[key] = value  # most recently used last
        return value

    def _store(self, key: str, value: Any) -> None:
        self._data.pop(key, None)
        self._data[key] = value
        while len(self._data) > self.max_items:
            del self._data[next(iter(self._data))]

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data  # not a use: the order is left alone


class EntryCache(_LRU):
    """Serialised entries by post key, least recently used dropped first.

    Bounded by count: one post's three fragments are ~20 KB with full content, so the default
    keeps ~40 MB. Keys are the caller's (``build`` uses the post's signature line), and one
    cache serves one config.
    """

    def __init__(self, max_posts: int = 2048) -> None:
        super().__init__(max_posts)

    def get(self, key: str) -> dict[str, bytes | str] | None:
        return self._fetch(key)  # type: ignore[no-any-return]

    def put(self, key: str, frags: dict[str, bytes | str]) -> None:
        self._store(key, frags)


Packed = tuple[tuple[str, bool, bytes], ...]  # (format, is text, zlib-compressed fragment)


def pack_entry(frags: dict[str, bytes | str]) -> Packed:
    """Fragments zlib-compressed at level 1 by zlib-ng: ~3x less CPU than the standard
    library's zlib (~100 vs ~300 µs per 10k-bench entry, about what serialising it costs)
    for ~19% more bytes. Packed entries live in memory only; any zlib reads them."""
    return tuple(
        (fmt, isinstance(f, str), zlib_ng.compress(f.encode() if isinstance(f, str) else f, 1))
        for fmt, f in frags.items()
    )


def unpack_entry(packed: Packed) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for fmt, text, z in packed:
        raw = zlib_ng.decompress(z)  # ~2.7x faster than zlib's
        out[fmt] = raw.decode() if text else raw
    return out


class PackedEntryCache(EntryCache):
    """An :class:`EntryCache` holding every fragment zlib-compressed: ~a third of the memory
    for ~40 µs per use (an unpacked 10k-bench entry, on a slow machine), so a long-lived
    builder can keep every shown post's entries (tens of MB at 10,000 posts) and a one-post
    edit re-serialises one entry per feed, not twenty."""

    def __init__(self, max_posts: int = 16384) -> None:
        super().__init__(max_posts)

    def get(self, key: str) -> dict[str, bytes | str] | None:
        packed = self._fetch(key)
        return None if packed is None else unpack_entry(packed)

    def put(self, key: str, frags: dict[str, bytes | str]) -> None:
        self._store(key, pack_entry(frags))

    def put_packed(self, key: str, packed: Packed) -> None:
        self._store(key, packed)

    def get_packed(self, key: str) -> Packed | None:
        return self._fetch(key)  # type: ignore[no-any-return]


_ATOM_NS = "http://www.w3.org/2005/Atom"
_ATOM_END = b"</feed>\n"
_RSS_END = b"  </channel>\n</rss>\n"
#: The namespaces feedgen declares on ``<rss>`` with the dc extension loaded. An item
#: serialised under a root with the same declarations carries none itself, as in the feed.
_RSS_NSMAP = {
    "atom": _ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def entry_fragments(post: Post, config: Config, formats: Sequence[str]) -> dict[str, bytes | str]:
    """One post's entry in each of ``formats``, exactly as :func:`render_group` splices it
    (what its ``cache`` holds): for serialising entries ahead of the feeds that show them."""
    return _entry_fragments(post, config, formats)


def _entry_fragments(post: Post, config: Config, formats: Sequence[str]) -> dict[str, bytes | str]:
    """The post as an Atom ``<entry>``, an RSS ``<item>`` (indented as in the feed) and a JSON
    Feed item (indented as in ``items``), all UTF-8 bytes, for the wanted formats."""
    eng = _engine()
    etree = eng.etree
    out: dict[str, bytes | str] = {}
    if "json" in formats:
        # First: orjson leaves each string's UTF-8 form cached in the str object (CPython), so
        # lxml, which encodes every text it is given (the HTML twice: Atom and RSS), then
        # copies those bytes instead of encoding again.
        out["json"] = _json_item_bytes(_json_item(post, config.feed.content == "full"))
    if "atom" in formats or "rss" in formats:
        fe = eng.FeedEntry()
        fe.register_extension("dc", eng.DcEntryExtension, atom=False, rss=True)
        _fill_entry(fe, post, config)
        if "atom" in formats:
            root = etree.Element("feed", xmlns=_ATOM_NS)
            root.append(fe.atom_entry())
            doc = etree.tostring(root, pretty_print=True, encoding="UTF-8")
            out["atom"] = doc[doc.index(b"\n") + 1 : -len(_ATOM_END)]
        if "rss" in formats:
            root = etree.Element("rss", version="2.0", nsmap=_RSS_NSMAP)
            etree.SubElement(root, "channel").append(fe.rss_entry())
            doc = etree.tostring(root, pretty_print=True, encoding="UTF-8")
            start = doc.index(b"<channel>\n") + len(b"<channel>\n")
            out["rss"] = _rss_char_refs(doc[start : -len(_RSS_END)], _RSS_ITEM_PLAIN)
    return out


def _splice(head: bytes, end: bytes, fragments: Sequence[bytes]) -> bytes:
    """``head`` (the document with no entries) with ``fragments`` inserted before ``end``."""
    if not head.endswith(end):
        raise ValueError("unexpected document layout from feedgen")
    if not fragments:
        return head
    return b"".join([head[: -len(end)], *fragments, end])


# -- JSON Feed 1.1 -----------------------------------------------------------------------------


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


def _json_item(post: Post, full: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": post.id, "url": post.url, "title": _entry_title(post)}
    if full and post.content_html:
        item["content_html"] = post.content_html
    else:
        item["content_text"] = post.summary
    if post.summary:
        item["summary"] = post.summary
    if post.image and is_allowed_url(post.image):
        item["image"] = post.image
    item["date_published"] = rfc3339(post.date)
    item["date_modified"] = rfc3339(post.updated)
    if post.authors:
        item["authors"] = [_json_author(a) for a in post.authors]
    tags = list(dict.fromkeys([*post.categories, *post.tags]))
    if tags:
        item["tags"] = tags
    if post.lang:
        item["language"] = post.lang
    extension: dict[str, Any] = {
        "categories": list(post.categories),
        "tags": list(post.tags),
    }
    reading_time = _reading_time(post)
    if reading_time is not None:
        extension["reading_time"] = reading_time
    item["_feedsmith"] = extension
    return item


def render_json(group: FeedGroup, config: Config) -> bytes:
    """JSON Feed 1.1, written to the spec (feedgen has no JSON Feed support).

    Keys are written in a fixed order (spec order, not sorted) so the bytes are deterministic.
    """
    posts = _shown(group, config)
    full = config.feed.content == "full"
    feed = _json_head(group, config)
    feed["items"] = [_json_item(p, full) for p in posts]
    return (_indented_json(feed) + "\n").encode("utf-8")


#: Where items sit in the document: ``{ "items": [ <item>`` — two levels in.
_JSON_ITEM_INDENT = "\n    "
_JSON_ITEM_INDENT_B = b"\n    "


def _json_head(group: FeedGroup, config: Config) -> dict[str, Any]:
    posts = _shown(group, config)
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(group, config),
        "home_page_url": _home(config),
        "feed_url": feed_url(config, page_file(group, "json", 0)),
    }
    if config.site.description:
        feed["description"] = config.site.description
    paging = group.paging
    if paging is not None and paging.prev:  # JSON Feed pages go one way: to older posts
        feed["next_url"] = feed_url(config, page_file(group, "json", paging.prev))
    if config.site.language:
        feed["language"] = config.site.language
    if config.site.author:
        feed["authors"] = [{"name": config.site.author}]
    hubs = _hubs(group, config)
    if hubs:
        feed["hubs"] = json_hubs(hubs)
    feed["_feedsmith"] = {
        "about": GENERATOR_URI,
        "version": __version__,
        "id": feed_id(group, config),
        "kind": group.kind,
        "updated": rfc3339(_newest_update(posts)),
    }
    if paging is not None and paging.is_archive:
        feed["_feedsmith"]["archive_page"] = paging.page
    return feed


def _json_item_bytes(item: dict[str, Any]) -> bytes:
    """One item of :func:`_json_item` as it sits in ``items``: UTF-8, indented two levels, the
    bytes :func:`render_json` writes for it.

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


def _json_document(group: FeedGroup, config: Config, items: Sequence[bytes | str]) -> bytes:
    """:func:`render_json`'s bytes from pre-serialised items (``items`` is the last key).

    Assembled as bytes: the items are UTF-8 already, and encoding each ~100 KB document from
    text again was a third of what a feed with cached entries cost.
    """
    feed = _json_head(group, config)
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


# -- OPML ---------------------------------------------------------------------------------------


def opml_format(config: Config) -> str:
    """The format OPML subscribes to: Atom when published (best-defined ids and dates)."""
    return next(f for f in ("atom", "rss", "json") if f in config.feed.formats)


def render_opml(groups: Sequence[FeedGroup], config: Config) -> bytes:
    """OPML 2.0 subscription list: one folder outline per kind, one outline per feed.

    ``dateModified`` is the newest update among the listed feeds (omitted with no posts), so the
    file changes only when a feed does.

    Every text in it (outline ``text``/``title``, head ``title``/``ownerName``) is HTML-escaped
    *before* XML escaping, so ``Bits & <Bytes>`` is written ``Bits &amp;amp; &amp;lt;Bytes&gt;``.
    OPML 2.0 says ``text`` may hold encoded HTML and many readers (and the W3C validator) render
    these attributes as HTML: unescaped, a tag named ``<script>…`` would be markup in them.
    Escaping, not stripping, keeps the title the author chose and shows it literally in a reader
    that renders HTML; a reader that shows the attribute as plain text shows the entities.
    """
    from lxml import etree

    fmt = opml_format(config)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _opml_text(config.site.title)
    newest = max(
        (p.updated for g in groups for p in g.posts[: config.feed.max_entries]), default=None
    )
    if newest is not None:
        etree.SubElement(head, "dateModified").text = rfc822(newest)
    if config.site.author:
        etree.SubElement(head, "ownerName").text = _opml_text(config.site.author)
    body = etree.SubElement(root, "body")
    folders: dict[str, Any] = {}
    for group in groups:
        folder = folders.get(group.kind)
        if folder is None:
            text = _OPML_KIND_TITLES.get(group.kind, group.kind)
            # Only `text`: a folder outline with more attributes must have a `type` (OPML 2.0;
            # the W3C validator warns MissingOutlineType), and a folder has no type to give.
            folder = etree.SubElement(body, "outline", text=text)
            folders[group.kind] = folder
        title = _opml_text(feed_title(group, config))
        attrs = {
            "type": "rss",
            "text": title,
            "title": title,
            "xmlUrl": feed_url(config, feed_files(group, [fmt])[fmt]),
            "htmlUrl": _home(config),
        }
        if config.site.language:
            attrs["language"] = xml_safe(config.site.language)
        etree.SubElement(folder, "outline", attrs)
    return etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)


def _opml_text(text: str) -> str:
    """OPML text as the HTML its readers take it for (see :func:`render_opml`)."""
    return html.escape(xml_safe(text), quote=False)
