"""Jekyll's URL, slug, category and defaults rules, as Jekyll 4 applies them to posts.

Contract (the helper owning this module fills it in; each rule cites the Jekyll behaviour).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

#: Jekyll's ``DATE_FILENAME_MATCHER``: only such files in ``_posts`` are posts.
POST_NAME_PATTERN = r"(\d{2,4}-\d{1,2}-\d{1,2})-([^/]*)(\.[^./]+)$"
#: Jekyll's permalink styles, for posts.
PERMALINK_STYLES: dict[str, str] = {}


def permalink_pattern(value: str | None) -> str:
    """A ``permalink:`` value (a style name or a pattern) → the pattern for posts."""
    raise NotImplementedError


def slugify(text: str, mode: str = "default", *, cased: bool = False) -> str:
    """Jekyll's ``Utils.slugify`` (modes raw, default, pretty, ascii, latin, none)."""
    raise NotImplementedError


def post_url_path(
    pattern: str,
    *,
    date: datetime,
    slug: str,
    categories: Sequence[str],
    rel: str,
    output_ext: str = ".html",
) -> str:
    """The path Jekyll publishes a post at (``date`` already in the site's time zone); not
    quoted (:func:`feedsmith.core.permalinks.quote_url` does that once)."""
    raise NotImplementedError


def folder_categories(rel: str) -> tuple[str, ...]:
    """The folders above ``_posts`` in ``rel`` (``en/_posts/x.md`` → ``("en",)``)."""
    raise NotImplementedError


def defaults_for(rel: str, kind: str, defaults: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The merged ``values`` of every ``defaults:`` entry whose scope (path prefix or glob,
    type) matches ``rel`` (site-relative) of ``kind`` ("posts", "drafts", "pages"), later and
    more specific scopes winning as in Jekyll's FrontmatterDefaults."""
    raise NotImplementedError


def jekyll_feed_id(site_url: str, url_path: str, slug: str) -> str:
    """jekyll-feed's entry ``<id>``: ``post.id | absolute_url`` (the URL's folder + slug)."""
    raise NotImplementedError


def page_url_path(rel: str, permalink: str | None, site_permalink: str) -> str:
    """A page's (non-post file's) URL path, for ``{% link %}`` to it."""
    raise NotImplementedError
