"""``{% link %}`` and ``{% post_url %}``: placeholders now, URLs once every post is known.

A post is parsed alone (in a worker, cached by its bytes), but these tags name *other* files.
So they render a placeholder path that survives Markdown, sanitizing and absolutizing
unchanged, and the pipeline replaces each one (with any ``site.url``/``baseurl`` written before
it) by the target's absolute URL after the scan (:mod:`feedsmith.pipeline.links`).

The placeholder is ``/feedsmith-link/<k><hex>/``: ``k`` is ``l`` (link) or ``p``
(post_url), ``hex`` the target's UTF-8 bytes. Only lowercase letters, digits and ``-``: no
character Markdown, nh3 or percent-encoding would touch (``__x__`` would turn into bold
text outside a link), so the same bytes come out of
:func:`feedsmith.core.markdown.render_post` (absolutized against the post's host when it stood
alone in an ``href``). Being reversible, it needs no table shared between worker processes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Literal

LinkKind = Literal["link", "post_url"]

_MARK = "feedsmith-link"
_LETTER: dict[LinkKind, str] = {"link": "l", "post_url": "p"}
_KIND: dict[str, LinkKind] = {"l": "link", "p": "post_url"}

_CORE = rf"/{_MARK}/(?P<kind>[lp])(?P<hex>(?:[0-9a-f]{{2}})*)/"
# What the author wrote before the tag belongs to the URL being replaced: an origin
# (``{{ site.url }}``, or the post's own host that absolutizing added) and base-path segments
# (``{{ site.baseurl }}``). Segments are only taken when they start the URL (after an origin,
# or where a URL can start: an attribute quote, ``(``, ``>``, ``=``, white space, the start), so
# ``see (/…`` keeps its parenthesis and ``and/or/…`` keeps ``and/or``.
_PLACEHOLDER = re.compile(
    r"(?:(?:https?://[^/\s\"'<>()]+|(?<![^\s\"'(<>=]))(?:/[^/\s\"'<>()?#]+)*)?" + _CORE
)
_TARGETS = re.compile(_CORE)


def placeholder(kind: LinkKind, target: str) -> str:
    """A root-relative path standing for ``target`` (reversible: no table needed)."""
    return f"/{_MARK}/{_LETTER[kind]}{target.encode('utf-8').hex()}/"


def _decoded(match: re.Match[str]) -> tuple[LinkKind, str] | None:
    try:
        target = bytes.fromhex(match["hex"]).decode("utf-8")
    except ValueError:  # not UTF-8: never made by placeholder(), left as it is
        return None
    return _KIND[match["kind"]], target


def targets_in(text: str) -> tuple[tuple[LinkKind, str], ...]:
    """Every (kind, target) whose placeholder is in ``text``, in order, without repeats."""
    if _MARK not in text:
        return ()
    found: dict[tuple[LinkKind, str], None] = {}
    for match in _TARGETS.finditer(text):
        pair = _decoded(match)
        if pair is not None:
            found.setdefault(pair)
    return tuple(found)


def replace_links(text: str, resolve: Callable[[LinkKind, str], str]) -> str:
    """``text`` with each placeholder (and a URL origin/base path written before it) replaced
    by ``resolve(kind, target)``, HTML-escaped (valid in an attribute and in text)."""
    if _MARK not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        pair = _decoded(match)
        if pair is None:
            return match[0]
        return html.escape(resolve(*pair), quote=True)

    return _PLACEHOLDER.sub(replace, text)
