"""Feed pages: one static HTML page per feed, for the people who click a feed link.

Browsers show a feed as raw XML or a download, and the old cure (an XSLT stylesheet in the
feed) is being removed from browsers. So each feed gets a real page, ``tags/ai.html`` beside
``tags/ai.atom.xml``: its title, how to subscribe (each format's URL, with a copy button), its
newest entries and its archive documents. Pages are *files written with the feeds*, not views
of the web app, so nginx or a bucket serve them as well as ``feedsmith serve`` does.

Pure apart from reading templates: :class:`PageRenderer` turns a feed's subscription group into
bytes; the build decides when (a page's signature is its feed's signature plus the template's
digest, so an edit to a custom template re-renders every page and nothing else does).

Templates are Jinja2 with autoescaping on, and :class:`jinja2.StrictUndefined`, so a typo in a
custom template fails the build with its file and line instead of publishing blank fields.
``templates_dir`` in the config puts a folder in front of the built-in templates. The page
needs no JavaScript to be read; ``feedsmith.js`` only adds the copy buttons. Style and script
are files of their own (published at the root of ``output_dir``) so that the page works with
``script-src 'self'`` and no ``'unsafe-inline'`` (see ``web.FEED_PAGE_CSP``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from feedsmith.core.config import Config
from feedsmith.core.formats import FORMATS
from feedsmith.core.groups import FeedGroup
from feedsmith.core.layout import ASSETS, OPML, feed_page_file, feed_url, page_file
from feedsmith.core.model import Post
from feedsmith.core.podcast.page import podcast_context
from feedsmith.core.render.common import feed_title

__all__ = [
    "ASSETS",
    "PAGE_TEMPLATE",
    "PageRenderer",
    "TemplateProblem",
    "asset_bytes",
    "feed_page_file",
]

PAGE_TEMPLATE = "feed.html"
#: Published beside the feeds (root of ``output_dir``) when pages are on: name -> package file.
_KIND_TITLES = {"all": "All posts", "category": "Category", "tag": "Tag", "author": "Author"}


class TemplateProblem(Exception):
    """A template that cannot be loaded or rendered; ``str()`` names the file and line."""


def asset_bytes(name: str) -> bytes:
    """The bytes of a published asset (``feedsmith.css``, ``feedsmith.js``)."""
    return resources.files("feedsmith").joinpath("static", ASSETS[name]).read_bytes()


@dataclass(frozen=True)
class _Link:
    label: str
    type: str
    url: str


class PageRenderer:
    """Renders feed pages with the configured templates; one per builder.

    ``digest`` identifies the template source in use, for the pages' signatures; it is read
    again by :meth:`refresh` at the start of every build, so a template edited while ``serve``
    runs is picked up by the next build.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        loaders: list[jinja2.BaseLoader] = []
        if config.templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(config.templates_dir)))
        loaders.append(jinja2.PackageLoader("feedsmith", "templates"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=True,
        )
        self.digest = ""
        self._template: jinja2.Template | None = None
        #: (kind, key, slug, archive page number) -> that document's links, see ``context``.
        self._links: dict[tuple[str, str, str, int], list[_Link]] = {}

    def refresh(self) -> str:
        """Load (or reload) the page template; its digest. Raises :class:`TemplateProblem`."""
        try:
            source, filename, _ = self.env.loader.get_source(self.env, PAGE_TEMPLATE)  # type: ignore[union-attr]
            self._template = self.env.get_template(PAGE_TEMPLATE)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"{exc.filename or PAGE_TEMPLATE}:{exc.lineno}: {exc.message}"
            ) from None
        except (jinja2.TemplateError, OSError, UnicodeDecodeError) as exc:
            raise TemplateProblem(f"{PAGE_TEMPLATE}: {exc}") from None
        blob = "\0".join([filename or PAGE_TEMPLATE, source]).encode("utf-8", "surrogatepass")
        self.digest = hashlib.sha256(blob).hexdigest()[:16]
        return self.digest

    def render(self, group: FeedGroup, shown: Sequence[Post]) -> bytes:
        """The page of ``group`` (a subscription document's group: its ``paging`` gives the
        archive links) showing ``shown``. Raises :class:`TemplateProblem`."""
        if self._template is None:
            self.refresh()
        assert self._template is not None
        try:
            html = self._template.render(self.context(group, shown))
        except jinja2.TemplateError as exc:
            line = _template_line(exc)
            raise TemplateProblem(f"{PAGE_TEMPLATE}{line}: {exc}") from None
        return html.encode("utf-8", "surrogatepass")

    def context(self, group: FeedGroup, shown: Sequence[Post]) -> dict[str, Any]:
        """What a template sees: plain values only, every URL absolute except the assets
        (relative, so the page works wherever the tree is served)."""
        cfg = self.config
        formats = cfg.feed.formats
        page_rel = feed_page_file(group)
        depth = page_rel.count("/")
        up = "../" * depth

        links_memo = self._links

        def links_of(n: int) -> list[_Link]:
            # A feed's archive page n keeps its URLs for good, and a page lists every one of
            # them (hundreds for the site feed): worked out once per renderer, not per render.
            memo_key = (group.kind, group.key, group.slug, n)
            found = links_memo.get(memo_key)
            if found is None:
                found = [
                    _Link(FORMATS[f].label, FORMATS[f].link_type, url)
                    for f in formats
                    for url in (feed_url(cfg, page_file(group, f, n)),)
                ]
                links_memo[memo_key] = found
            return found

        links = links_of(0)
        paging = group.paging
        newest_page = paging.prev if paging is not None else 0
        archives = [{"number": n, "links": links_of(n)} for n in range(newest_page, 0, -1)]
        tz = cfg.tz
        entries = [
            {
                "title": post.title or post.slug or post.id,
                "url": post.url,
                "date_iso": post.date.isoformat(),
                "date_text": post.date.astimezone(tz).strftime("%Y-%m-%d"),
                "summary": post.summary,
                "authors": [a.name for a in post.authors],
                "categories": list(post.categories),
                "tags": list(post.tags),
            }
            for post in shown
        ]
        return {
            "lang": cfg.site.language or "en",
            "site": {
                "title": cfg.site.title,
                "url": cfg.site.url + "/",
                "description": cfg.site.description,
            },
            "feed": {
                "kind": group.kind,
                "kind_title": _KIND_TITLES.get(group.kind, group.kind),
                "name": group.name if group.kind != "all" else cfg.site.title,
                "title": feed_title(group, cfg),
                "description": cfg.site.description,
                "page_url": feed_url(cfg, page_rel),
                "total": len(group.posts),
            },
            "links": links,
            "entries": entries,
            "archives": archives,
            "opml_url": feed_url(cfg, OPML),
            "podcast": podcast_context(group, cfg, feed_url(cfg, page_file(group, "rss", 0))),
            "css_url": up + "feedsmith.css",
            "js_url": up + "feedsmith.js",
        }


def _template_line(exc: jinja2.TemplateError) -> str:
    """``:12`` for the template line an error was raised at, when the traceback has it."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".html"):  # Jinja rewrites template frames
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line else ""
