"""Front matter + body → :class:`Post`: titles, dates, ids, URLs, names, drafts, duplicates.

Everything here is pure (:func:`~feedsmith.pipeline.scan.scan_posts` reads the files):
:func:`parse_post` takes the file's *bytes* (so it can run in a worker process or be cached by
content) and never looks at the clock, and :func:`collect` gets ``now`` passed in. Real blogs
are messy, so the rule throughout is: repair what can be repaired without guessing (control
characters, string-valued lists, missing titles) and report it; refuse only what cannot be
published truthfully (no date, broken front matter).

The parts with contracts of their own live beside this module: the URL
(:mod:`~feedsmith.core.permalinks`), the generated id (:mod:`~feedsmith.core.entry_ids`), the
names a post is filed under (:mod:`~feedsmith.core.post_names`), the change hashes
(:mod:`~feedsmith.core.entry_hash`) and the reading of front-matter values
(:mod:`~feedsmith.core.meta_values`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import date, datetime, time
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from feedsmith.core.collecting import collect as collect  # its home before it had a module
from feedsmith.core.config import Config
from feedsmith.core.dates import parse_date, split_dated_name
from feedsmith.core.decoding import SourceError, decode
from feedsmith.core.entry_hash import post_hashes
from feedsmith.core.entry_ids import tag_uri
from feedsmith.core.frontmatter import Document, FrontMatterError, parse_document
from feedsmith.core.identity import content_key
from feedsmith.core.jekyll.links import targets_in
from feedsmith.core.jekyll.post import (
    excerpt_source,
    is_post_name,
    jekyll_id,
    jekyll_meta,
    jekyll_url,
    page_vars,
    render_body,
)
from feedsmith.core.markdown import html_to_text, inline_text, render_html_post, render_post
from feedsmith.core.media import read_media
from feedsmith.core.meta_values import DROP, clean_opt, falsy, json_safe, kind, scalar_text, truthy
from feedsmith.core.model import ParseOutcome, Post, Problem, Severity
from feedsmith.core.permalinks import SitePathError, expand_permalink, quote_url, site_path
from feedsmith.core.post_names import read_authors, read_names
from feedsmith.core.text import escape_controls, truncate, xml_safe

if TYPE_CHECKING:  # start-up cost: importing the Liquid engine takes ~0.1-0.2 s, and a site
    # without ``jekyll:`` never renders Liquid (feedsmith.core.jekyll.post imports it when needed)
    from feedsmith.core.jekyll.liquid_state import IncludeSource

log = logging.getLogger("feedsmith.posts")

SUMMARY_LIMIT = 300
# An excerpt the author wrote on purpose is kept longer than a derived one, but still bounded:
# some blogs paste a whole article into ``description``.
EXPLICIT_SUMMARY_LIMIT = 1000

_UPDATED_KEYS = ("last_modified_at", "updated", "modified")
_SUMMARY_KEYS = ("excerpt", "description", "summary")
_KNOWN_KEYS = {
    "title", "date", *_UPDATED_KEYS, "categories", "category", "tags", "tag", "author",
    "authors", *_SUMMARY_KEYS, "permalink", "url", "id", "guid", "slug", "published", "draft",
    "lang", "image", "enclosure", "enclosures", "audio", "video",
}  # fmt: skip


class _Rendered(Exception):
    """Liquid could not render the body; the error Problem (with its line) is already added."""


class _Invalid(Exception):
    """A reason this file cannot become a post; turned into one ``error`` Problem."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


# ---------------------------------------------------------------------------------------------
# parse_post


def parse_post(
    data: bytes,
    rel: str,
    display_path: str,
    config: Config,
    includes: IncludeSource | None = None,
) -> ParseOutcome:
    """Decode, split and normalize one file. Never raises: bad input becomes a Problem.

    ``includes``: where a Jekyll site's Liquid ``include`` reads (the pipeline's confined
    reader); without one, every include is missing."""
    try:
        return _Parser(data, rel, display_path, config, includes).run()
    except Exception as exc:  # last resort: one broken post must not stop a build of 10,000
        log.exception("internal error while parsing %s", escape_controls(display_path))
        reason = f"internal error: {type(exc).__name__}: {exc}"
        return ParseOutcome(
            None, [Problem(display_path, None, "error", reason)], None, display_path
        )


