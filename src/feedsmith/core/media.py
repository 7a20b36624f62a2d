"""Front matter ``image``, ``enclosure(s)``, ``audio`` and ``video`` → :class:`Picture` and
:class:`Enclosure` (pure: the files themselves are read at the edge,
:mod:`feedsmith.pipeline.media_probe`, which fills in the facts afterwards).

A blogger writes media the way their theme or Jekyll plugin taught them: ``image:
/images/cover.jpg``, jekyll-seo-tag's ``image: {path: …, alt: …}``, ``audio: episode-12.mp3``,
or a podcast-style mapping with ``url``, ``type`` and ``length``. Each of these is accepted and
made absolute; what cannot be published (a ``javascript:`` URL, a path climbing out of
``media_dir``) is a warning with the key's line, and the post is published without it.

Where a file lives decides who is trusted for its facts. A file of ours — under ``media_dir``
(published as ``{site.url}/media/<path>``) or, on a Jekyll site, under the site's folder — is
measured (size, type, duration, width/height): the front matter's ``length`` or ``type`` for it
is ignored, since a re-encoded recording would otherwise keep announcing its old size. A remote
file cannot be measured (no network at build time), so its ``length`` and ``type`` come from
the front matter; the type may be guessed from the file name's extension.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from feedsmith.core.config import Config
from feedsmith.core.meta_values import scalar_text
from feedsmith.core.model import Enclosure, Picture, Severity
from feedsmith.core.permalinks import quote_url
from feedsmith.core.text import xml_safe
from feedsmith.core.urlpath import PathEscapesSite, remove_dot_segments
from feedsmith.core.urlsafety import is_allowed_url

#: Where ``media_dir`` is published under ``site.url``.
MEDIA_PREFIX = "/media/"
_WEB = frozenset({"http", "https"})

#: Extension → MIME type for what blogs attach. Our own table rather than :mod:`mimetypes`,
#: whose answers depend on the machine's ``/etc/mime.types`` (same input → same bytes).
MIME_BY_EXTENSION = {
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",
    "aac": "audio/aac",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "m4v": "video/x-m4v",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "pdf": "application/pdf",
    "epub": "application/epub+zip",
    "zip": "application/zip",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
    # Beside episodes: transcripts, chapters, notes (served from media_dir as they are).
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "json": "application/json",
    "txt": "text/plain",
    "html": "text/html",
}

_ENCLOSURE_KEYS = ("enclosure", "enclosures", "audio", "video")
#: ``type``: a MIME type, ``major/minor`` (parameters allowed).
_MIME = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?")
_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)")

ProblemFn = Callable[[Severity, str, "str | None"], None]
LineFn = Callable[[str], "int | None"]


def guess_type(path: str) -> str | None:
    """The MIME type a file name's extension stands for (``None``: unknown)."""
    name = urlsplit(path).path.rpartition("/")[2] if "://" in path else path.rpartition("/")[2]
    _, dot, ext = name.rpartition(".")
    return MIME_BY_EXTENSION.get(ext.lower()) if dot else None


class _Where:
    """Where a front-matter reference points: an absolute URL, and the file it names if ours."""

    __slots__ = ("local", "static", "url")

    def __init__(self, url: str, local: str | None = None, static: str | None = None) -> None:
        self.url, self.local, self.static = url, local, static


