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

from feedsmith.core.model import Author, Enclosure, Picture, Post


def content_hash(
    title: str,
    url: str,
    summary: str,
    content_html: str,
    categories: tuple[str, ...],
    tags: tuple[str, ...],
    authors: tuple[Author, ...],
    image: str | None,
    picture: Picture | None = None,
    enclosures: tuple[Enclosure, ...] = (),
    base: str = "",
) -> str:
    """Everything an entry shows except its dates: a change here means "the entry changed".

    The media facts (a picture's size and type, each enclosure's URL, length, type, duration)
    are appended only when there are any, so the hash of a post without media — or with only
    an image URL, hashed as ``image`` — is what it was before feedsmith published media: an
    upgrade must not mark every entry updated. ``base``: factored out of their URLs
    (:func:`without_base`), for ``change_hash``.

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
    media = media_fields(picture, enclosures, base)
    if media:
        fields.append(media)
    try:
        blob = orjson.dumps(fields)
    except TypeError:  # orjson.JSONEncodeError
        blob = content_blob_reference(fields)
    return hashlib.sha256(blob).hexdigest()


def media_fields(
    picture: Picture | None, enclosures: tuple[Enclosure, ...], base: str = ""
) -> list[Any]:
    """What a feed shows of a post's media beyond ``image`` (``[]``: nothing)."""

    def url(text: str | None) -> str | None:
        return without_base(text, base) if text and base else text

    out: list[Any] = []
    if picture is not None:
        facts = [picture.alt, picture.width, picture.height, picture.mime_type, url(picture.banner)]
        if any(value is not None for value in facts):
            out.append(facts)
        else:
            out.append(None)
    for e in enclosures:
        out.append([url(e.url), e.mime_type, e.length, e.title, e.duration])
    return out if any(item is not None for item in out) else []


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
    picture: Picture | None = None,
    enclosures: tuple[Enclosure, ...] = (),
) -> tuple[str, str]:
    """``(content_hash, change_hash)``: the second with the site's base URL factored out."""
    digest = content_hash(
        title, url, summary, content_html, categories, tags, authors, image, picture, enclosures
    )
    change = content_hash(
        title,
        without_base(url, base),
        summary,
        without_base(content_html, base),
        categories,
        tags,
        authors,
        without_base(image, base) if image else image,
        picture,
        enclosures,
        base,
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
        post.picture,
        post.enclosures,
    )
    return dataclasses.replace(
        post, content_html=content_html, summary=summary, content_hash=digest, change_hash=change
    )


def with_media(
    post: Post, picture: Picture | None, enclosures: tuple[Enclosure, ...], base: str
) -> Post:
    """``post`` with its media facts as read from the files (at the edge), hashes to match.

    Posts in a scan result carry no HTML (it stays in the parse index), so the hashes are not
    recomputed from the fields: each is chained, ``sha256(parse-time hash + the facts)``. Same
    input, same hash; a changed file changes the facts and so the hash (and the feeds' bytes),
    never the id."""
    media = media_fields(picture, enclosures)
    if not media:
        return dataclasses.replace(post, picture=picture, enclosures=enclosures)
    digest = _chain(post.content_hash, media)
    change = _chain(post.change_hash or post.content_hash, media_fields(picture, enclosures, base))
    return dataclasses.replace(
        post, picture=picture, enclosures=enclosures, content_hash=digest, change_hash=change
    )


def _chain(digest: str, media: list[Any]) -> str:
    blob = content_blob_reference([digest, media])
    return hashlib.sha256(blob).hexdigest()
