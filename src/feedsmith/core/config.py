"""The settings every stage reads: one frozen :class:`Config`, built once and passed in.

These are plain dataclasses, so the pure core can take them without learning where they came
from: :mod:`feedsmith.config` reads and checks ``config.yaml`` (naming the key and the file for
any mistake) and is the only place that builds one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from feedsmith import RENDERING_REVISION, __version__
from feedsmith.core.model import Author

DEFAULT_PERMALINK = "/:categories/:year/:month/:day/:title.html"
#: The formats ``feed.formats`` may name, in their canonical order: the names of
#: :data:`feedsmith.core.formats.FORMATS` (which imports the renderers, which take a Config, so it
#: cannot be imported here; ``tests/test_config.py`` checks the two agree).
FORMATS = ("atom", "rss", "json")


class ConfigError(Exception):
    """A configuration problem, worded for the person editing the file.

    ``str(err)`` is the single line the CLI prints before exiting with status 2.
    """

    def __init__(self, file: Path | str, key: str | None, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class SiteConfig:
    title: str = "My blog"
    url: str = "http://localhost:8080"
    description: str = ""
    language: str = "en"
    author: str = ""


@dataclass(frozen=True)
class FeedConfig:
    max_entries: int = 20
    content: Literal["full", "summary"] = "full"
    formats: tuple[str, ...] = FORMATS
    #: RFC 5005 archives: every post stays reachable from the subscription document.
    archive: bool = True
    #: Posts per archive page; ``0`` in the file means "the same as max_entries" (at most that:
    #: the newest, not yet full page's posts are only in the subscription document).
    archive_page_size: int = 20
    #: What an archive page's entries carry: ``summary`` (title, link, dates, authors,
    #: categories, the summary) or ``full`` (as the subscription document, per ``content``).
    #: Archive pages are most of a site's bytes; a backfilling reader follows the link.
    archive_content: Literal["summary", "full"] = "summary"
    #: How archive pages are stored: ``gzip`` (only ``<n>.atom.xml.gz``: a static server must
    #: send it or decompress it) or ``plain`` (a plain file and its ``.gz`` like every other
    #: document, for hosts that can do neither, e.g. GitHub Pages; 15.4 MB more at 1,000
    #: posts, measured). Part of the fingerprint, so switching it is a full build.
    archive_storage: Literal["gzip", "plain"] = "gzip"
    #: An HTML page per feed (``tags/ai.html``) for people who click a feed link.
    pages: bool = True
    #: The post's picture also as an ``<img>`` atop the full content, for readers that ignore
    #: Media RSS (off: most readers show ``media:thumbnail``, and would then show it twice).
    image_in_content: bool = False


@dataclass(frozen=True)
class ScheduleConfig:
    interval_seconds: int = 300
    watch: bool = True  # `serve` builds when post files change, not only at ticks
    settle_ms: int = 300  # a posts folder written to less than this ago is waited for


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    #: Request bodies (the hub's form posts, the rebuild webhook) above this → 413 unread.
    max_body_bytes: int = 65536
    #: A request body must arrive within this → 408: a slow client cannot hold a web thread.
    body_timeout_seconds: float = 10.0
    #: Reverse proxies (addresses or CIDR networks) whose ``X-Forwarded-For`` is believed: the
    #: client address subscriber counting hashes. Empty: the peer address is the client.
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class S3Config:
    """``publish.s3``: where :mod:`feedsmith.publish.s3.sink` mirrors the published tree.

    No credentials here on purpose: boto3's own chain (environment, profile, instance role)
    supplies them, so a config file can be committed and shared.
    """

    bucket: str
    prefix: str = "feeds/"
    endpoint_url: str | None = None
    region: str | None = None
    cache_control: str | None = None  # None: what `serve` sends (public, max-age=interval)
    #: Days a vanished feed's "gone" object stays before it is deleted (0: delete at once).
    gone_days: int = 30
    #: Builders elect one publisher with a lease object in the bucket
    #: (:mod:`feedsmith.publish.s3.lease`): a dead leader is replaced about this many seconds after
    #: its last renewal.
    lease_seconds: float = 30.0
    #: ``serve --from-bucket``: how often a replica asks whether the manifest changed.
    refresh_seconds: float = 2.0


@dataclass(frozen=True)
class PublishConfig:
    s3: S3Config | None = None


@dataclass(frozen=True)
class LeaseConfig:
    """Subscription lease bounds of the built-in hub (W3C WebSub §5.1: the hub decides)."""

    default: int = 864_000  # 10 days
    min: int = 3600
    max: int = 2_592_000  # 30 days


@dataclass(frozen=True)
class WebSubConfig:
    """WebSub (W3C Recommendation): hubs advertised in every feed and told of its changes."""

    hubs: tuple[str, ...] = ()  # external hubs to advertise and ping
    builtin: bool = False  # feedsmith itself is a hub at {site.url}/websub, advertised first
    #: The built-in hub refuses callbacks resolving to loopback/private/link-local addresses
    #: (SSRF) unless this is true (tests, an intranet).
    allow_private_callbacks: bool = False
    lease_seconds: LeaseConfig = field(default_factory=LeaseConfig)
    max_subscriptions: int = 10_000  # built-in hub, in total
    max_per_host: int = 100  # built-in hub, per callback host

    @property
    def enabled(self) -> bool:
        return self.builtin or bool(self.hubs)


@dataclass(frozen=True)
class JekyllSite:
    """``jekyll:``: a Jekyll site read as Jekyll reads it (:mod:`feedsmith.config.jekyll`).

    Everything a post's parse needs from the site is here, as plain hashable values (JSON text
    for the free-form parts), so it reaches worker processes with the Config and is covered by
    :meth:`Config.fingerprint`: editing ``_config.yml``, ``_data`` or ``_includes`` re-parses.
    """

    root: Path
    #: The ``_config*.yml`` files read, in order (later ones win, as ``jekyll --config a,b``).
    config_files: tuple[str, ...] = ("_config.yml",)
    #: ``baseurl`` ("/blog" or ""), already part of ``site.url``; Liquid's ``relative_url`` adds it.
    baseurl: str = ""
    #: The posts' permalink pattern, styles (``pretty``…) expanded: ``collections.posts.permalink``
    #: over ``permalink`` over Jekyll's default.
    permalink: str = "/:categories/:year/:month/:day/:title:output_ext"
    #: ``defaults:`` as JSON: ``[{"scope": {"path": …, "type": …}, "values": {…}}, …]``.
    defaults_json: str = "[]"
    excerpt_separator: str = "\n\n"
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    #: What Liquid sees as ``site`` (the merged ``_config*.yml``, ``data`` from ``_data/``), JSON.
    site_json: str = "{}"
    #: Changes whenever a file under ``_includes/`` changes (names, sizes, contents).
    includes_digest: str = ""
    #: jekyll-feed's published feeds, kept answering (:mod:`feedsmith.serve.app`):
    #: ``feed.path`` and, where configured, its category and tag feeds: (kind, name, path).
    feed_path: str = "/feed.xml"
    feed_aliases: tuple[tuple[str, str, str], ...] = ()
    #: ``render_with_liquid`` for posts that do not say (front matter or defaults).
    render_with_liquid: bool = True
    #: The site's ``permalink:`` as written (a style name or a pattern; ``date`` when unset):
    #: pages end their URLs the way it ends (:func:`feedsmith.core.jekyll.rules.page_url_path`).
    permalink_style: str = "date"
    #: ``feed.tags.except``: with a ``("tag", "*", prefix)`` alias (``tags: true``), every tag
    #: of ``[A-Za-z0-9_]+`` but these has a jekyll-feed feed at ``prefix + tag + ".xml"``.
    feed_tags_except: tuple[str, ...] = ()
    #: Whether the site used jekyll-feed (in ``plugins``/``gems``, or a ``feed:`` section).
    jekyll_feed: bool = False
    #: Files under ``_includes/`` (what ``check`` reports).
    includes_count: int = 0
    #: What ``check`` should tell the user about how the site was read (defaults taken, files
    #: skipped); one line each.
    notes: tuple[str, ...] = ()

    @property
    def includes_dir(self) -> Path:
        return self.root / "_includes"


@dataclass(frozen=True)
class StatsConfig:
    """``stats:``: subscriber counting in ``serve`` (:mod:`feedsmith.serve.subscribers`)."""

    enabled: bool = True
    window_hours: int = 48  # subscribers = who polled within this many hours
    keep_days: int = 400  # one row per feed per day of history
    #: ``/stats``, ``/stats.json`` and the ``/`` column without the webhook token.
    public: bool = False
    #: How often each web worker writes what it counted (a crash loses at most this much).
    flush_seconds: float = 10.0


@dataclass(frozen=True)
class PodcastShow:
    """One ``podcasts:`` entry: a feed (``all``, ``tag/<name>``…) that is also a podcast show.

    Read and checked by :mod:`feedsmith.config.podcasts`; rendered by
    :mod:`feedsmith.core.render.podcast`. Values Apple would reject but a build can still
    publish (an unknown category, a missing ``explicit``) are kept as given and reported by
    ``check`` (:mod:`feedsmith.core.podcast.checks`), never refused here. ``guid`` is ``None``
    when the file gives none: the build assigns one once and keeps it in the state.
    """

    feed: str  # "all", "tag/<name>", "category/<name>", "author/<name>"
    title: str | None = None
    description: str | None = None
    author: str | None = None
    owner_name: str | None = None
    owner_email: str | None = None
    image: str | None = None  # as written: a URL, a site path, or a path under media_dir
    language: str | None = None
    #: (category, subcategory or "") pairs in file order, Apple's spelling expected.
    categories: tuple[tuple[str, str], ...] = ()
    explicit: bool | None = None
    type: Literal["episodic", "serial"] = "episodic"
    copyright: str | None = None
    locked: bool | None = None
    funding: tuple[tuple[str, str], ...] = ()  # (url, text)
    complete: bool = False
    new_feed_url: str | None = None
    guid: str | None = None

    @property
    def kind(self) -> str:
        return self.feed.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.feed.split("/", 1)[1] if "/" in self.feed else "all"


@dataclass(frozen=True)
class Config:
    """Validated settings. Paths are absolute (resolved against the config file's folder)."""

    path: Path
    site: SiteConfig
    posts_dir: Path
    output_dir: Path
    state_dir: Path
    timezone: str = "UTC"
    permalink: str = DEFAULT_PERMALINK
    id_authority: str = ""
    max_post_bytes: int = 10 * 1024 * 1024
    feed: FeedConfig = field(default_factory=FeedConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    #: ``authors:`` in the file: key -> the author a post names by that key (``author: jane``),
    #: as Jekyll's ``_data/authors.yml``. Pairs in file order, so the config stays hashable.
    authors: tuple[tuple[str, Author], ...] = ()
    #: A folder whose templates (``feed.html``, ``index.html``) replace the built-in ones.
    templates_dir: Path | None = None
    publish: PublishConfig = field(default_factory=PublishConfig)
    websub: WebSubConfig = field(default_factory=WebSubConfig)
    #: ``jekyll:``: posts_dir is then the site's root and posts are read as Jekyll reads them.
    jekyll: JekyllSite | None = None
    #: ``media_dir``: files posts attach (audio, video, pictures), served at ``/media/`` and
    #: published as ``{site.url}/media/<path>``. ``None``: no local media.
    media_dir: Path | None = None
    stats: StatsConfig = field(default_factory=StatsConfig)
    #: ``podcasts:``: feeds that are also podcast shows (:mod:`feedsmith.config.podcasts`).
    podcasts: tuple[PodcastShow, ...] = ()

    @property
    def hub_urls(self) -> tuple[str, ...]:
        """The hubs every feed advertises, the built-in one first (it is the one we run)."""
        builtin = (f"{self.site.url}/websub",) if self.websub.builtin else ()
        return builtin + self.websub.hubs

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def fingerprint(self) -> str:
        """A hash of every setting that changes how a post is parsed or rendered.

        Caches keyed on it are invalidated when the config (or the feedsmith version) changes,
        so a stale cache can cost time but never correctness.
        """
        data = asdict(self)
        for key in ("path", "output_dir", "state_dir", "schedule", "server", "publish", "websub"):
            data.pop(key, None)
        for key in ("stats",):  # serving only: never changes a feed's bytes
            data.pop(key, None)
        if self.feed.archive_storage == "gzip":  # the default: the fingerprint of before it
            data["feed"].pop("archive_storage", None)
        if self.hub_urls:  # only what the feeds show; none: the fingerprint of before WebSub
            data["hubs"] = list(self.hub_urls)
        data["posts_dir"] = str(self.posts_dir)
        data["version"] = __version__
        data["rendering"] = RENDERING_REVISION
        blob = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
