"""A post's URL: permalink patterns expanded, the site-path check, and URI encoding.

Its own module because a post URL is published once and then subscribed to, linked and
deduplicated on, so how it is spelled is a contract of its own: Jekyll's placeholders filled
exactly as Jekyll fills them, ``..`` never leading above the site, and one encoding (Unicode
and IDNA hosts as ASCII, no ``%XX`` encoded twice) shared by post URLs, images and author URIs.
Each fast path here has the plain algorithm it must agree with beside it (``*_reference``),
which the equivalence tests compare it against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from feedsmith.core.urlpath import PathEscapesSite, remove_dot_segments

# Kept as is inside a URL path segment; everything else (including non-ASCII) is %-encoded.
PATH_SAFE = "-._~!$&'()*+,;=:@"
_PLACEHOLDER = re.compile(r":([a-z_]+)")
# A URL whose parts quote_url can take without urlsplit: http(s), an ASCII host (and port), a
# path without "//" (collapsed), without the characters urlsplit removes (tab, CR, LF), and
# without query or fragment. Groups: origin, path.
_SIMPLE_URL = re.compile(r"(https?://[A-Za-z0-9.-]+(?::[0-9]+)?)((?:/[^/?#\t\r\n]+)*/?)")
# A path segment that quote(unquote(segment), safe=PATH_SAFE) returns unchanged: only
# characters quote() keeps (unreserved + PATH_SAFE) and no "%" (unquote would act).
_QUOTED_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")


class SitePathError(ValueError):
    """A permalink whose ``..`` leads above the site's path: the post cannot be published."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


def _category_segment(name: str) -> str:
    """A category as a URL path segment: lowercased like Jekyll 4, spaces and ``/`` → ``-``."""
    return _path_value(re.sub(r"[\s/\\]+", "-", name.strip().lower()).strip("-"))


def _path_value(text: str) -> str:
    """A value put into a permalink's path, with the two characters that would end the path
    (``?`` starts a query, ``#`` a fragment) percent-encoded: ``C#`` is a name, not a fragment.
    Everything else is encoded later, once, by :func:`quote_url`."""
    if "#" in text or "?" in text:
        return text.replace("#", "%23").replace("?", "%3F")
    return text


_PermalinkField = Callable[[datetime, str, tuple[str, ...]], str]
_PERMALINK_FIELDS: dict[str, _PermalinkField] = {
    "categories": lambda d, s, c: "/".join(x for x in map(_category_segment, c) if x),
    "year": lambda d, s, c: f"{d.year:04d}",
    "short_year": lambda d, s, c: f"{d.year % 100:02d}",
    "month": lambda d, s, c: f"{d.month:02d}",
    "i_month": lambda d, s, c: str(d.month),
    "day": lambda d, s, c: f"{d.day:02d}",
    "i_day": lambda d, s, c: str(d.day),
    "hour": lambda d, s, c: f"{d.hour:02d}",
    "minute": lambda d, s, c: f"{d.minute:02d}",
    "second": lambda d, s, c: f"{d.second:02d}",
    "title": lambda d, s, c: _path_value(s),
    "slug": lambda d, s, c: _path_value(s),
}


@lru_cache(maxsize=256)
def _permalink_template(pattern: str) -> tuple[str | _PermalinkField, ...]:
    """``pattern`` split once into literal text and the fields its known placeholders name.

    Every post of a site expands the same configured pattern; splitting it once per process
    leaves only the fields the pattern uses to be formatted per post.
    """
    parts: list[str | _PermalinkField] = []
    start = 0
    for match in _PLACEHOLDER.finditer(pattern):
        field_of = _PERMALINK_FIELDS.get(match.group(1))
        if field_of is not None:
            parts.append(pattern[start : match.start()])
            parts.append(field_of)
            start = match.end()
    parts.append(pattern[start:])
    return tuple(parts)


def expand_permalink(
    pattern: str, published: datetime, slug: str, categories: tuple[str, ...]
) -> str:
    """Jekyll placeholders → path. Unknown ``:words`` are left alone, as Jekyll does.

    Same result as :func:`expand_permalink_reference`, from a template parsed once.
    """
    path = "".join(
        part if isinstance(part, str) else part(published, slug, categories)
        for part in _permalink_template(pattern)
    )
    if "//" in path:
        path = re.sub(r"/{2,}", "/", path)
    return path if path.startswith("/") else "/" + path


def site_path(path: str, key: str | None, given: str) -> str:
    """The post's path under the site with dot segments resolved (RFC 3986 §5.2.4); one that
    climbs above the site's own path makes the post invalid, naming where it came from."""
    try:
        return remove_dot_segments(path)
    except PathEscapesSite:
        where = f"{key}: {given!r}" if key else f"the permalink pattern {given!r}"
        raise SitePathError(
            f"{where} gives the path {path!r}, whose '..' leads above the site's path", key
        ) from None


def expand_permalink_reference(
    pattern: str, published: datetime, slug: str, categories: tuple[str, ...]
) -> str:
    """The plain algorithm :func:`expand_permalink` must agree with (kept for the tests)."""
    values = {
        "categories": "/".join(s for s in map(_category_segment, categories) if s),
        "year": f"{published.year:04d}",
        "short_year": f"{published.year % 100:02d}",
        "month": f"{published.month:02d}",
        "i_month": str(published.month),
        "day": f"{published.day:02d}",
        "i_day": str(published.day),
        "hour": f"{published.hour:02d}",
        "minute": f"{published.minute:02d}",
        "second": f"{published.second:02d}",
        "title": _path_value(slug),
        "slug": _path_value(slug),
    }
    path = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), pattern)
    path = re.sub(r"/{2,}", "/", path)
    return path if path.startswith("/") else "/" + path


def quote_url(url: str) -> str:
    """Percent-encode the path (Unicode segments included) without double-encoding ``%XX``.

    Post URLs are mostly of the :data:`_SIMPLE_URL` shape, for which urlsplit/urlunsplit only
    take the path out and put it back; their path segments are then encoded one by one as
    :func:`quote_url_reference` does, skipping those with nothing to encode (ASCII slugs).
    """
    match = _SIMPLE_URL.fullmatch(url)
    if match is None:
        return quote_url_reference(url)
    origin, path = match.groups()
    if not path:
        return origin + "/"
    return origin + "/".join(
        seg if _QUOTED_SEGMENT.fullmatch(seg) else quote(unquote(seg), safe=PATH_SAFE)
        for seg in path.split("/")
    )


def quote_url_reference(url: str) -> str:
    """The plain algorithm behind :func:`quote_url`, for any URL."""
    parts = urlsplit(url)
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    path = "/".join(quote(unquote(seg), safe=PATH_SAFE) for seg in path.split("/"))
    # Query and fragment keep their existing escapes: unquoting "%26" there would change meaning.
    query = quote(parts.query, safe=PATH_SAFE + "/?%")
    fragment = quote(parts.fragment, safe=PATH_SAFE + "/?%")
    return urlunsplit((parts.scheme, _ascii_netloc(parts.netloc), path, query, fragment))


def _ascii_netloc(netloc: str) -> str:
    """An internationalised host as IDNA (``例え.jp`` → ``xn--r8jz45g.jp``): a URI is ASCII."""
    if netloc.isascii():
        return netloc
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.partition(":")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDN label: percent-encoded, still a well-formed URI
        host = quote(host, safe="")
    return quote(userinfo, safe=PATH_SAFE) + at + host + colon + port
