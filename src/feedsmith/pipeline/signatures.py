"""The signatures that decide what a build renders: pure functions of what a feed shows.

Apart from :mod:`.plan` (which keeps them between builds and acts on them) because they are
the contract between a build and the next one's ``state.json``: change one and every document
of every site renders again once. Each says in its docstring exactly what it covers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Post

__all__ = ["digest", "document_key", "json_text", "opml_signature", "page_key", "post_line"]

#: Field and name separators of a line: no post field can hold them (``xml_safe``).
_SEP = "\x00"
_NAME_SEP = "\x01"


def document_key(group: FeedGroup) -> str:
    """A document's key among the state's signatures: ``tag:<key>`` for a feed's subscription
    document, ``tag:<key>#3`` for its archive page 3."""
    if group.paging is not None and group.paging.page:
        return f"{group.kind}:{group.key}#{group.paging.page}"
    return f"{group.kind}:{group.key}"


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(parts: list[Any]) -> str:
    return hashlib.sha256(json_text(parts).encode("utf-8", "surrogatepass")).hexdigest()


def post_line(post: Post) -> str:
    """One post's part of a feed's signature, and its key in the entry cache: everything of it
    a feed shows. ``content_hash`` stands for the title, URL, summary, HTML, authors and image
    (see ``posts._content_hash``); the rest is written out. Dates as whole epoch seconds: feeds
    show them in UTC to the second. Fields are joined with NUL and names with SOH, which no
    post field can contain (``xml_safe`` removes both), so the line is unambiguous; this costs
    a few µs a post, a fifth of JSON plus a hash."""
    return _SEP.join(
        (
            post.id,
            post.content_hash,
            str(int(post.date.timestamp())),
            str(int(post.updated.timestamp())),
            post.lang or "",
            post.slug,
            _NAME_SEP.join(post.categories),
            _NAME_SEP.join(post.tags),
            repr(post.extra) if post.extra else "",
        )
    )


def page_key(fingerprint: str, group: FeedGroup, shown: tuple[Post, ...]) -> str:
    """What a feed page (:meth:`feedsmith.core.pages.PageRenderer.context`) shows of a
    subscription document: the group's identity, its archive count and, per shown post, the
    fields the page lists. A body edit that leaves these as they were leaves the page too."""
    paging = group.paging
    head = [fingerprint, group.kind, group.key, group.name, group.slug]
    head.append(paging.prev if paging is not None else 0)
    parts = [json_text(head)]
    for post in shown:
        parts.append(
            _SEP.join(
                (
                    post.id,
                    post.title or "",
                    post.slug,
                    post.url,
                    post.date.isoformat(),
                    post.summary or "",
                    _NAME_SEP.join(a.name for a in post.authors),
                    _NAME_SEP.join(post.categories),
                    _NAME_SEP.join(post.tags),
                )
            )
        )
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def opml_signature(fingerprint: str, groups: list[FeedGroup], newest: datetime | None) -> str:
    """``newest``: the latest ``updated`` among the posts any feed shows."""
    return digest(
        [
            fingerprint,
            newest.isoformat() if newest else None,
            [[g.kind, g.key, g.name, g.slug] for g in groups],
        ]
    )
