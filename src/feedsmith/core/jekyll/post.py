"""A Jekyll post's front matter as Jekyll sees it before feedsmith reads it.

Jekyll builds a post's data in three layers — categories from the folders above ``_posts``,
then ``defaults:`` matching the file, then the file's own front matter — and categories
*accumulate* across the layers (Document#merge_categories!) while every other key is
overridden (deep-merged). :func:`jekyll_meta` applies the same layers, so ``post_names`` and
the URL rules then see exactly the data Jekyll would have.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from feedsmith.core.config import Config, JekyllSite
from feedsmith.core.frontmatter import Document
from feedsmith.core.jekyll.rules import (
    POST_NAME_PATTERN,
    defaults_for,
    folder_categories,
    jekyll_feed_id,
    post_url_path,
)
from feedsmith.core.markdown import MORE_MARKER, render_markdown
from feedsmith.core.meta_values import falsy, scalar_text
from feedsmith.core.permalinks import quote_url, site_path
from feedsmith.core.text import xml_safe

if (
    TYPE_CHECKING
):  # start-up cost: the Liquid engine is imported by render_body, when a post needs it
    from feedsmith.core.jekyll.liquid import IncludeSource, LiquidOutcome

_POST_NAME = re.compile(POST_NAME_PATTERN)


def is_post_name(rel: str) -> bool:
    """Jekyll's DATE_FILENAME_MATCHER on the file name: ``_posts/notes.md`` is not a post."""
    return _POST_NAME.search(rel.rpartition("/")[2]) is not None


@lru_cache(maxsize=8)
def site_vars(site_json: str) -> dict[str, Any]:
    """``site`` for Liquid, parsed once per process per site (read-only from here on)."""
    value = json.loads(site_json)
    return value if isinstance(value, dict) else {}


@lru_cache(maxsize=8)
def _defaults(defaults_json: str) -> tuple[dict[str, Any], ...]:
    value = json.loads(defaults_json)
    return tuple(d for d in value if isinstance(d, dict)) if isinstance(value, list) else ()


def _names(value: object) -> list[Any]:
    """A categories/tags value as Jekyll reads it: a string splits on whitespace."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Jekyll's Utils.deep_merge_hashes: ``over`` wins, mappings merge key by key."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _deep_merge(old, value)
        else:
            out[key] = value
    return out


def jekyll_meta(meta: dict[str, Any], rel: str, site: JekyllSite) -> dict[str, Any]:
    """``meta`` with the folder categories and ``defaults:`` applied as Jekyll applies them."""
    defaults = defaults_for(rel, "posts", _defaults(site.defaults_json))
    merged = _deep_merge(defaults, meta)
    categories: list[Any] = []
    for layer in (
        list(folder_categories(rel)),
        _names(defaults.get("categories")),
        _names(meta.get("categories")),
        _names(merged.get("category")),
    ):
        for name in layer:
            if name not in categories:
                categories.append(name)
    merged["categories"] = categories
    merged.pop("category", None)
    tags: list[Any] = []
    for name in _names(merged.get("tags")) + _names(merged.pop("tag", None)):
        if name not in tags:
            tags.append(name)
    merged["tags"] = tags
    return merged


def page_vars(
    meta: dict[str, Any],
    *,
    title: str,
    date: datetime,
    url_path: str,
    post_id: str,
    slug: str,
    rel: str,
) -> dict[str, Any]:
    """What ``page`` is in a post's Liquid: its data plus Jekyll's computed fields."""
    page = dict(meta)
    page.update(
        title=title,
        date=date,
        url=url_path,
        id=post_id,
        slug=slug,
        path=rel,
        relative_path=rel,
        collection="posts",
        name=rel.rpartition("/")[2],
        ext="." + rel.rpartition(".")[2] if "." in rel else "",
    )
    return page


def excerpt_source(body: str, separator: str) -> str | None:
    """The body up to the excerpt separator, when the site or post names one the renderers'
    own summary does not already cut at (Jekyll's default, a blank line, is feedsmith's
    first paragraph; ``<!--more-->`` is read by the renderers themselves)."""
    if not separator or separator in ("\n\n", MORE_MARKER) or separator not in body:
        return None
    return body.split(separator, 1)[0]


def jekyll_url(
    config: Config,
    meta: dict[str, Any],
    published: datetime,
    slug: str,
    categories: tuple[str, ...],
    rel: str,
) -> tuple[str, str]:
    """Jekyll's URL (front matter ``permalink`` over the site's), dates in the site's zone,
    and the unquoted site path it came from (the jekyll-feed id is made from it). Raises
    :class:`~feedsmith.core.permalinks.SitePathError` for a path above the site."""
    assert config.jekyll is not None
    given = meta.get("permalink")
    key = "permalink" if isinstance(given, str) and given.strip() else None
    pattern = given.strip() if key and isinstance(given, str) else config.jekyll.permalink
    raw = post_url_path(
        pattern, date=published.astimezone(config.tz), slug=slug, categories=categories, rel=rel
    )
    path = site_path(raw, key, pattern)
    return quote_url(config.site.url + path), path


def jekyll_id(config: Config, meta: dict[str, Any], path: str, slug: str) -> tuple[str, bool]:
    """jekyll-feed's id (so a blog moving from it re-delivers nothing), and whether front
    matter gave it. Only ``guid`` is taken from front matter: Jekyll ignores an ``id`` key
    there (jekyll-import writes the old WordPress number into it), and so did every
    jekyll-feed the blog published."""
    value = meta.get("guid")
    if value is not None and not isinstance(value, dict | list):
        text = xml_safe(scalar_text(value)).strip()
        if text:
            return text, True
    return jekyll_feed_id(config.site.url, path, slug), False


class _NoIncludes:
    """Every include missing: a parse without the pipeline's reader (tests, ``check`` alone)."""

    def include(self, name: str) -> str | None:
        return None

    def include_relative(self, name: str) -> str | None:
        return None


_NO_INCLUDES = _NoIncludes()


def render_body(
    config: Config,
    doc: Document,
    meta: dict[str, Any],
    page: dict[str, Any],
    includes: IncludeSource | None,
) -> LiquidOutcome | None:
    """The body's Liquid rendered as Jekyll renders it before Markdown; ``None`` when there is
    nothing to render (no markup, or ``render_with_liquid: false``)."""
    site = config.jekyll
    assert site is not None
    if falsy(meta.get("render_with_liquid", site.render_with_liquid)):
        return None
    # Imported here, not at the top: importing the Liquid engine is start-up cost (~0.1-0.2 s)
    # that a site without ``jekyll:`` (which imports this module through feedsmith.core.posts)
    # never needs to pay.
    from feedsmith.core.jekyll.liquid import has_liquid, render_liquid

    if not has_liquid(doc.body):
        return None
    page_url = config.site.url + str(page.get("url", "/"))
    # ``site.time`` is the build's clock in Jekyll; here it is the post's own date, so a
    # rebuild never changes an entry ("© {{ site.time | date: '%Y' }}" stays the post's year).
    return render_liquid(
        doc.body,
        site={**site_vars(site.site_json), "time": page["date"]},
        page=page,
        includes=includes or _NO_INCLUDES,
        markdownify=lambda text: render_markdown(str(text), page_url),
        first_line=doc.body_line,
    )
