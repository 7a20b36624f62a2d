"""Names and slugs: the merge key of a name, its slug, and the slug registry.

A slug becomes a URL that people subscribe to, so it must never change while its name exists
and must never be handed to a *different* name: a reader subscribed to ``tags/c.atom.xml`` for
``C++`` must not silently start receiving ``C#`` posts. That is why slugs live in a registry that
the build persists between runs, and why :func:`assign_slugs` keeps registry entries of names
that have vanished (their slug stays reserved, the output step answers 410 for the old feed, and
the name gets the same slug back if it reappears). The registry only grows by one short entry
per name ever seen, which is cheap. Its own module because these are the rules for what a name
*is* and where it is published, apart from how posts are grouped under names
(:mod:`~feedsmith.core.groups`); like grouping, all of it is pure and independent of input order.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

# Bounds that keep ``<slug>.atom.xml.gz`` well below NAME_MAX (255 bytes) even for CJK names
# (3 bytes a character) after a ``-<hash>`` suffix is added.
MAX_SLUG_CHARS = 80
MAX_SLUG_BYTES = 180
_HASH_LEN = 8
# Room for a collision suffix after a full-length slug: "-" + 16 hex, or "-" + 8 hex + "-N".
_SUFFIX_ROOM = 24


@lru_cache(maxsize=65536)  # ~800 distinct names, looked up ~100k times per build
def normalize_name(name: str) -> str:
    """The merge key: ``AI``, ``ai`` and ``ＡＩ`` are one tag.

    NFKC is applied again after casefolding because casefolding can produce decomposed or
    compatibility characters (e.g. ``ǰ``); the result is then idempotent.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def _short_hash(key: str, length: int = _HASH_LEN) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:length]


def _slug_char(ch: str) -> bool:
    # Letters, digits (all of N) and marks (so scripts with combining marks keep them).
    return unicodedata.category(ch)[0] in "LNM"


# Shortcuts for _slug_char over a whole string, in C (slugs are made and checked ~800 times a
# build): in ASCII, letters and digits are exactly the characters of categories L, N and M;
# beyond, every ``isalnum()`` character is in L or N (a test checks every code point), so an
# ``isalnum()`` string is all slug characters (the converse does not hold: marks).
_ASCII_NON_SLUG_RUN = re.compile(r"[^0-9A-Za-z]+")


def _bare_slug(name: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    if text.isascii():
        return _ASCII_NON_SLUG_RUN.sub("-", text).strip("-")
    if text.isalnum():
        return text
    out: list[str] = []
    dash = False
    for ch in text:
        if _slug_char(ch):
            out.append(ch)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def _fits(slug: str) -> bool:
    return len(slug) <= MAX_SLUG_CHARS and len(slug.encode("utf-8")) <= MAX_SLUG_BYTES


def slugify(name: str) -> str:
    """A safe, single path segment for a name; never empty.

    Letters, digits and marks are kept (``最新ニュース`` stays Japanese), every other run becomes
    ``-``. A name with nothing left (``+++``, ``#``) gets ``h-<hash>``; a name too long for a file
    name is cut and gets ``-<hash>``, so two long names sharing a prefix still differ. The hash is
    of :func:`normalize_name`, so names that merge share a slug.
    """
    key = normalize_name(name)
    slug = _bare_slug(key)
    if not slug:
        return f"h-{_short_hash(key)}"
    if _fits(slug):
        return slug
    cut = slug[:MAX_SLUG_CHARS]
    while len(cut.encode("utf-8")) > MAX_SLUG_BYTES - (_HASH_LEN + 1):
        cut = cut[:-1]
    # Do not leave a combining mark without its base, nor a trailing dash.
    while cut and unicodedata.category(cut[-1])[0] == "M":
        cut = cut[:-1]
    cut = cut.rstrip("-")
    return f"{cut}-{_short_hash(key)}" if cut else f"h-{_short_hash(key)}"


def is_safe_slug(slug: object) -> bool:
    """True for what :func:`slugify` (plus a collision suffix) can produce.

    Registry values are read back from a file on disk; anything else (``..``, ``a/b``, junk from
    a hand edit) is not trusted as a path segment and is reassigned.
    """
    if not isinstance(slug, str) or not slug or slug != slug.strip("-"):
        return False
    if len(slug.encode("utf-8")) > MAX_SLUG_BYTES + _SUFFIX_ROOM:
        return False
    if slug.isascii():  # (ASCII is NFKC-normal)
        return slug.replace("-", "").isalnum()
    if unicodedata.normalize("NFKC", slug) != slug:
        return False
    return slug.replace("-", "").isalnum() or all(ch == "-" or _slug_char(ch) for ch in slug)


def assign_slugs(kind: str, keys: Sequence[str], registry: dict[str, str]) -> dict[str, str]:
    """Slugs for ``keys`` (one kind), honouring and extending ``registry`` in place."""
    prefix = f"{kind}:"
    taken: dict[str, str] = {}  # slug -> key holding it
    # Every registered name of this kind keeps (reserves) its slug, present or not. A corrupt
    # registry with two names on one slug: the first key in sorted order keeps it.
    for reg_key in sorted(k for k in registry if k.startswith(prefix)):
        slug = registry[reg_key]
        if is_safe_slug(slug) and slug not in taken:
            taken[slug] = reg_key[len(prefix) :]
        else:
            del registry[reg_key]
    result: dict[str, str] = {}
    for key in sorted(keys):  # deterministic order for names new to the registry
        reg_key = prefix + key
        if reg_key in registry:
            result[key] = registry[reg_key]
            continue
        bare = slugify(key)
        slug = bare  # then, only if taken (hashes are not free): -<hash>, -<longer hash>, ...
        if slug in taken:
            slug = f"{bare}-{_short_hash(key)}"
        if slug in taken:
            slug = f"{bare}-{_short_hash(key, 16)}"
        counter = 2
        while slug in taken:  # only reachable through hash collisions or adversarial names
            slug = f"{bare}-{_short_hash(key)}-{counter}"
            counter += 1
        taken[slug] = key
        registry[reg_key] = slug
        result[key] = slug
    return result
