"""A feed group's documents in each format: where the layout's URLs meet the format table's
renderers.

Renderers are handed their URLs (they import neither layout nor the table, see
:mod:`feedsmith.core.formats`), so this module builds them (:func:`doc_links`) and walks the
table: no format is named here, and a new format is served by the same loop.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Mapping, Sequence

from feedsmith.core.config import Config
from feedsmith.core.formats import FORMATS
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import FEEDS_PREFIX, FOLDERS, feed_files, feed_url, page_file
from feedsmith.core.model import Post
from feedsmith.core.render.common import DocLinks, Engine, shown
from feedsmith.core.render.entries import EntryCache

__all__ = [
    "SUMMARY_KEY",
    "doc_links",
    "document_config",
    "entry_fragments",
    "fragment_config",
    "fragment_key",
    "render_atom",
    "render_document",
    "render_group",
    "render_json",
    "render_rss",
]


#: Prefix of the entry key of a post's summary-only fragments (an archive page's, with
#: ``feed.archive_content: summary``): other bytes than its full entry, so another key.
SUMMARY_KEY = "summary\x00"


#: id(config) -> (that config, its summary-only twin). By identity, not an ``lru_cache``:
#: hashing a Config walks every field (~4 µs), and a cold build asks once per archive
#: entry (~150,000 times at 10,000 posts). The config is held, so its id stays its own.
_SUMMARY_CONFIGS: dict[int, tuple[Config, Config]] = {}


def _summary_config(config: Config) -> Config:
    held = _SUMMARY_CONFIGS.get(id(config))
    if held is not None and held[0] is config:
        return held[1]
    summary = dataclasses.replace(config, feed=dataclasses.replace(config.feed, content="summary"))
    if len(_SUMMARY_CONFIGS) >= 8:  # a service reloading its config: drop the old ones
        _SUMMARY_CONFIGS.clear()
    _SUMMARY_CONFIGS[id(config)] = (config, summary)
    return summary


def document_config(group: FeedGroup, config: Config) -> Config:
    """The config the group's document is rendered with: an archive page's entries carry only
    the summary and the link with ``feed.archive_content: summary``.

    Why: archive pages hold every post of every feed it is in, once per format — most of a
    site's bytes with full content — and are read once, by a reader backfilling history, who
    follows the link; the subscription document, polled for new posts, keeps ``feed.content``.
    """
    feed = config.feed
    paging = group.paging
    if (
        paging is None
        or not paging.is_archive
        or feed.archive_content == "full"
        or feed.content == "summary"
    ):
        return config
    return _summary_config(config)


def fragment_key(key: str, group: FeedGroup, config: Config) -> str:
    """The entry-cache key of a post's fragments in the group's documents, from the caller's
    key of the post (equal posts, equal keys): summary-only fragments get their own."""
    if document_config(group, config) is config or key.startswith(SUMMARY_KEY):
        return key
    # Interned: a post is on an archive page of each of its feeds (~8 at the bench's spread),
    # and every plan holds these keys until its feeds are rendered; one string per post instead
    # of one per page was ~32 MB of a 10,000-post cold build's peak (~3 KB a post).
    return sys.intern(SUMMARY_KEY + key)


def fragment_config(key: str, config: Config) -> Config:
    """The config fragments under ``key`` (a :func:`fragment_key`) are serialised with: what
    a worker serialising entries ahead of their documents needs, knowing only the key."""
    if key.startswith(SUMMARY_KEY) and config.feed.content != "summary":
        return _summary_config(config)
    return config


def _schemes(config: Config) -> dict[str, str]:
    """Post kind → the feed folder URL its ``<category scheme>`` names."""
    base = f"{config.site.url}{FEEDS_PREFIX}"
    return {kind: f"{base}{FOLDERS[kind]}/" for kind in ("category", "tag")}


def doc_links(group: FeedGroup, config: Config, fmt: str) -> DocLinks:
    """The URLs the group's document in ``fmt`` links to (an archive page's group: that
    page's)."""
    return DocLinks(
        self_url=feed_url(config, feed_files(group, [fmt])[fmt]),
        page=lambda n: feed_url(config, page_file(group, fmt, n)),
        link_type=FORMATS[fmt].link_type,
        schemes=_schemes(config),
    )


def render_document(group: FeedGroup, config: Config, fmt: str) -> bytes:
    """The group's whole document in ``fmt``, entries serialised in place: the reference
    bytes :func:`render_group` splices to."""
    config = document_config(group, config)
    return FORMATS[fmt].renderer.document(group, config, doc_links(group, config, fmt))


def render_atom(group: FeedGroup, config: Config) -> bytes:
    """Atom 1.0 document for the group's newest ``max_entries`` posts."""
    return render_document(group, config, "atom")


def render_rss(group: FeedGroup, config: Config) -> bytes:
    """RSS 2.0 document; ``lastBuildDate`` is the newest shown entry's update, never now."""
    return render_document(group, config, "rss")


def render_json(group: FeedGroup, config: Config) -> bytes:
    """JSON Feed 1.1 document."""
    return render_document(group, config, "json")


@functools.cache
def _by_engine(formats: tuple[str, ...]) -> tuple[tuple[Engine, tuple[str, ...]], ...]:
    """``formats`` grouped by the engine writing them, engines in rank order."""
    engines: dict[Engine, list[str]] = {}
    for name in formats:
        engines.setdefault(FORMATS[name].renderer.engine, []).append(name)
    ranked = sorted(engines.items(), key=lambda item: item[0].rank)
    return tuple((engine, tuple(names)) for engine, names in ranked)


def entry_fragments(post: Post, config: Config, formats: Sequence[str]) -> dict[str, bytes | str]:
    """One post's entry in each of ``formats``, exactly as :func:`render_group` splices it
    (what its ``cache`` holds): for serialising entries ahead of the feeds that show them."""
    return _entry_fragments(post, config, formats)


def _entry_fragments(post: Post, config: Config, formats: Sequence[str]) -> dict[str, bytes | str]:
    """The post's entry in each wanted format as it sits in that format's document, UTF-8
    bytes; formats sharing an engine share the work."""
    schemes: Mapping[str, str] = _schemes(config)
    out: dict[str, bytes | str] = {}
    for engine, names in _by_engine(tuple(formats)):
        renderers = [FORMATS[name].renderer for name in names]
        out.update(zip(names, engine.entries(post, config, renderers, schemes), strict=True))
    return out


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
    into each document: the engine writes the document around the entries and each entry
    itself, and the splice points are where its serialiser puts them (tests compare every byte
    with the whole-document output). With ``cache`` and ``keys`` (one per shown post; equal
    keys must mean equal posts, see ``build``; an archive page's summary-only entries need
    their own, see :func:`fragment_key`), fragments are reused across calls, and ``prepare``
    is applied only to posts whose entries must be serialised (``build`` passes posts without
    their HTML and puts it back there).
    """
    if keys is not None:
        keys = [fragment_key(key, group, config) for key in keys]
    if document_config(group, config) is not config:
        config = document_config(group, config)
        prepare = None  # a summary-only entry needs no HTML: the post's is not even put back
    wanted = tuple(config.feed.formats if formats is None else formats)
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown feed format {unknown[0]!r}")
    posts = shown(group, config)
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
    for engine, names in _by_engine(wanted):
        parts = [
            (FORMATS[n].renderer, doc_links(group, config, n), [f[n] for f in fragments])
            for n in names
        ]
        done.update(zip(names, engine.documents(group, config, parts), strict=True))
    return {fmt: done[fmt] for fmt in wanted}
