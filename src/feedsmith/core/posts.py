"""Front matter + body → :class:`Post`: titles, dates, ids, URLs, names, drafts, duplicates.

Everything here except :func:`scan_posts` is pure: :func:`parse_post` takes the file's *bytes*
(so it can run in a worker process or be cached by content) and never looks at the clock, and
:func:`collect` gets ``now`` passed in. Real blogs are messy, so the rule throughout is: repair
what can be repaired without guessing (control characters, string-valued lists, missing titles)
and report it; refuse only what cannot be published truthfully (no date, broken front matter).

Ids deserve the most care. Feed readers dedupe on the id alone, so a generated id is built only
from things that do not change when a post is edited, re-rendered or moved to https: the
configured ``id_authority``, the publish date in the post's own offset and the slug.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import orjson

from feedsmith.config import Config
from feedsmith.core.dates import parse_date, split_dated_name
from feedsmith.core.decoding import SourceError, decode
from feedsmith.core.frontmatter import Document, FrontMatterError, parse_document
from feedsmith.core.identity import content_key
from feedsmith.core.markdown import inline_text, render_post
from feedsmith.core.model import Author, ParseOutcome, Post, Problem, ScanResult, Severity
from feedsmith.core.text import escape_controls, truncate, xml_safe
from feedsmith.core.urlpath import PathEscapesSite, remove_dot_segments
from feedsmith.core.urlsafety import is_allowed_url

log = logging.getLogger("feedsmith.posts")

SUMMARY_LIMIT = 300
#: What an ``image`` may be: a picture is fetched over the web, never from a ``mailto:``.
_WEB_SCHEMES = frozenset({"http", "https"})
# An excerpt the author wrote on purpose is kept longer than a derived one, but still bounded:
# some blogs paste a whole article into ``description``.
EXPLICIT_SUMMARY_LIMIT = 1000

_UPDATED_KEYS = ("last_modified_at", "updated", "modified")
_SUMMARY_KEYS = ("excerpt", "description", "summary")
_KNOWN_KEYS = {
    "title", "date", *_UPDATED_KEYS, "categories", "category", "tags", "tag", "author",
    "authors", *_SUMMARY_KEYS, "permalink", "url", "id", "guid", "slug", "published", "draft",
    "lang", "image",
}  # fmt: skip

# Characters a tag URI (RFC 4151 ``specific``: pchar / "/" / "?") may hold as they are. A tag URI
# is a URI, not an IRI: everything else, non-ASCII included, is percent-encoded UTF-8.
_TAG_URI_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)
# Kept as is inside a URL path segment; everything else (including non-ASCII) is %-encoded.
_PATH_SAFE = "-._~!$&'()*+,;=:@"
_PLACEHOLDER = re.compile(r":([a-z_]+)")
# A URL whose parts _quote_url can take without urlsplit: http(s), an ASCII host (and port), a
# path without "//" (collapsed), without the characters urlsplit removes (tab, CR, LF), and
# without query or fragment. Groups: origin, path.
_SIMPLE_URL = re.compile(r"(https?://[A-Za-z0-9.-]+(?::[0-9]+)?)((?:/[^/?#\t\r\n]+)*/?)")
# A path segment that quote(unquote(segment), safe=_PATH_SAFE) returns unchanged: only
# characters quote() keeps (unreserved + _PATH_SAFE) and no "%" (unquote would act).
_QUOTED_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class _Invalid(Exception):
    """A reason this file cannot become a post; turned into one ``error`` Problem."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


# ---------------------------------------------------------------------------------------------
# parse_post


def parse_post(data: bytes, rel: str, display_path: str, config: Config) -> ParseOutcome:
    """Decode, split and normalize one file. Never raises: bad input becomes a Problem."""
    try:
        return _Parser(data, rel, display_path, config).run()
    except Exception as exc:  # last resort: one broken post must not stop a build of 10,000
        log.exception("internal error while parsing %s", escape_controls(display_path))
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return ParseOutcome(
            None, [Problem(display_path, None, "error", reason)], None, display_path
        )


