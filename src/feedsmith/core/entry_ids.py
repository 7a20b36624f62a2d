"""A post's generated id: ``tag:<authority>,<date>:<slug>`` (RFC 4151).

Ids deserve the most care. Feed readers dedupe on the id alone, so a generated id is built only
from things that do not change when a post is edited, re-rendered or moved to https: the
configured ``id_authority``, the publish date in the post's own offset and the slug. Its own
module because the spelling is final (see README, "Entry ids"): nothing else may change it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

# Characters a tag URI (RFC 4151 ``specific``: pchar / "/" / "?") may hold as they are. A tag URI
# is a URI, not an IRI: everything else, non-ASCII included, is percent-encoded UTF-8.
_TAG_URI_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/"
)


def tag_uri(authority: str, published: datetime, slug: str) -> str:
    """The id of a post without an ``id``/``guid`` of its own."""
    if published.year >= 1000:  # what %Y gives for four-digit years, without strftime
        day = f"{published.year}-{published.month:02d}-{published.day:02d}"
    else:
        day = published.strftime("%Y-%m-%d")
    return f"tag:{authority},{day}:{tag_specific(slug)}"


def tag_specific(slug: str) -> str:
    """The slug as an RFC 4151 ``specific``: percent-encoded UTF-8 outside the URI grammar.

    This form is final (see README, "Entry ids"): ids must never change again for a post.
    """
    if _TAG_URI_SAFE.issuperset(slug):  # the usual ASCII slug: every character kept
        return slug
    return "".join(char if char in _TAG_URI_SAFE else quote(char, safe="") for char in slug)
