"""Every name and URL feedsmith publishes, in one place (Datasette's ``url_builder`` idea).

The published tree is a contract with readers, web servers and buckets: a feed's path is its
subscription URL, and ``index.json`` lists exactly these names. So no other module joins path
strings or spells a published file name; they ask here. Timestamps written into published or
shared files (the manifest, ``status.json``, the bucket's and the lease's records) are spelled
here too, one way per kind.

Layout of ``output_dir`` (served under ``/feeds/``)::

    index.json  index.opml  ids.json  feedsmith.css  feedsmith.js
    all.atom.xml  all.rss.xml  all.json  all.html
    categories/<slug>.*  tags/<slug>.*  authors/<slug>.*
    archive/<feed path>/<n>.<suffix>.gz       RFC 5005 archive pages, numbered from the oldest,
                                              stored gzip-compressed only (see below)

Archive pages are stored only as their gzip twin (:func:`stored_gzip_only`) unless
``feed.archive_storage: plain`` (:func:`gzip_only_rule`): a reader
backfilling history fetches each page once, nearly every client sends ``Accept-Encoding: gzip``,
and the plain copies were 209 of the 567 MB of a 10,000-post site. ``serve`` and the bucket
replicas decompress them for the few clients that did not ask for gzip; a static server needs
``gzip_static always; gunzip on;`` (nginx). Everything else keeps its plain file and ``.gz`` twin.

How long a published file may be cached is a published promise too: every file gets ``serve``'s
short ``public, max-age=<interval>`` except the *settled* archive pages
(:func:`settled_archive_pages`), which get :data:`ARCHIVE_CACHE_CONTROL`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from feedsmith.core.config import Config
from feedsmith.core.formats import FORMATS, by_suffix
from feedsmith.core.groups import FeedGroup
from feedsmith.core.names import GZIP_ONLY_RULES, MANIFEST, is_archive_page

#: Every feed as an OPML subscription list.
OPML = "index.opml"
#: Source path → published entry id (see :mod:`feedsmith.core.identity`).
ID_MAP = "ids.json"
#: The feed pages' two assets: published name → file in the package's ``static/`` folder.
ASSETS = {"feedsmith.css": "feed-page.css", "feedsmith.js": "feed-page.js"}
#: Where ``serve`` (and the URLs in every feed) put ``output_dir``.
FEEDS_PREFIX = "/feeds/"
#: A feed page's suffix, beside the feed files: ``tags/ai.html``.
PAGE_SUFFIX = ".html"
#: The folder of each kind of feed; the site feed is ``all`` at the top.
FOLDERS = {"category": "categories", "tag": "tags", "author": "authors"}

CT_OPML = "text/x-opml; charset=utf-8"
CT_JSON = "application/json"
CT_TEXT = "text/plain; charset=utf-8"
CT_HTML = "text/html; charset=utf-8"
CT_CSS = "text/css; charset=utf-8"
CT_JS = "text/javascript; charset=utf-8"
#: By file-name suffix, after the formats' own (``.atom.xml`` before ``.xml``).
_OTHER_TYPES = (
    (".opml", CT_OPML),
    (PAGE_SUFFIX, CT_HTML),
    (".css", CT_CSS),
    (".js", CT_JS),
    (".xml", "application/xml; charset=utf-8"),
)
#: Suffixes of files a build owns in ``output_dir`` (anything else there is left alone).
OWNED_SUFFIXES = (*(f.suffix for f in FORMATS.values()), ".opml", PAGE_SUFFIX, ".css", ".js")


#: The key a file's record (``state.json``) carries when an archive page is stored as a plain
#: file plus its ``.gz`` (``feed.archive_storage: plain``). Absent by default, so a gzip-only
#: site's records and manifest keep their bytes; the mark travels with the record, so whoever
#: holds the record (the manifest, the owned-files listing, the stat checks, the bucket sink)
#: agrees with the build that wrote it without the config.
PLAIN_MARK = "plain"


def stored_gzip_only(rel: str, record: Mapping[str, Any] | None = None) -> bool:
    """Whether ``rel`` (a published path, as the manifest lists it) is stored only as
    ``rel + ".gz"``, with no plain file: every archive page, unless its ``record`` says it was
    stored plain (:data:`PLAIN_MARK`, ``feed.archive_storage: plain``, for hosts such as GitHub
    Pages that can neither send a ``.gz`` for a plain URL nor decompress). Without a record:
    the default storage's rule, on the name alone."""
    if not is_archive_page(rel):
        return False
    return record is None or record.get(PLAIN_MARK) is not True


def gzip_only_rule(archive_storage: str) -> Callable[[str], bool]:
    """The rule a build with ``feed.archive_storage`` stores by (:data:`GZIP_ONLY_RULES`): the
    archive pages for ``gzip`` (the default), nothing for ``plain``."""
    return GZIP_ONLY_RULES[archive_storage]


def listed_gzip_only(rel: str, listed: Mapping[str, Any]) -> bool:
    """Whether the manifest's record of ``rel`` names a path stored only as ``.gz``: an archive
    page listed with ``gz_bytes`` (:mod:`feedsmith.publish.manifest` writes it for those
    alone; a page stored plain has its twin and no ``gz_bytes``). What ``serve``, a replica and
    a fresh clone's bucket sink read, without the config."""
    return is_archive_page(rel) and "gz_bytes" in listed