class _Parser:
    """One file's parse. A class only so the helpers share the file's problems and key lines."""

    def __init__(self, data: bytes, rel: str, display_path: str, config: Config) -> None:
        self.data = data
        self.rel = rel
        self.path = display_path
        self.config = config
        self.problems: list[Problem] = []
        self.text = ""
        self.doc: Document | None = None
        self._lines: dict[str, int] | None = None
        self.id_given = False

    def problem(self, severity: Severity, reason: str, key: str | None = None) -> None:
        self.problems.append(Problem(self.path, self._key_line(key), severity, reason))

    def outcome(self, post: Post | None, excluded: str | None = None) -> ParseOutcome:
        return ParseOutcome(post, self.problems, excluded, self.path)

    def run(self) -> ParseOutcome:
        try:
            return self._run()
        except _Invalid as bad:
            self.problem("error", bad.reason, bad.key)
            return self.outcome(None)

    def _run(self) -> ParseOutcome:
        try:
            self.text, warning = decode(self.data)
        except SourceError as exc:
            raise _Invalid(exc.reason) from None
        if warning:
            self.problem("warning", warning)
        if not self.text.strip():
            raise _Invalid("empty file")
        try:
            self.doc = doc = parse_document(self.text)
        except FrontMatterError as exc:
            self.problems.append(Problem(self.path, exc.line, "error", exc.reason))
            return self.outcome(None)
        meta = doc.meta

        if _truthy(meta.get("draft")):
            self.problem("info", "draft: excluded", "draft")
            return self.outcome(None, "draft")
        if _falsy(meta.get("published")):
            self.problem("info", "published: false: excluded", "published")
            return self.outcome(None, "published: false")

        stem = _stem(self.rel)
        file_date, name_slug = split_dated_name(stem)
        title = self._title(meta.get("title"), name_slug or stem)
        published = self._date(meta, file_date)
        updated, explicit = self._updated(meta, published)
        slug = self._slug(meta.get("slug"), name_slug or stem)
        categories = self._names(meta, "categories", "category")
        tags = self._names(meta, "tags", "tag")
        url = self._url(meta, published, slug, categories)
        post_id = self._id(meta, published, slug)
        authors, default_author = self._authors(meta)
        summary = self._summary(meta)
        content_html, derived_summary = render_post(
            doc.body, url, None if summary else SUMMARY_LIMIT
        )
        summary = summary or derived_summary
        image = self._image(meta.get("image"), url)
        lang = _clean_opt(meta.get("lang"))
        extra = {k: v for k, v in ((k, _json_safe(v)) for k, v in meta.items()) if v is not _DROP}
        for key in _KNOWN_KEYS:
            extra.pop(key, None)
        digest = _content_hash(title, url, summary, content_html, categories, tags, authors, image)
        base = self.config.site.url
        change = _content_hash(
            title,
            _without_base(url, base),
            summary,
            _without_base(content_html, base),
            categories,
            tags,
            authors,
            _without_base(image, base) if image else image,
        )
        post = Post(
            source=self.rel,
            id=post_id,
            slug=slug,
            title=title,
            url=url,
            date=published,
            updated=updated,
            updated_explicit=explicit,
            categories=categories,
            tags=tags,
            authors=authors,
            summary=summary,
            content_html=content_html,
            content_hash=digest,
            change_hash=change,
            lang=lang,
            image=image,
            default_author=default_author,
            extra=extra,
            identity_key="" if self.id_given else content_key(meta, doc.body),
        )
        return self.outcome(post)

    # -- fields -------------------------------------------------------------------------------

    def _title(self, value: object, name: str) -> str:
        """The given title as exact text, else Jekyll's: the file name's words, capitalized.

        Only the first letter of each word is raised (``iphone-tips`` → ``Iphone Tips`` in
        Jekyll, ``iphone`` → ``Iphone`` here too, but ``macOS`` stays ``MacOS``, not ``Macos``).
        """
        if value is not None and not isinstance(value, dict | list):
            text = xml_safe(_scalar_text(value)).strip()
            if text:
                return text
        elif value is not None:
            raise _Invalid(f"title must be text, not {_kind(value)}", "title")
        words = [w for w in re.split(r"[-_\s]+", name) if w]
        return xml_safe(" ".join(w[:1].upper() + w[1:] for w in words)) or xml_safe(name)

    def _date(self, meta: dict[str, Any], file_date: date | None) -> datetime:
        value = meta.get("date")
        if value is not None and value != "":
            try:
                return parse_date(value, self.config.tz)
            except ValueError as exc:
                raise _Invalid(f"date: {exc}", "date") from None
        if file_date is not None:
            return datetime.combine(file_date, time(0, 0), self.config.tz)
        raise _Invalid(
            "no date: front matter has no 'date' and the file name has no YYYY-MM-DD- prefix"
        )

    def _updated(self, meta: dict[str, Any], published: datetime) -> tuple[datetime, bool]:
        """An explicit modification date, never earlier than the publish date.

        A bad ``updated`` is a warning, not an error: the post itself is still publishable.
        """
        for key in _UPDATED_KEYS:
            value = meta.get(key)
            if value is None or value == "":
                continue
            try:
                return max(parse_date(value, self.config.tz), published), True
            except ValueError as exc:
                self.problem("warning", f"{key}: {exc}; using the publish date", key)
        return published, False

    def _slug(self, value: object, fallback: str) -> str:
        """The slug feeds ids and URLs: Unicode kept, whitespace and slashes made ``-``."""
        for candidate in (value, fallback):
            if candidate is None or isinstance(candidate, dict | list):
                continue
            text = unicodedata.normalize("NFC", xml_safe(_scalar_text(candidate)))
            text = re.sub(r"[\s/\\]+", "-", text.strip()).strip("-")
            if text:
                return text
        return "post"

    def _names(self, meta: dict[str, Any], plural: str, singular: str) -> tuple[str, ...]:
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
                self.problem("warning", f"{key}: a mapping is not a list of names; ignored", key)
            else:
                raw.append(value)
        names: list[str] = []
        seen: set[str] = set()
        for item in raw:
            if item is None:
                continue
            if isinstance(item, dict | list):
                self.problem("warning", f"{plural}: ignored an entry that is {_kind(item)}", plural)
                continue
            name, merge_key = _name_and_key(_scalar_text(item))
            if name and merge_key not in seen:
                seen.add(merge_key)
                names.append(name)
        return tuple(names)

    def _url(
        self, meta: dict[str, Any], published: datetime, slug: str, categories: tuple[str, ...]
    ) -> str:
        site = self.config.site.url
        for key in ("permalink", "url"):
            value = meta.get(key)
            if not isinstance(value, str) or not value.strip():
                continue
            given = xml_safe(value.strip())
            try:
                parts = urlsplit(given)
                if parts.scheme in ("http", "https") and parts.netloc:
                    return _quote_url(given)
            except ValueError:  # urlsplit refuses e.g. "//[x" (a broken IPv6 host)
                parts = None
            if parts is None or parts.scheme or given.startswith("//"):
                self.problem("warning", f"{key}: not an http(s) URL or a path; ignored", key)
                continue
            path = _expand_permalink(given, published, slug, categories)
            return _quote_url(site + "/" + _site_path(path, key, given).lstrip("/"))
        pattern = self.config.permalink
        path = _expand_permalink(pattern, published, slug, categories)
        return _quote_url(site + _site_path(path, None, pattern))

    def _id(self, meta: dict[str, Any], published: datetime, slug: str) -> str:
        for key in ("id", "guid"):
            value = meta.get(key)
            if value is None or isinstance(value, dict | list):
                continue
            text = xml_safe(_scalar_text(value)).strip()
            if text:
                self.id_given = True
                return text
        if published.year >= 1000:  # what %Y gives for four-digit years, without strftime
            day = f"{published.year}-{published.month:02d}-{published.day:02d}"
        else:
            day = published.strftime("%Y-%m-%d")
        return f"tag:{self.config.id_authority},{day}:{_tag_specific(slug)}"

    def _authors(self, meta: dict[str, Any]) -> tuple[tuple[Author, ...], bool]:
        """The post's authors, and whether they are only the ``site.author`` default."""
        value = meta.get("authors", meta.get("author"))
        items = value if isinstance(value, list) else [value]
        authors: list[Author] = []
        for item in items:
            author = self._author(item)
            if author is not None and author not in authors:
                authors.append(author)
        if not authors and self.config.site.author:
            return (Author(xml_safe(self.config.site.author)),), True
        return tuple(authors), False

    def _author(self, item: object) -> Author | None:
        if item is None or isinstance(item, list):
            return None
        if isinstance(item, dict):
            name = _clean_opt(item.get("name"))
            if not name:
                self.problem("warning", "author: a mapping without 'name'; ignored", "author")
                return None
            email = _clean_opt(item.get("email"))
            uri = self._author_uri(_clean_opt(item.get("uri", item.get("url"))))
            return Author(name, email, uri)
        name = _clean_opt(item)
        if not name:
            return None
        for key, known in self.config.authors:  # ``author: jane`` names a configured author
            if key == name:
                return self._author({"name": known.name, "email": known.email, "uri": known.uri})
        return Author(name)

    def _author_uri(self, uri: str | None) -> str | None:
        """An author's ``uri``/``url``: a path resolved against ``site.url``, Unicode encoded,
        and dropped with a warning unless the result is an allowed URL (``javascript:`` in an
        Atom ``<uri>`` or a JSON Feed author ``url`` is a script link in the reader)."""
        if not uri:
            return None
        try:
            resolved = urljoin(self.config.site.url + "/", uri)
        except ValueError:  # a broken IPv6 host such as "//[x"
            resolved = uri
        if not resolved.isascii():
            resolved = self._ascii_uri(resolved)
        if is_allowed_url(resolved):
            return resolved
        self.problem(
            "warning",
            f"author: uri {uri!r} is not an http(s) or mailto URL or a path; dropped",
            "authors" if "authors" in (self.doc.meta if self.doc else {}) else "author",
        )
        return None

    @staticmethod
    def _ascii_uri(uri: str) -> str:
        """A given http(s) URI with Unicode host and path encoded (feeds carry URIs, not IRIs)."""
        try:
            if urlsplit(uri).scheme in ("http", "https"):
                return _quote_url(uri)
        except ValueError:
            pass
        return quote(uri, safe=_PATH_SAFE + "/?#%")

    def _summary(self, meta: dict[str, Any]) -> str:
        """The author's own excerpt as plain text; empty when there is none."""
        for key in _SUMMARY_KEYS:
            value = meta.get(key)
            if value is None or isinstance(value, dict | list):
                continue
            text = inline_text(_scalar_text(value))
            if text:
                return truncate(text, EXPLICIT_SUMMARY_LIMIT)
        return ""

    def _image(self, value: object, url: str) -> str | None:
        """``image`` as a string or jekyll-seo-tag's ``{path: …}``, absolute against the post."""
        if isinstance(value, dict):
            value = value.get("path", value.get("url"))
        if not isinstance(value, str) or not value.strip():
            return None
        try:
            resolved = urljoin(url, xml_safe(value.strip()))
            if is_allowed_url(resolved, _WEB_SCHEMES):
                return _quote_url(resolved)
        except ValueError:  # a broken IPv6 host such as "//[x"
            pass
        self.problem("warning", "image: not an http(s) URL or a path; ignored", "image")
        return None

    # -- line numbers ---------------------------------------------------------------------------

    def _key_line(self, key: str | None) -> int | None:
        """The line of a top-level front-matter key, so a problem points at what to edit."""
        if key is None or self.doc is None or self.doc.format is None:
            return None
        if self._lines is None:
            self._lines = {}
            pattern = re.compile(r"^([A-Za-z_][\w-]*)\s*[:=]")
            for number, line in enumerate(self.text.split("\n")[: self.doc.body_line], start=1):
                match = pattern.match(line)
                if match:
                    self._lines.setdefault(match.group(1), number)
        return self._lines.get(key)