class MediaReader:
    """Reads one post's media keys; problems go to ``problem(severity, reason, key)``."""

    def __init__(self, config: Config, post_url: str, problem: ProblemFn, line: LineFn) -> None:
        self.site = config.site.url.rstrip("/")
        self.has_media = config.media_dir is not None
        self.jekyll = config.jekyll is not None
        self.post_url = post_url
        self.problem = problem
        self.line = line

    # -- where things are ------------------------------------------------------------------

    def _classify(self, url: str, key: str) -> _Where | None:
        """An absolute URL; ours when under ``{site.url}/media/`` (or the site, on a Jekyll
        site): then also the file's path, with ``%2e%2e`` and friends refused."""
        site = self.site + "/"
        if not url.startswith(site):
            return _Where(url)
        path = "/" + urlsplit(url).path[len(urlsplit(site).path) :].lstrip("/")
        try:
            clean = remove_dot_segments(unquote(path))
        except PathEscapesSite:
            self.problem("warning", f"{key}: {url} leads outside the site; ignored", key)
            return None
        if self.has_media and clean.startswith(MEDIA_PREFIX):
            return _Where(url, local=clean[len(MEDIA_PREFIX) :])
        if self.jekyll:
            return _Where(url, static=clean)
        return _Where(url)

    def _media_path(self, path: str, key: str) -> _Where | None:
        """A path relative to ``media_dir``; one climbing out of it is refused."""
        if not self.has_media:
            self.problem(
                "warning", f"{key}: {path!r} is a relative path but media_dir is not set", key
            )
            return None
        try:
            clean = remove_dot_segments("/" + path).lstrip("/")
        except PathEscapesSite:
            self.problem("warning", f"{key}: {path!r} is outside media_dir; ignored", key)
            return None
        if not clean or clean.endswith("/"):
            self.problem("warning", f"{key}: {path!r} is not a file; ignored", key)
            return None
        return _Where(quote_url(self.site + MEDIA_PREFIX + clean), local=clean)

    def where(self, value: str, key: str, *, relative_to_post: bool) -> _Where | None:
        """``value`` (a URL, a site path, or a relative path) made absolute.

        URLs and site paths resolve against the post's URL as links in its content do (and as
        ``image`` always did); a relative ``image`` too, while a relative enclosure is a file
        in ``media_dir``. On a Jekyll site a path is what jekyll-feed makes of it
        (``absolute_url``: under ``site.url``, ``baseurl`` included), and a relative enclosure
        without ``media_dir`` is a file of the site."""
        text = xml_safe(value.strip())
        try:
            parts = urlsplit(text)
            if not parts.scheme and not text.startswith("//"):
                relative = not text.startswith("/")
                if relative and not relative_to_post and (self.has_media or not self.jekyll):
                    return self._media_path(text, key)
                if self.jekyll:
                    text = self.site + "/" + text.lstrip("/")
            resolved = urljoin(self.post_url, text)
            if is_allowed_url(resolved, _WEB):
                return self._classify(quote_url(resolved), key)
        except ValueError:  # a broken IPv6 host such as "//[x"
            pass
        self.problem("warning", f"{key}: not an http(s) URL or a path; ignored", key)
        return None

    # -- image -----------------------------------------------------------------------------

    def picture(self, value: object) -> Picture | None:
        """``image``: a string, or ``{path|url, alt, width, height, banner}``."""
        if value is None or value == "":
            return None
        fields: dict[str, Any] = {}
        if isinstance(value, dict):
            fields = value
            value = value.get("path", value.get("url"))
        if not isinstance(value, str) or not value.strip():
            self.problem("warning", "image: no path or url given; ignored", "image")
            return None
        where = self.where(value, "image", relative_to_post=True)
        if where is None:
            return None
        banner = None
        given = fields.get("banner") or fields.get("banner_image")
        if isinstance(given, str) and given.strip():
            found = self.where(given, "image", relative_to_post=True)
            banner = found.url if found is not None else None
        return Picture(
            url=where.url,
            alt=_text(fields.get("alt")),
            width=self._count(fields.get("width"), "image", "width"),
            height=self._count(fields.get("height"), "image", "height"),
            mime_type=None if (where.local or where.static) else guess_type(where.url),
            banner=banner,
            local=where.local,
            static=where.static,
            line=self.line("image"),
        )

    # -- enclosures ------------------------------------------------------------------------

    def enclosures(self, meta: dict[str, Any]) -> tuple[Enclosure, ...]:
        """Every attachment, in front-matter order (RSS carries the first: a podcast's
        ``audio:`` written first stays first); the same URL twice is kept once."""
        found: list[Enclosure] = []
        seen: set[str] = set()
        for key in [k for k in meta if k in _ENCLOSURE_KEYS]:
            value = meta.get(key)
            if value is None or value == "" or value == []:
                continue
            for item in value if isinstance(value, list) else [value]:
                enclosure = self._enclosure(item, key)
                if enclosure is not None and enclosure.url not in seen:
                    seen.add(enclosure.url)
                    found.append(enclosure)
        return tuple(found)

    def _enclosure(self, item: object, key: str) -> Enclosure | None:
        fields: dict[str, Any] = {}
        if isinstance(item, dict):
            fields = item
            item = item.get("url", item.get("path", item.get("href")))
        if isinstance(item, int | float) and not isinstance(item, bool):
            item = scalar_text(item)
        if not isinstance(item, str) or not item.strip():
            self.problem("warning", f"{key}: no url or path given; ignored", key)
            return None
        where = self.where(item, key, relative_to_post=False)
        if where is None:
            return None
        title = _text(fields.get("title"))
        duration = self._duration(fields.get("duration"), key)
        ours = where.local is not None or where.static is not None
        if ours:  # measured at the edge; the front matter's length/type are not trusted
            return Enclosure(
                url=where.url,
                title=title,
                duration=duration,
                local=where.local,
                static=where.static,
                line=self.line(key),
            )
        mime = _text(fields.get("type") or fields.get("mime_type"))
        if mime is not None and not _MIME.fullmatch(mime):
            self.problem("warning", f"{key}: type {mime!r} is not a MIME type; ignored", key)
            mime = None
        mime = mime or guess_type(where.url)
        length = self._count(fields.get("length", fields.get("size")), key, "length")
        if mime is None:
            self.problem(
                "warning",
                f"{key}: remote file {where.url} has no type (and its name gives none); "
                "RSS gets no enclosure for it",
                key,
            )
        if length is None:
            self.problem(
                "warning",
                f"{key}: remote file {where.url} has no length (no network at build time); "
                "RSS gets no enclosure for it",
                key,
            )
        return Enclosure(
            url=where.url,
            mime_type=mime,
            length=length,
            title=title,
            duration=duration,
            line=self.line(key),
        )

    # -- values ----------------------------------------------------------------------------

    def _count(self, value: object, key: str, name: str) -> int | None:
        """A non-negative whole number (``"1234"`` too); anything else a warning."""
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        self.problem("warning", f"{key}: {name} must be a whole number; ignored", key)
        return None

    def _duration(self, value: object, key: str) -> float | None:
        """Seconds, or ``[[H:]M]M:SS`` as podcasts write it."""
        if value is None or value == "":
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            match = _CLOCK.fullmatch(str(value).strip())
            try:
                seconds = float(str(value).strip()) if match is None else _clock(match)
            except ValueError:
                seconds = -1.0
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        self.problem("warning", f"{key}: duration {value!r} is not a time; ignored", key)
        return None


def _clock(match: re.Match[str]) -> float:
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = xml_safe(scalar_text(value)).strip()
    return text or None


def read_media(
    meta: dict[str, Any], config: Config, post_url: str, problem: ProblemFn, line: LineFn
) -> tuple[Picture | None, tuple[Enclosure, ...]]:
    """A post's picture and attachments from its front matter (see the module docstring)."""
    reader = MediaReader(config, post_url, problem, line)
    return reader.picture(meta.get("image")), reader.enclosures(meta)