def content_type_for(rel: str) -> str:
    """The Content-Type of a published file, from its name."""
    if rel in (MANIFEST, ID_MAP):  # JSON, but not JSON Feeds
        return CT_JSON
    name = rel.rsplit("/", 1)[-1]
    fmt = by_suffix(name)
    if fmt is not None:
        return fmt.content_type
    for suffix, content_type in _OTHER_TYPES:
        if name.endswith(suffix):
            return content_type
    return "application/octet-stream"


# -- feeds ---------------------------------------------------------------------------------------


def feed_base(group: FeedGroup) -> str:
    """The group's path without suffix, ``all`` or ``tags/<slug>``: each format and the feed
    page add theirs."""
    return "all" if group.kind == "all" else f"{FOLDERS[group.kind]}/{group.slug}"


def archive_path(base: str, page: int, suffix: str) -> str:
    """``archive/<feed path>/<page><suffix>``, e.g. ``archive/tags/python/3.atom.xml``: beside
    the feeds, never inside their folders."""
    return f"archive/{base}/{page}{suffix}"


def page_file(group: FeedGroup, fmt: str, page: int) -> str:
    """Page ``page`` of the group's feed in ``fmt`` (``0``: the subscription document,
    ``all.atom.xml``; ``n``: ``archive/all/n.atom.xml``)."""
    base = feed_base(group)
    suffix = FORMATS[fmt].suffix
    return archive_path(base, page, suffix) if page else base + suffix


def feed_files(group: FeedGroup, formats: Sequence[str]) -> dict[str, str]:
    """Format → path relative to ``output_dir`` (Unicode on disk, percent-encoded in URLs);
    an archive page's group gives that page's paths."""
    page = group.paging.page if group.paging is not None else 0
    return {fmt: page_file(group, fmt, page) for fmt in formats}


def feed_page_file(group: FeedGroup) -> str:
    """``all.html``, ``tags/<slug>.html``: the feed's human page, beside its files."""
    return feed_base(group) + PAGE_SUFFIX


def feed_url(config: Config, rel_path: str) -> str:
    """Absolute URL of a published file: ``site.url`` + ``/feeds/`` + the quoted path."""
    return f"{config.site.url}{FEEDS_PREFIX}{quote(rel_path, safe='/')}"


def feed_href(rel_path: str) -> str:
    """The site-relative URL of a published file (``/feeds/tags/%E6%9C%80.atom.xml``)."""
    return FEEDS_PREFIX + quote(rel_path, safe="/")


# -- caching -------------------------------------------------------------------------------------

#: A settled archive page: 30 days, and ``immutable`` so a browser does not even revalidate on
#: reload. Why it is safe enough: such a page changes only when a post on it is edited or
#: removed, or a back-dated post shifts it (:mod:`feedsmith.core.archive`); then a cache may show
#: the old page for up to 30 days, while the subscription document, which every reader polls,
#: carries the change at once. What it buys: a reader backfilling history, a CDN and the bucket
#: serve the bulk of the bytes without a single request to the origin.
ARCHIVE_CACHE_CONTROL = "public, max-age=2592000, immutable"


def archive_page_number(rel: str) -> int | None:
    """``n`` of ``archive/<feed path>/<n>.<suffix>`` (:func:`archive_path`), else ``None``."""
    if not rel.startswith("archive/"):
        return None
    name = rel.rsplit("/", 1)[-1]
    digits, dot, _ = name.partition(".")
    if not dot or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)


def settled_archive_pages(manifest: Mapping[str, object]) -> frozenset[str]:
    """The archive pages in ``index.json``'s data that may be cached as immutable: every page
    of a feed but its newest.

    The newest page is left out because it changes once more in the normal course of things:
    when the next page fills it gains its ``next-archive`` link. Every older page has that link
    already. The rule reads only the manifest, so ``serve``, a bucket replica and the bucket
    sink agree without the config; a manifest of another shape (a bucket's, untrusted) yields
    fewer pages, never an error.
    """
    settled: set[str] = set()
    feeds = manifest.get("feeds") if isinstance(manifest, Mapping) else None
    if not isinstance(feeds, list):
        return frozenset()
    for feed in feeds:
        archive = feed.get("archive") if isinstance(feed, Mapping) else None
        files = archive.get("files") if isinstance(archive, Mapping) else None
        if not isinstance(files, Mapping):
            continue
        numbered = {
            rel: number
            for rel in files
            if isinstance(rel, str) and (number := archive_page_number(rel)) is not None
        }
        newest = max(numbered.values(), default=0)
        settled.update(rel for rel, number in numbered.items() if number < newest)
    return frozenset(settled)


# -- timestamps ----------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    # Clocks here are aware; a naive value can only mean UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_seconds(value: datetime) -> str:
    """``2025-11-16T20:35:04Z``: the manifest's and the bucket's records' one spelling."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_exact(value: datetime) -> str:
    """``…T20:35:04Z``, with microseconds when there are any: ``status.json``'s times, which
    measure builds."""
    text = _utc(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_millis(value: datetime) -> str:
    """``…T20:35:04.123Z``: the lease's times, compared across builders."""
    return _utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """What the three above write (and any ISO 8601 time) back, in UTC; naive means UTC."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, not {type(value).__name__}")
    return _utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
