"""The plain data that flows through the pipeline.

These dataclasses are the contract between the steps (scan → parse → normalize → group →
render → write → serve). They hold data only: no I/O, no config lookups, so every step can be
tested by constructing them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from feedsmith.core.text import escape_controls

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    """Something wrong (or noteworthy) about one input file.

    ``severity`` decides what happened to the post: ``error`` means it was skipped as invalid,
    ``warning`` means it was used but something was repaired or guessed (e.g. a Shift_JIS file),
    ``info`` is for deliberate exclusions (drafts, unpublished, future-dated).
    ``path`` is the path as the user knows it (relative to the current directory when possible).
    ``path`` and ``reason`` hold the raw text (a path compares equal to the file's); the one
    line made by :meth:`format` (and ``str``) escapes both with
    :func:`~feedsmith.core.text.escape_controls`, so a file name can never forge a second line.
    """

    path: str
    line: int | None
    severity: Severity
    reason: str

    def format(self) -> str:
        path, reason = escape_controls(self.path), escape_controls(self.reason)
        return f"{path}:{self.line or 1}: {self.severity}: {reason}"

    __str__ = format


@dataclass(frozen=True)
class Author:
    name: str
    email: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Picture:
    """A post's picture (front matter ``image``), as the feeds show it.

    ``url`` is absolute. ``width``/``height``/``mime_type`` come from the front matter or, for a
    local file, from the file itself (read at the edge, :mod:`feedsmith.pipeline.media`);
    ``None`` when unknown. ``banner`` is JSON Feed's ``banner_image`` when one is given.
    ``local`` (a path relative to ``media_dir``) or ``static`` (a site path under the site's
    static folder, a Jekyll site's root) names the file the facts are read from; ``line`` is
    the front-matter line a problem with that file points at.
    """

    url: str
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    banner: str | None = None
    local: str | None = None
    static: str | None = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Enclosure:
    """One file a post attaches (front matter ``enclosure(s)``, ``audio``, ``video``).

    ``url`` is absolute. ``local`` is the file's path relative to ``media_dir`` when it is one
    of ours (its facts are then read from the file, never trusted from the front matter);
    ``None`` for a remote URL, whose ``length`` and ``mime_type`` come from the front matter.
    ``duration`` is in seconds.
    """

    url: str
    mime_type: str | None = None
    length: int | None = None
    title: str | None = None
    duration: float | None = None
    local: str | None = None
    #: A site path under the site's static folder (a Jekyll site's root), facts read from it.
    static: str | None = None
    #: The front-matter line a problem with the file points at (not published).
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Post:
    """One valid, published post, normalized.

    Datetimes are timezone-aware. ``updated`` is the front-matter modification date when one
    was given (``updated_explicit``), else equal to ``date``; the build may replace it with the
    time the content was last seen to change (see ``state``). ``content_hash`` covers everything a
    reader sees in an entry, so it changes exactly when an entry's text changes; ``change_hash``
    is the same with the site's base URL factored out, so moving the blog (http → https, a new
    host) changes links but not ``updated``. Empty means "same as ``content_hash``".
    """

    source: str  # path relative to posts_dir, POSIX separators: the post's identity on disk
    id: str
    slug: str
    title: str
    url: str
    date: datetime
    updated: datetime
    updated_explicit: bool
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    authors: tuple[Author, ...]
    summary: str
    content_html: str
    content_hash: str
    change_hash: str = ""
    lang: str | None = None
    image: str | None = None
    #: ``image`` with what is known about it (size, type, alt); ``image`` stays its URL.
    picture: Picture | None = None
    #: What the post attaches, in front-matter order (RSS carries the first).
    enclosures: tuple[Enclosure, ...] = ()
    #: True when ``authors`` is only ``site.author`` filled in for a post that names nobody:
    #: such a post has no author feed (a one-author blog would get a copy of its site feed).
    default_author: bool = False
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: What recognises the post after a rename (:func:`feedsmith.core.identity.content_key`);
    #: ``""`` when its front matter gives its id (never replaced), ``None`` when unknown.
    identity_key: str | None = None
    #: Its HTML holds ``{% link %}``/``{% post_url %}`` placeholders (a Jekyll site), resolved
    #: once every post's URL is known (:mod:`feedsmith.pipeline.links`).
    has_links: bool = False
    #: Its Liquid read files beside it (``include_relative``): re-parsed on every full scan.
    reads_others: bool = False


@dataclass
class ScanResult:
    """What a scan of ``posts_dir`` produced: valid posts, problems, and what to wake up for."""

    posts: list[Post]
    problems: list[Problem]
    files_seen: int = 0
    skipped: int = 0  # invalid posts (errors)
    excluded: int = 0  # drafts, unpublished, future-dated
    next_publish: datetime | None = None  # earliest future-dated post's date, for the scheduler

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


@dataclass
class ParseOutcome:
    """What one file became: a post, or nothing plus the reason, and any problems on the way.

    ``display_path`` is carried so :func:`collect` can name the file in problems it adds
    (duplicates, scheduled posts) without another lookup.
    """

    post: Post | None
    problems: list[Problem]
    excluded: str | None
    display_path: str = field(default="")