class _Parser:
    """One file's parse. A class only so the helpers share the file's problems and key lines."""

    def __init__(
        self,
        data: bytes,
        rel: str,
        display_path: str,
        config: Config,
        includes: IncludeSource | None = None,
    ) -> None:
        self.data = data
        self.includes = includes
        self.jekyll = config.jekyll
        self.rel = rel
        self.path = display_path
        self.config = config
        self.problems: list[Problem] = []
        self.text = ""
        self.doc: Document | None = None
        self._lines: dict[str, int] | None = None
        self.id_given = False
        self.relative_reads: tuple[str, ...] = ()

    def problem(self, severity: Severity, reason: str, key: str | None = None) -> None:
        self.problems.append(Problem(self.path, self._key_line(key), severity, reason))

    def outcome(self, post: Post | None, excluded: str | None = None) -> ParseOutcome:
        return ParseOutcome(post, self.problems, excluded, self.path)

    def run(self) -> ParseOutcome:
        try:
            return self._run()
        except (_Invalid, SitePathError) as bad:
            self.problem("error", bad.reason, bad.key)
            return self.outcome(None)
        except _Rendered:  # its error is reported already, with the template's line
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
        if self.jekyll is not None:
            if not is_post_name(self.rel):
                self.problem("info", "not a post: Jekyll publishes only YYYY-MM-DD-title files")
                return self.outcome(None, "not a dated file name")
            meta = jekyll_meta(meta, self.rel, self.jekyll)

        if truthy(meta.get("draft")):
            self.problem("info", "draft: excluded", "draft")
            return self.outcome(None, "draft")
        if falsy(meta.get("published")):
            self.problem("info", "published: false: excluded", "published")
            return self.outcome(None, "published: false")

        stem = _stem(self.rel)
        file_date, name_slug = split_dated_name(stem)
        title = self._title(meta.get("title"), name_slug or stem)
        published = self._date(meta, file_date)
        updated, explicit = self._updated(meta, published)
        slug = self._slug(meta.get("slug"), name_slug or stem)
        categories = read_names(meta, "categories", "category", self.problem)
        tags = read_names(meta, "tags", "tag", self.problem)
        if self.jekyll is None:
            url = self._url(meta, published, slug, categories)
            post_id = self._id(meta, published, slug)
            body = doc.body
        else:
            url, path = jekyll_url(self.config, meta, published, slug, categories, self.rel)
            post_id, self.id_given = jekyll_id(self.config, meta, path, slug)
            body = self._liquid(doc, meta, title, published, path, post_id, slug)
        authors, default_author = read_authors(meta, self.config, self.problem)
        summary = self._summary(meta)
        render = render_html_post if self.rel.lower().endswith((".html", ".htm")) else render_post
        content_html, derived_summary = render(body, url, None if summary else SUMMARY_LIMIT)
        if not summary and self.jekyll is not None:
            separator = scalar_text(meta.get("excerpt_separator", self.jekyll.excerpt_separator))
            excerpt = excerpt_source(body, separator)
            if excerpt is not None:
                derived_summary = truncate(
                    html_to_text(render(excerpt, url, None)[0]), SUMMARY_LIMIT
                )
        summary = summary or derived_summary
        picture, enclosures = read_media(meta, self.config, url, self.problem, self._key_line)
        image = picture.url if picture is not None else None
        lang = clean_opt(meta.get("lang"))
        extra = {k: v for k, v in ((k, json_safe(v)) for k, v in meta.items()) if v is not DROP}
        for key in _KNOWN_KEYS:
            extra.pop(key, None)
        digest, change = post_hashes(
            self.config.site.url,
            title,
            url,
            summary,
            content_html,
            categories,
            tags,
            authors,
            image,
            picture,
            enclosures,
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
            picture=picture,
            enclosures=enclosures,
            default_author=default_author,
            extra=extra,
            identity_key="" if self.id_given else content_key(meta, doc.body),
            has_links=self.jekyll is not None and bool(targets_in(content_html + summary)),
            reads_others=bool(self.relative_reads),
        )
        return self.outcome(post)

    # -- fields -------------------------------------------------------------------------------

    def _title(self, value: object, name: str) -> str:
        """The given title as exact text, else Jekyll's: the file name's words, capitalized.

        Only the first letter of each word is raised (``iphone-tips`` → ``Iphone Tips`` in
        Jekyll, ``iphone`` → ``Iphone`` here too, but ``macOS`` stays ``MacOS``, not ``Macos``).
        """
        if value is not None and not isinstance(value, dict | list):
            text = xml_safe(scalar_text(value)).strip()
            if text:
                return text
        elif value is not None:
            raise _Invalid(f"title must be text, not {kind(value)}", "title")
        words = [w for w in re.split(r"[-_\s]+", name) if w]
        return xml_safe(" ".join(w[:1].upper() + w[1:] for w in words)) or xml_safe(name)

    def _date(self, meta: dict[str, Any], file_date: date | None) -> datetime:
        value = meta.get("date")
        if value is not None and value != "":
            try:
                return parse_date(value, self.config.tz)
            except ValueError as exc:
                if self.jekyll is None or file_date is None:
                    raise _Invalid(f"date: {exc}", "date") from None
                # A Jekyll site's post is published by Jekyll under its file name's date
                # whenever that is a date; refusing it would drop a post readers have.
                self.problem("warning", f"date: {exc}; using the file name's date", "date")
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
            text = unicodedata.normalize("NFC", xml_safe(scalar_text(candidate)))
            text = re.sub(r"[\s/\\]+", "-", text.strip()).strip("-")
            if text:
                return text
        return "post"

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
                    return quote_url(given)
            except ValueError:  # urlsplit refuses e.g. "//[x" (a broken IPv6 host)
                parts = None
            if parts is None or parts.scheme or given.startswith("//"):
                self.problem("warning", f"{key}: not an http(s) URL or a path; ignored", key)
                continue
            path = expand_permalink(given, published, slug, categories)
            return quote_url(site + "/" + site_path(path, key, given).lstrip("/"))
        pattern = self.config.permalink
        path = expand_permalink(pattern, published, slug, categories)
        return quote_url(site + site_path(path, None, pattern))

    def _id(self, meta: dict[str, Any], published: datetime, slug: str) -> str:
        for key in ("id", "guid"):
            value = meta.get(key)
            if value is None or isinstance(value, dict | list):
                continue
            text = xml_safe(scalar_text(value)).strip()
            if text:
                self.id_given = True
                return text
        return tag_uri(self.config.id_authority, published, slug)

    def _summary(self, meta: dict[str, Any]) -> str:
        """The author's own excerpt as plain text; empty when there is none."""
        for key in _SUMMARY_KEYS:
            value = meta.get(key)
            if value is None or isinstance(value, dict | list):
                continue
            text = inline_text(scalar_text(value))
            if text:
                return truncate(text, EXPLICIT_SUMMARY_LIMIT)
        return ""

    def _liquid(
        self,
        doc: Document,
        meta: dict[str, Any],
        title: str,
        published: datetime,
        path: str,
        post_id: str,
        slug: str,
    ) -> str:
        """The body with its Liquid rendered, as Jekyll renders it before Markdown."""
        page = page_vars(
            meta,
            title=title,
            date=published.astimezone(self.config.tz),
            url_path=path,
            post_id=post_id.removeprefix(self.config.site.url),
            slug=slug,
            rel=self.rel,
        )
        result = render_body(self.config, doc, meta, page, self.includes)
        if result is None:
            return doc.body
        self.relative_reads = result.relative_reads
        for line, severity, reason in result.problems:
            self.problems.append(Problem(self.path, line, severity, reason))
        if result.error is not None:
            line, reason = result.error
            reason = reason if reason.startswith("Liquid") else f"Liquid: {reason}"
            self.problems.append(Problem(self.path, line, "error", reason))
            raise _Rendered
        return result.text

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


def _stem(rel: str) -> str:
    """``PurePosixPath(rel).stem``, without building a path object when ``rel`` ends in a name
    (every source file's does): the path's last part is then simply what follows the last
    ``/``. A trailing ``/`` or ``.`` part, which pathlib drops, goes to pathlib."""
    name = rel.rpartition("/")[2]
    if not name or name == ".":
        return PurePosixPath(rel).stem
    i = name.rfind(".")
    return name[:i] if 0 < i < len(name) - 1 else name