# ---------------------------------------------------------------------------------------------
# helpers


def _scalar_text(value: object) -> str:
    """Text of a YAML scalar as the author typed it (``true`` not ``True``, dates as ISO)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _clean_opt(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return xml_safe(_scalar_text(value)).strip() or None


def _kind(value: object) -> str:
    return "a mapping" if isinstance(value, dict) else "a list"


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


def _falsy(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in _FALSE)


@lru_cache(maxsize=4096)
def _name_and_key(text: str) -> tuple[str, str]:
    """A category or tag name cleaned (XML-safe, whitespace collapsed) and its merge key.

    Cached: a blog uses a few hundred names across thousands of posts, and the NFKC and
    casefold of each was a tenth of the field work of a post.
    """
    name = " ".join(xml_safe(text).split())
    return name, " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _stem(rel: str) -> str:
    """``PurePosixPath(rel).stem``, without building a path object when ``rel`` ends in a name
    (every source file's does): the path's last part is then simply what follows the last
    ``/``. A trailing ``/`` or ``.`` part, which pathlib drops, goes to pathlib."""
    name = rel.rpartition("/")[2]
    if not name or name == ".":
        return PurePosixPath(rel).stem
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name


def _category_segment(name: str) -> str:
    """A category as a URL path segment: lowercased like Jekyll 4, spaces and ``/`` → ``-``."""
    return _path_value(re.sub(r"[\s/\\]+", "-", name.strip().lower()).strip("-"))


def _path_value(text: str) -> str:
    """A value put into a permalink's path, with the two characters that would end the path
    (``?`` starts a query, ``#`` a fragment) percent-encoded: ``C#`` is a name, not a fragment.
    Everything else is encoded later, once, by :func:`_quote_url`."""
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


def _expand_permalink(
    pattern: str, published: datetime, slug: str, categories: tuple[str, ...]
) -> str:
    """Jekyll placeholders → path. Unknown ``:words`` are left alone, as Jekyll does.

    Same result as :func:`_expand_permalink_reference`, from a template parsed once.
    """
    path = "".join(
        part if isinstance(part, str) else part(published, slug, categories)
        for part in _permalink_template(pattern)
    )
    if "//" in path:
        path = re.sub(r"/{2,}", "/", path)
    return path if path.startswith("/") else "/" + path


def _site_path(path: str, key: str | None, given: str) -> str:
    """The post's path under the site with dot segments resolved (RFC 3986 §5.2.4); one that
    climbs above the site's own path makes the post invalid, naming where it came from."""
    try:
        return remove_dot_segments(path)
    except PathEscapesSite:
        where = f"{key}: {given!r}" if key else f"the permalink pattern {given!r}"
        raise _Invalid(
            f"{where} gives the path {path!r}, whose '..' leads above the site's path", key
        ) from None


def _expand_permalink_reference(
    pattern: str, published: datetime, slug: str, categories: tuple[str, ...]
) -> str:
    """The plain algorithm :func:`_expand_permalink` must agree with (kept for the tests)."""
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


def _quote_url(url: str) -> str:
    """Percent-encode the path (Unicode segments included) without double-encoding ``%XX``.

    Post URLs are mostly of the :data:`_SIMPLE_URL` shape, for which urlsplit/urlunsplit only
    take the path out and put it back; their path segments are then encoded one by one as
    :func:`_quote_url_reference` does, skipping those with nothing to encode (ASCII slugs).
    """
    match = _SIMPLE_URL.fullmatch(url)
    if match is None:
        return _quote_url_reference(url)
    origin, path = match.groups()
    if not path:
        return origin + "/"
    return origin + "/".join(
        seg if _QUOTED_SEGMENT.fullmatch(seg) else quote(unquote(seg), safe=_PATH_SAFE)
        for seg in path.split("/")
    )


def _quote_url_reference(url: str) -> str:
    """The plain algorithm behind :func:`_quote_url`, for any URL."""
    parts = urlsplit(url)
    path = re.sub(r"/{2,}", "/", parts.path) or "/"
    path = "/".join(quote(unquote(seg), safe=_PATH_SAFE) for seg in path.split("/"))
    # Query and fragment keep their existing escapes: unquoting "%26" there would change meaning.
    query = quote(parts.query, safe=_PATH_SAFE + "/?%")
    fragment = quote(parts.fragment, safe=_PATH_SAFE + "/?%")
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
    return quote(userinfo, safe=_PATH_SAFE) + at + host + colon + port


def _tag_specific(slug: str) -> str:
    """The slug as an RFC 4151 ``specific``: percent-encoded UTF-8 outside the URI grammar.

    This form is final (see README, "Entry ids"): ids must never change again for a post.
    """
    if _TAG_URI_SAFE.issuperset(slug):  # the usual ASCII slug: every character kept
        return slug
    return "".join(char if char in _TAG_URI_SAFE else quote(char, safe="") for char in slug)


class _DropType:
    pass


_DROP = _DropType()


def _json_safe(value: object) -> Any:
    """Extra front-matter values as JSON data; values JSON cannot hold are dropped."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [v for v in map(_json_safe, value) if v is not _DROP]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            safe = _json_safe(item)
            if safe is not _DROP:
                out[xml_safe(_scalar_text(key))] = safe
        return out
    return _DROP


def _content_hash(
    title: str,
    url: str,
    summary: str,
    content_html: str,
    categories: tuple[str, ...],
    tags: tuple[str, ...],
    authors: tuple[Author, ...],
    image: str | None,
) -> str:
    """Everything an entry shows except its dates: a change here means "the entry changed".

    The hashed bytes are compact ``json.dumps(..., ensure_ascii=False)`` in UTF-8
    (:func:`_content_blob_reference`). orjson writes exactly those bytes for lists of strings
    and ``None`` (the same escapes, nothing else escaped) ~30× faster; a lone surrogate, which
    orjson refuses and json writes, takes the json module.
    """
    fields = [
        title,
        url,
        summary,
        content_html,
        list(categories),
        list(tags),
        [[a.name, a.email, a.uri] for a in authors],
        image,
    ]
    try:
        blob = orjson.dumps(fields)
    except TypeError:  # orjson.JSONEncodeError
        blob = _content_blob_reference(fields)
    return hashlib.sha256(blob).hexdigest()


def _without_base(text: str, base: str) -> str:
    """``text`` with the site's base URL factored out: what ``Post.change_hash`` hashes.

    Moving a blog (``site.url`` from http to https, or to a new host) rewrites every link, but
    a reader sees the same entry: its ``updated`` must not move, or every reader re-shows every
    post. So the base (``site.url`` followed by ``/``) is replaced by a NUL, which no post text
    can hold (``xml_safe`` removes it), before hashing.
    """
    return text.replace(base.rstrip("/") + "/", "\x00/")


def _content_blob_reference(fields: list[Any]) -> bytes:
    """The bytes :func:`_content_hash` hashes, written by the json module."""
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------------
# collect / scan


def collect(outcomes: Iterable[ParseOutcome], now: datetime) -> ScanResult:
    """Merge per-file outcomes (in ``rel`` order): drop duplicate ids, hold back future posts.

    A future post still claims its id, so the day it is published it cannot collide with a
    post that was added in the meantime.
    """
    result = ScanResult(posts=[], problems=[])
    owners: dict[str, str] = {}
    for outcome in outcomes:
        result.files_seen += 1
        result.problems.extend(outcome.problems)
        if outcome.excluded is not None:
            result.excluded += 1
            continue
        post = outcome.post
        if post is None:
            result.skipped += 1
            continue
        path = outcome.display_path or post.source
        other = owners.get(post.id)
        if other is not None:
            reason = f"duplicate id {post.id!r} (already used by {other})"
            result.problems.append(Problem(path, None, "error", reason))
            result.skipped += 1
            continue
        owners[post.id] = path
        if post.date > now:
            when = post.date.isoformat()
            result.problems.append(
                Problem(path, None, "info", f"scheduled for {when}; excluded until then")
            )
            result.excluded += 1
            if result.next_publish is None or post.date < result.next_publish:
                result.next_publish = post.date
            continue
        result.posts.append(post)
    return result
