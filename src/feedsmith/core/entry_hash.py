"""The hashes that say an entry changed: ``Post.content_hash`` and ``Post.change_hash``.

Its own module because these bytes are persisted (the state's entry hashes, the render plan's
signatures): a hash that moved without the entry changing would make every reader show every
post again. The fast path (orjson) and the plain one (json) must give the same bytes, and the
equivalence tests check that they do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import orjson

from feedsmith.core.model import Author, Post


def content_hash(
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
    (:func:`content_blob_reference`). orjson writes exactly those bytes for lists of strings
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
        blob = content_blob_reference(fields)
    return hashlib.sha256(blob).hexdigest()


def without_base(text: str, base: str) -> str:
    """``text`` with the site's base URL factored out: what ``Post.change_hash`` hashes.

    Moving a blog (``site.url`` from http to https, or to a new host) rewrites every link, but
    a reader sees the same entry: its ``updated`` must not move, or every reader re-shows every
    post. So the base (``site.url`` followed by ``/``) is replaced by a NUL, which no post text
    can hold (``xml_safe`` removes it), before hashing.
    """
    return text.replace(base.rstrip("/") + "/", "\x00/")


def content_blob_reference(fields: list[Any]) -> bytes:
    """The bytes :func:`content_hash` hashes, written by the json module."""
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "surrogatepass")


def post_hashes(
    base: str,
    title: str,
    url: str,
    summary: str,
    content_html: str,
    categories: tuple[str, ...],
    tags: tuple[str, ...],
    authors: tuple[Author, ...],
    image: str | None,
) -> tuple[str, str]:
    """``(content_hash, change_hash)``: the second with the site's base URL factored out."""
    digest = content_hash(title, url, summary, content_html, categories, tags, authors, image)
    change = content_hash(
        title,
        without_base(url, base),
        summary,
        without_base(content_html, base),
        categories,
        tags,
        authors,
        without_base(image, base) if image else image,
    )
    return digest, change


def with_content(post: Post, content_html: str, summary: str, base: str) -> Post:
    """``post`` showing other HTML and summary (its links resolved), hashes to match."""
    digest, change = post_hashes(
        base,
        post.title,
        post.url,
        summary,
        content_html,
        post.categories,
        post.tags,
        post.authors,
        post.image,
    )
    return dataclasses.replace(
        post, content_html=content_html, summary=summary, content_hash=digest, change_hash=change
    )
