"""An episode's own fields, read from its post's front matter and checked.

A post is an episode of a show when it is in the show's feed and has an enclosure. Its
``episode``, ``season``, ``episode_type``, ``explicit``, ``duration``, ``transcript``,
``chapters`` and ``block`` are front-matter keys (in ``Post.extra``: the post parser keeps
unknown keys there); ``image`` is the post's picture and ``guid`` its entry id (both already
read by the post parser). A bad value is a :class:`Finding` naming the key, and the episode is
published without it: one typo must not take an episode out of every podcast app.

Paths (``transcript: ep1.vtt``) are relative to ``media_dir`` and published under
``{site.url}/media/``, like enclosures; a path starting with ``/`` is a site path; an http(s)
URL is used as given. Whether a local file exists is the pipeline's question (``local``).
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from feedsmith.core.model import Post
from feedsmith.core.urlsafety import is_allowed_url

__all__ = [
    "EPISODE_KEYS",
    "TRANSCRIPT_TYPES",
    "Chapter",
    "Episode",
    "Finding",
    "Linked",
    "read_episode",
]

EPISODE_KEYS = (
    "episode", "season", "episode_type", "explicit", "duration", "transcript", "chapters",
    "block",
)  # fmt: skip

#: Transcript file extension → the MIME type the Podcast Index namespace names.
TRANSCRIPT_TYPES = {
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}
CHAPTERS_TYPE = "application/json+chapters"


@dataclass(frozen=True)
class Finding:
    """One thing ``check`` (and the build's report) says about a show or an episode.

    ``source`` is the post's ``source`` (``None``: the config file); ``key`` the front-matter
    or config key it is about, so the edge can find its line.
    """

    severity: Literal["error", "warning"]
    reason: str
    source: str | None = None
    key: str | None = None


@dataclass(frozen=True)
class Linked:
    """A file an episode links to: its absolute URL, its type, and its path under
    ``media_dir`` when it is one of ours (``None``: a URL or a site path)."""

    url: str
    mime_type: str
    local: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Chapter:
    start: float
    title: str


@dataclass(frozen=True)
class Episode:
    post: Post
    number: int | None = None
    season: int | None = None
    episode_type: str | None = None
    explicit: bool | None = None
    duration: int | None = None
    transcripts: tuple[Linked, ...] = ()
    #: A chapters file given by path or URL.
    chapters: Linked | None = None
    #: Chapters given as a list: feedsmith writes them as a JSON chapters file.
    chapter_list: tuple[Chapter, ...] = ()
    block: bool = False


def read_episode(post: Post, site_url: str, has_media: bool) -> tuple[Episode, list[Finding]]:
    """The post's episode fields; each bad one left out and said why."""
    extra = post.extra
    found: list[Finding] = []

    def bad(key: str, reason: str) -> None:
        found.append(Finding("error", f"{key}: {reason}", post.source, key))

    number = _count(extra, "episode", 0, bad)
    season = _count(extra, "season", 1, bad)
    episode_type = None
    if extra.get("episode_type") is not None:
        value = str(extra["episode_type"]).strip().lower()
        if value in ("full", "trailer", "bonus"):
            episode_type = value
        else:
            bad("episode_type", f"must be full, trailer or bonus, not {extra['episode_type']!r}")
    explicit = _flag(extra, "explicit", bad)
    block = bool(_flag(extra, "block", bad))
    duration = _duration(extra.get("duration"), bad)
    if duration is None and extra.get("duration") is None and post.enclosures:
        measured = post.enclosures[0].duration
        if measured is not None and math.isfinite(measured) and measured >= 0:
            duration = round(measured)
    transcripts: list[Linked] = []
    raw = extra.get("transcript")
    for item in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
        linked = _linked(item, "transcript", site_url, has_media, bad)
        if linked is not None:
            transcripts.append(linked)
    chapters, chapter_list = None, ()
    raw = extra.get("chapters")
    if isinstance(raw, list):
        chapter_list = _chapter_list(raw, bad)
    elif raw is not None:
        chapters = _linked(raw, "chapters", site_url, has_media, bad)
    episode = Episode(
        post=post,
        number=number,
        season=season,
        episode_type=episode_type,
        explicit=explicit,
        duration=duration,
        transcripts=tuple(transcripts),
        chapters=chapters,
        chapter_list=chapter_list,
        block=block,
    )
    return episode, found


def _count(extra: dict[str, Any], key: str, minimum: int, bad: Any) -> int | None:
    value = extra.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bad(key, f"must be a whole number from {minimum}, not {value!r}")
        return None
    return value


def _flag(extra: dict[str, Any], key: str, bad: Any) -> bool | None:
    value = extra.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "no", "false"):
        return value.strip().lower() in ("yes", "true")
    bad(key, f"must be true or false, not {value!r}")
    return None


def _duration(value: Any, bad: Any) -> int | None:
    """Seconds, or ``[[H:]M:]S`` as podcasters write it."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return round(value)
    elif isinstance(value, str):
        parts = value.strip().split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if 1 <= len(numbers) <= 3 and all(math.isfinite(n) and n >= 0 for n in numbers):
            seconds = 0.0
            for n in numbers:
                seconds = seconds * 60 + n
            return round(seconds)
    bad("duration", f"must be seconds or H:MM:SS, not {value!r}")
    return None


def _linked(item: Any, key: str, site_url: str, has_media: bool, bad: Any) -> Linked | None:
    mime, language = None, None
    if isinstance(item, dict):
        ref = item.get("url") or item.get("path")
        mime = item.get("type") if isinstance(item.get("type"), str) else None
        language = item.get("language") if isinstance(item.get("language"), str) else None
    else:
        ref = item
    if not isinstance(ref, str) or not ref.strip():
        bad(key, f"must be a path or URL (or a mapping with url or path), not {item!r}")
        return None
    ref = ref.strip()
    local = None
    if "://" in ref or ref.startswith("//"):
        url = ref
    elif ref.startswith("/"):
        url = site_url + ref
    else:
        clean = posixpath.normpath(ref)
        if clean.startswith("..") or clean.startswith("/"):
            bad(key, f"{ref!r} leaves media_dir")
            return None
        if not has_media:
            bad(key, f"{ref!r} is a path under media_dir, and media_dir is not set")
            return None
        local = clean
        url = f"{site_url}/media/{quote(clean, safe='/')}"
    if not is_allowed_url(url) or not url.startswith(("http://", "https://")):
        bad(key, f"not an http(s) URL: {ref!r}")
        return None
    if mime is None:
        ext = posixpath.splitext(ref.split("?", 1)[0])[1].lower()
        if key == "chapters":
            mime = CHAPTERS_TYPE
        else:
            mime = TRANSCRIPT_TYPES.get(ext)
            if mime is None:
                bad(key, f"unknown transcript type {ext or ref!r} (VTT, SRT, JSON, HTML, TXT)")
                return None
    return Linked(url, mime, local, language)


def _chapter_list(raw: list[Any], bad: Any) -> tuple[Chapter, ...]:
    out: list[Chapter] = []
    for i, item in enumerate(raw):
        start = item.get("start") if isinstance(item, dict) else None
        title = item.get("title") if isinstance(item, dict) else None
        seconds = _duration(start, lambda k, r: None) if start is not None else None
        if seconds is None or not isinstance(title, str) or not title.strip():
            bad("chapters", f"item {i + 1} needs start (seconds or H:MM:SS) and title")
            continue
        out.append(Chapter(float(seconds), title.strip()))
    return tuple(sorted(out, key=lambda c: c.start))
