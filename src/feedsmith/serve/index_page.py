"""The ``/`` page: the site's feeds grouped by kind, and how the last build went.

Apart from the app because it is a pure function of the manifest and the status (the template's
context); the owner's ``index.html`` (``templates_dir``) sees exactly these names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.formats import FORMATS
from feedsmith.core.layout import FEEDS_PREFIX, OPML, feed_href, iso_exact
from feedsmith.serve import public
from feedsmith.serve.status import BuildStatus, LastBuild, parse_time
from feedsmith.serve.stores import Manifest

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

KIND_TITLES = {"all": "Site", "category": "Categories", "tag": "Tags", "author": "Authors"}


def page_context(
    config: Config,
    manifest: Manifest | None,
    status: BuildStatus | None,
    url_for: Callable[..., str],
    *,
    subscribers: dict[tuple[str, str], int] | None = None,
) -> dict[str, Any]:
    """``subscribers``: (kind, name) → count when the column is shown (``stats.public``)."""
    groups: dict[str, list[dict[str, Any]]] = {"all": [], "category": [], "tag": [], "author": []}
    autodiscovery: list[dict[str, str]] = []
    for feed in manifest.feeds if manifest else []:
        kind = str(feed.get("kind", ""))
        links = [
            {"href": href, "type": FORMATS[fmt].link_type, "label": FORMATS[fmt].label}
            for fmt in ("atom", "rss", "json")
            if (href := _feed_href(feed, fmt))
        ]
        updated = parse_time(feed.get("updated"))
        groups.setdefault(kind, []).append(
            {
                "name": str(feed.get("name", feed.get("slug", ""))),
                "entries": feed.get("entries", ""),
                "updated": iso_exact(updated) if updated else "",
                "updated_text": _display_time(updated) if updated else "",
                "links": links,
                "page": _page_href(feed),
                "subscribers": (subscribers or {}).get(
                    (kind, str(feed.get("name", feed.get("slug", "")))), 0
                ),
            }
        )
        if kind == "all":
            for link in links:
                autodiscovery.append(
                    {
                        "type": link["type"],
                        "href": link["href"],
                        "title": f"{config.site.title} ({link['label']})",
                    }
                )
    last = status.last_build if status else None
    return {
        "site": config.site,
        "css_url": url_for("static", filename="feedsmith.css"),
        "opml_url": FEEDS_PREFIX + OPML,
        "autodiscovery": autodiscovery,
        "groups": [
            {"kind": kind, "title": KIND_TITLES.get(kind, kind.title() or "Other"), "feeds": feeds}
            for kind, feeds in groups.items()
            if feeds
        ],
        "last_build": None if last is None else _last_build(last),
        "last_success_text": _display_time(status.last_success)
        if status and status.last_success
        else "",
        "kept": list(status.kept_public) if status else [],
        "show_subscribers": subscribers is not None,
    }


_SUFFIXES = {"atom": ".atom.xml", "rss": ".rss.xml", "json": ".json"}


def _feed_href(feed: dict[str, Any], fmt: str) -> str | None:
    """The manifest's URL for a format when it is one of ours (never e.g. ``javascript:``),
    else one derived from the file list."""
    urls = feed.get("urls")
    href = urls.get(fmt) if isinstance(urls, dict) else None
    if isinstance(href, str) and href.startswith((FEEDS_PREFIX, "https://", "http://")):
        return href
    files = feed.get("files")
    if isinstance(files, dict):
        for rel in files:
            if isinstance(rel, str) and rel.endswith(_SUFFIXES[fmt]):
                return feed_href(rel)
    return None


def _page_href(feed: dict[str, Any]) -> str | None:
    """The feed page's URL when the manifest gives one of ours (a path under ``/feeds/``)."""
    page = feed.get("page")
    if isinstance(page, str) and page.startswith(FEEDS_PREFIX) and page.endswith(".html"):
        return page
    return None


def _last_build(last: LastBuild) -> dict[str, Any]:
    """The public view of the build (:func:`feedsmith.serve.public.last_build`) with the names
    the page's template uses, and the exact seconds: the template rounds them itself."""
    view = public.last_build(last)
    return {
        "finished_iso": view["finished"],
        "finished_text": _display_time(last.finished),
        "ok": view["ok"],
        "error": view["error"],
        "seconds": last.seconds,
    }


def _display_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
