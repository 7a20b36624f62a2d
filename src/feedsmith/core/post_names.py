"""The names a post is filed under: its categories, tags and authors, read from front matter.

Each name becomes a feed of its own (``groups``), so these are read with the same care: lists,
Jekyll's space- or comma-split strings and singular keys all accepted, names deduplicated on the
key ``groups`` merges on, a configured author named by key, and an author's ``uri`` kept only
when it is a URL a reader may follow. What is ignored is reported through the parser's
``report`` (a warning naming the key), never silently dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from feedsmith.core.config import Config
from feedsmith.core.meta_values import clean_opt, kind, scalar_text
from feedsmith.core.model import Author, Severity
from feedsmith.core.permalinks import PATH_SAFE, quote_url
from feedsmith.core.text import xml_safe
from feedsmith.core.urlsafety import is_allowed_url

#: How a reader reports what it ignored: (severity, reason, front-matter key).
Report = Callable[[Severity, str, str], None]


def read_names(meta: dict[str, Any], plural: str, singular: str, report: Report) -> tuple[str, ...]:
    """Categories or tags: lists, Jekyll-split strings, plus the singular key, deduped.

    Dedupe is case- and width-insensitive (NFKC + casefold, the same key ``groups`` merges
    on) and keeps the first spelling, so ``AI`` and ``ai`` in one post count once.
    """
    raw: list[object] = []
    for key, split in ((plural, True), (singular, False)):
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            if split:
                parts = value.split(",") if "," in value else value.split()
                raw.extend(parts)
            else:
                raw.append(value)
        elif isinstance(value, list | tuple):
            raw.extend(value)
        elif isinstance(value, dict):
            report("warning", f"{key}: a mapping is not a list of names; ignored", key)
        else:
            raw.append(value)
    names: list[str] = []
    seen: set[str] = set()
    for item in raw:
        if item is None:
            continue
        if isinstance(item, dict | list):
            report("warning", f"{plural}: ignored an entry that is {kind(item)}", plural)
            continue
        name, merge_key = _name_and_key(scalar_text(item))
        if name and merge_key not in seen:
            seen.add(merge_key)
            names.append(name)
    return tuple(names)


@lru_cache(maxsize=4096)
def _name_and_key(text: str) -> tuple[str, str]:
    """A category or tag name cleaned (XML-safe, whitespace collapsed) and its merge key.

    Cached: a blog uses a few hundred names across thousands of posts, and the NFKC and
    casefold of each was a tenth of the field work of a post.
    """
    name = " ".join(xml_safe(text).split())
    return name, " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def read_authors(
    meta: dict[str, Any], config: Config, report: Report
) -> tuple[tuple[Author, ...], bool]:
    """The post's authors, and whether they are only the ``site.author`` default."""
    value = meta.get("authors", meta.get("author"))
    items = value if isinstance(value, list) else [value]
    authors: list[Author] = []
    for item in items:
        author = _author(item, meta, config, report)
        if author is not None and author not in authors:
            authors.append(author)
    if not authors and config.site.author:
        return (Author(xml_safe(config.site.author)),), True
    return tuple(authors), False


def _author(item: object, meta: dict[str, Any], config: Config, report: Report) -> Author | None:
    if item is None or isinstance(item, list):
        return None
    if isinstance(item, dict):
        name = clean_opt(item.get("name"))
        if not name:
            report("warning", "author: a mapping without 'name'; ignored", "author")
            return None
        email = clean_opt(item.get("email"))
        uri = _author_uri(clean_opt(item.get("uri", item.get("url"))), meta, config, report)
        return Author(name, email, uri)
    name = clean_opt(item)
    if not name:
        return None
    for key, known in config.authors:  # ``author: jane`` names a configured author
        if key == name:
            return _author(
                {"name": known.name, "email": known.email, "uri": known.uri}, meta, config, report
            )
    return Author(name)


def _author_uri(
    uri: str | None, meta: dict[str, Any], config: Config, report: Report
) -> str | None:
    """An author's ``uri``/``url``: a path resolved against ``site.url``, Unicode encoded,
    and dropped with a warning unless the result is an allowed URL (``javascript:`` in an
    Atom ``<uri>`` or a JSON Feed author ``url`` is a script link in the reader)."""
    if not uri:
        return None
    try:
        resolved = urljoin(config.site.url + "/", uri)
    except ValueError:  # a broken IPv6 host such as "//[x"
        resolved = uri
    if not resolved.isascii():
        resolved = _ascii_uri(resolved)
    if is_allowed_url(resolved):
        return resolved
    report(
        "warning",
        f"author: uri {uri!r} is not an http(s) or mailto URL or a path; dropped",
        "authors" if "authors" in meta else "author",
    )
    return None


def _ascii_uri(uri: str) -> str:
    """A given http(s) URI with Unicode host and path encoded (feeds carry URIs, not IRIs)."""
    try:
        if urlsplit(uri).scheme in ("http", "https"):
            return quote_url(uri)
    except ValueError:
        pass
    return quote(uri, safe=PATH_SAFE + "/?#%")
