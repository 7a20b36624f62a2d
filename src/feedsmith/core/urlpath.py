"""Dot segments in post URLs (RFC 3986 §5.2.4), refused when they climb out of the site.

A permalink comes from front matter or from the configured pattern filled with a post's slug
and categories — text that whoever writes posts controls. ``permalink: ../../etc/passwd`` must
not be published as ``https://site/../../etc/passwd``: readers resolve it to a page outside the
blog (or to a different blog on a shared host). So the path is put in its normal form, with
``.`` and ``..`` (also spelled ``%2e``, which readers decode) removed, and a path that would go
above its starting point — the site's own path — is an error rather than silently clamped.
"""

from __future__ import annotations

import re


class PathEscapesSite(ValueError):
    """The path's ``..`` segments lead above the site's path."""


_END_OF_PATH = re.compile(r"[?#]")


def _dots(segment: str) -> int:
    """1 for a ``.`` segment, 2 for ``..``, 0 otherwise (``%2e`` counts as a dot, any case)."""
    if "%" in segment:
        segment = segment.lower().replace("%2e", ".")
    if segment == ".":
        return 1
    if segment == "..":
        return 2
    return 0


def remove_dot_segments(path: str) -> str:
    """``path`` (``/``-rooted, possibly followed by ``?query`` or ``#fragment``) without dot
    segments, as RFC 3986 §5.2.4 resolves them; a trailing ``.`` or ``..`` leaves a trailing
    ``/``. Raises :class:`PathEscapesSite` where the RFC would silently stop at the root.
    """
    end = _END_OF_PATH.search(path)
    head, tail = (path[: end.start()], path[end.start() :]) if end else (path, "")
    if "." not in head and "%" not in head:
        return path  # the usual permalink: nothing to resolve
    segments = head.split("/")[1:] if head.startswith("/") else head.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        dots = _dots(segment)
        if dots == 0:
            out.append(segment)
            continue
        if dots == 2:
            if not out:
                raise PathEscapesSite(head)
            out.pop()
        if i == last:
            out.append("")
    return "/" + "/".join(out) + tail
