"""Atom 1.0 and RSS 2.0 through feedgen: one entry object serves both formats.

Both formats share one :class:`FeedgenEngine`: a post's ``FeedEntry`` is filled once and
serialised as an Atom ``<entry>`` and an RSS ``<item>``, and one ``FeedGenerator`` writes both
documents around the entries. The splice points are where lxml's pretty-printer puts entries
(tests compare every byte with feedgen's own whole-document output).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

from feedsmith import __version__
from feedsmith.core.archive import HistoryExtension, NoEntryExtension, archive_links
from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Author, Post
from feedsmith.core.render.common import (
    GENERATOR_NAME,
    GENERATOR_URI,
    DocLinks,
    Part,
    Renderer,
    entry_title,
    feed_date,
    feed_id,
    feed_title,
    home,
    newest_update,
    shown,
)
from feedsmith.core.render.hubs import HubExtension, NoHubEntryExtension, doc_hubs
from feedsmith.core.render.media_rss import (
    MEDIA_NS,
    MediaEntryExtension,
    MediaNamespace,
    atom_links,
    content_with_image,
    has_media,
    has_media_rss,
    rss_enclosure,
)
from feedsmith.core.text import xml_safe
from feedsmith.core.urlsafety import is_allowed_url

if TYPE_CHECKING:  # types only: feedgen is imported on first use (see below)
    from feedgen.entry import FeedEntry
    from feedgen.feed import FeedGenerator

__all__ = ["ATOM", "FEEDGEN", "RSS", "load_engine"]

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


def _generator(
    group: FeedGroup,
    config: Config,
    schemes: Mapping[str, str],
    entries: Sequence[Post] | None = None,
) -> FeedGenerator:
    """One feedgen object serving both Atom and RSS.

    Only the self link and the RSS channel description differ between the two; they are set
    by :func:`_atom_bytes` / :func:`_rss_bytes` right before serialising. ``entries`` are the
    posts to add as entries (default: the shown posts); the feed-level fields always come from
    the shown posts, so ``entries=()`` gives the document the entries are spliced into.
    """
    eng = _engine()
    posts = shown(group, config)
    fg = eng.FeedGenerator()
    # What fg.load_extension("dc", atom=False, rss=True) registers, without its lookup of a
    # ``feedgen.ext.dc_entry`` module that does not exist: a failed import (a search of
    # sys.path) per feed was ~4% of rendering a feed whose entries were cached.
    fg.register_extension("dc", eng.DcExtension, eng.DcEntryExtension, atom=False, rss=True)
    if group.paging is not None:
        fg.register_extension("fh", HistoryExtension, NoEntryExtension, atom=True, rss=True)
        fg.fh.paging = group.paging
    hubs = doc_hubs(group, config)
    if hubs:  # registered only then: without hubs the documents are what they were
        fg.register_extension("websub", HubExtension, NoHubEntryExtension, atom=False, rss=True)
        fg.websub.hubs = hubs
    if any(has_media_rss(p) for p in posts):
        # Registered only then: a blog without pictures keeps its bytes (no xmlns:media).
        fg.register_extension("media", MediaNamespace, MediaEntryExtension, atom=True, rss=True)
    fg.id(feed_id(group, config))
    fg.title(feed_title(group, config))
    fg.updated(feed_date(newest_update(posts)))  # sets lastBuildDate too
    fg.author({"name": _feed_author(config)})
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    description = xml_safe(config.site.description)
    if description:
        fg.subtitle(description)  # also the RSS channel description
    if config.site.language:
        fg.language(xml_safe(config.site.language))
    # feedgen prepends by default; append keeps newest first.
    for post in posts if entries is None else entries:
        _fill_entry(fg.add_entry(order="append"), post, config, schemes)
    return fg


def _fill_entry(fe: FeedEntry, post: Post, config: Config, schemes: Mapping[str, str]) -> None:
    full = config.feed.content == "full"
    cat_scheme = schemes["category"]
    tag_scheme = schemes["tag"]
    fe.id(post.id)  # also the RSS guid, isPermaLink="false"
    fe.title(entry_title(post))
    fe.link(href=post.url, rel="alternate", type="text/html")
    fe.published(feed_date(post.date))  # RSS pubDate
    fe.updated(feed_date(post.updated))
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
        content = post.content_html
        if config.feed.image_in_content:
            content = content_with_image(post, content)
        fe.content(content, type="html")
    elif not post.summary:
        # A post with no text at all (no body, no excerpt): an Atom entry needs *some*
        # textual content (the validator's MissingTextualContent), and an empty HTML content
        # says exactly what there is, where a made-up summary (the title again) would not.
        # Atom only: feedgen's content() would also give RSS an empty <description>.
        fe._FeedEntry__atom_content = {"content": "", "type": "html"}  # type: ignore[attr-defined]
    _fill_media(fe, post)


def _fill_media(fe: FeedEntry, post: Post) -> None:
    """Picture and attachments (:mod:`.media_rss` says what each format gets)."""
    if not has_media(post):
        return
    if not hasattr(fe, "media"):  # an entry of a generator with pictures has it already
        fe.register_extension("media", MediaEntryExtension, atom=True, rss=True)
    fe.media.picture = post.picture if has_media_rss(post) else None
    fe.media.links = atom_links(post)
    # RSS's one <enclosure> (feedgen writes it from this; its own link() would take the last).
    fe._FeedEntry__rss_enclosure = rss_enclosure(post)  # type: ignore[attr-defined]


def _set_links(fg: FeedGenerator, group: FeedGroup, config: Config, links: DocLinks) -> None:
    self_type = links.link_type
    # feedgen takes the RSS <link> from the *last* link added: the home page must come last.
    fg.link(href=links.self_url, rel="self", type=self_type, replace=True)
    for hub in doc_hubs(group, config):  # Atom; RSS gets them from HubExtension
        fg.link(href=hub, rel="hub")
    if group.paging is not None:
        archive = archive_links(group.paging, links.page)
        fg.fh.links = [(rel, href, self_type) for rel, href in archive]  # RSS: written by fh
        for rel, href in archive:
            fg.link(href=href, rel=rel, type=self_type)
    fg.link(href=home(config), rel="alternate", type="text/html")


def _atom_bytes(fg: FeedGenerator, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
    _set_links(fg, group, config, links)
    return fg.atom_str(pretty=True, encoding="UTF-8")


def _rss_bytes(fg: FeedGenerator, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
    _set_links(fg, group, config, links)
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


_ATOM_NS = "http://www.w3.org/2005/Atom"
_ATOM_END = b"</feed>\n"
_RSS_END = b"  </channel>\n</rss>\n"
#: The namespaces feedgen declares on ``<rss>`` with the dc extension loaded. An item
#: serialised under a root with the same declarations carries none itself, as in the feed.
_RSS_NSMAP = {
    "atom": _ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": MEDIA_NS,  # declared by the documents whose entries use it (see _generator)
}


def _splice(head: bytes, end: bytes, fragments: Sequence[bytes]) -> bytes:
    """``head`` (the document with no entries) with ``fragments`` inserted before ``end``."""
    if not head.endswith(end):
        raise ValueError("unexpected document layout from feedgen")
    if not fragments:
        return head
    return b"".join([head[: -len(end)], *fragments, end])


class FeedgenEngine:
    """Atom and RSS entries from one filled ``FeedEntry``, documents from one generator."""

    rank = 1  # after JSON (see :mod:`.jsonfeed`)

    def entries(
        self,
        post: Post,
        config: Config,
        renderers: Sequence[Renderer],
        schemes: Mapping[str, str],
    ) -> list[bytes | str]:
        eng = _engine()
        fe = eng.FeedEntry()
        fe.register_extension("dc", eng.DcEntryExtension, atom=False, rss=True)
        _fill_entry(fe, post, config, schemes)
        return [_own(r).entry(fe) for r in renderers]

    def documents(self, group: FeedGroup, config: Config, parts: Sequence[Part]) -> list[bytes]:
        fg = _generator(group, config, parts[0][1].schemes, ())
        done: dict[int, bytes] = {}
        for i in sorted(range(len(parts)), key=lambda i: _own(parts[i][0]).order):
            renderer, links, fragments = parts[i]
            done[i] = _own(renderer).spliced(fg, group, config, links, fragments)  # type: ignore[arg-type]
        return [done[i] for i in range(len(parts))]


FEEDGEN = FeedgenEngine()


class _Atom:
    """Atom 1.0: the feed's documents and its entries as feedgen writes them."""

    engine = FEEDGEN
    #: The order documents are written from the shared generator: Atom before RSS, which may
    #: set the channel description (and feedgen would make it the Atom subtitle too).
    order = 0

    def document(self, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
        """Atom 1.0 document for the group's newest ``max_entries`` posts."""
        return _atom_bytes(_generator(group, config, links.schemes), group, config, links)

    def entry(self, fe: FeedEntry) -> bytes:
        """The entry as it sits in the document: indented, no namespace declaration."""
        etree = _engine().etree
        root = etree.Element("feed", xmlns=_ATOM_NS, nsmap={"media": MEDIA_NS})
        root.append(fe.atom_entry())
        doc = etree.tostring(root, pretty_print=True, encoding="UTF-8")
        return doc[doc.index(b"\n") + 1 : -len(_ATOM_END)]  # type: ignore[no-any-return]

    def spliced(
        self,
        fg: FeedGenerator,
        group: FeedGroup,
        config: Config,
        links: DocLinks,
        fragments: Sequence[bytes],
    ) -> bytes:
        return _splice(_atom_bytes(fg, group, config, links), _ATOM_END, fragments)


class _Rss:
    """RSS 2.0: ``lastBuildDate`` is the newest shown entry's update, never now."""

    engine = FEEDGEN
    order = 1

    def document(self, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
        """RSS 2.0 document; ``lastBuildDate`` is the newest shown entry's update, never now."""
        return _rss_bytes(_generator(group, config, links.schemes), group, config, links)

    def entry(self, fe: FeedEntry) -> bytes:
        """The item as it sits in the channel: indented as in the feed, no namespaces."""
        etree = _engine().etree
        root = etree.Element("rss", version="2.0", nsmap=_RSS_NSMAP)
        etree.SubElement(root, "channel").append(fe.rss_entry())
        doc = etree.tostring(root, pretty_print=True, encoding="UTF-8")
        start = doc.index(b"<channel>\n") + len(b"<channel>\n")
        return _rss_char_refs(doc[start : -len(_RSS_END)], _RSS_ITEM_PLAIN)

    def spliced(
        self,
        fg: FeedGenerator,
        group: FeedGroup,
        config: Config,
        links: DocLinks,
        fragments: Sequence[bytes],
    ) -> bytes:
        return _splice(_rss_bytes(fg, group, config, links), _RSS_END, fragments)


_FeedgenFormat = _Atom | _Rss


def _own(renderer: Renderer) -> _FeedgenFormat:
    """A renderer this engine was handed: one of its own formats (the table pairs them)."""
    if not isinstance(renderer, _Atom | _Rss):
        raise TypeError(f"not a feedgen format: {renderer!r}")
    return renderer


ATOM = _Atom()
RSS = _Rss()


def show_generator(group: FeedGroup, config: Config, schemes: Mapping[str, str]) -> FeedGenerator:
    """The generator of a group's documents, all its ``shown`` posts as entries: what a
    podcast show's RSS (:mod:`.podcast`) extends."""
    return _generator(group, config, schemes)


def show_rss_bytes(fg: FeedGenerator, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
    """:func:`show_generator`'s RSS document, spelled as every RSS document here."""
    return _rss_bytes(fg, group, config, links)


def lxml_etree() -> object:
    """lxml's ``etree`` (imported on first use, see :func:`_engine`)."""
    return _engine().etree
