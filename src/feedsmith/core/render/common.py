"""What every format's renderer shares: feed titles and ids, the date spellings, which posts a
document shows, and the links it is handed.

Every renderer is a pure function of the group and the config. Nothing reads the clock: feedgen
defaults the feed's ``updated``/``lastBuildDate`` and every entry's ``updated`` to *now*, so all
of them are set explicitly (the feed's to the newest shown entry's ``updated``). The same posts
therefore give byte-identical files, which keeps ETags put and pollers quiet.

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

URLs are not made here: :class:`DocLinks` carries them in (Datasette's ``url_builder`` idea),
so renderers depend on neither :mod:`feedsmith.core.layout` nor the format table that holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from feedsmith.core.config import Config
from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Post
from feedsmith.core.text import xml_safe

GENERATOR_NAME = "feedsmith"
GENERATOR_URI = "https://pypi.org/project/feedsmith/"
#: The date part of feed tag URIs. Fixed forever: changing it would change every feed id.
FEED_ID_DATE = "2005"
#: ``updated`` of a feed with no entries (an empty blog's site feed): fixed, never "now".
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_KIND_LABEL = {"category": "category", "tag": "tag", "author": "author"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
RFC2822_FORMAT = "%a, %d %b %Y %H:%M:%S %z"  # what feedgen's formatRFC2822 asks for


@dataclass(frozen=True)
class DocLinks:
    """The URLs one document of a feed links to, made by the caller from the layout."""

    self_url: str  # this document's own URL (``rel=self``)
    page: Callable[[int], str]  # page ``n`` of the same feed in the same format (0: subscription)
    link_type: str  # the media type of those links
    schemes: Mapping[str, str]  # post kind (category, tag) → the feed folder URL, a scheme


class Renderer(Protocol):
    """What the format table holds for a format: its engine and its whole-document renderer."""

    @property
    def engine(self) -> Engine: ...

    def document(self, group: FeedGroup, config: Config, links: DocLinks) -> bytes:
        """The whole document, entries serialised in place (the reference bytes)."""
        ...


#: A format's part in a spliced document: its renderer, its links, its serialised entries.
Part = tuple[Renderer, DocLinks, Sequence[bytes | str]]


class Engine(Protocol):
    """Serialises entries and documents for the formats that share it (feedgen writes Atom and
    RSS from one entry object): each entry is built once, whatever number of its formats."""

    #: Engines serialise an entry in ascending rank (see :mod:`.jsonfeed` for why JSON is 0).
    rank: int

    def entries(
        self,
        post: Post,
        config: Config,
        renderers: Sequence[Renderer],
        schemes: Mapping[str, str],
    ) -> list[bytes | str]:
        """The post's entry in each renderer's format, as it sits in the document."""
        ...

    def documents(self, group: FeedGroup, config: Config, parts: Sequence[Part]) -> list[bytes]:
        """One document per part, in the parts' order, with the serialised entries spliced in."""
        ...


# -- titles, ids, dates ------------------------------------------------------------------------


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
        if fmt == RFC2822_FORMAT:
            return rfc822(self)
        return super().strftime(fmt)


def feed_date(dt: datetime) -> datetime:
    """``dt`` as a datetime feedgen writes in this module's spellings."""
    u = dt.astimezone(UTC)
    return _FeedDate(u.year, u.month, u.day, u.hour, u.minute, u.second, tzinfo=UTC)


# -- what a document shows ---------------------------------------------------------------------


def shown(group: FeedGroup, config: Config) -> tuple[Post, ...]:
    """The posts a document of the group holds: its newest ``max_entries``."""
    return group.posts[: config.feed.max_entries]


def newest_update(posts: Iterable[Post]) -> datetime:
    return max((p.updated for p in posts), default=EPOCH)


def home(config: Config) -> str:
    return config.site.url + "/"


def entry_title(post: Post) -> str:
    # feedgen refuses an empty title; posts.py always gives one, but a crash here loses a build.
    return post.title or post.slug or post.id
