"""Which URLs may leave feedsmith: the one scheme decision every published URL goes through.

A feed reader shows a post's links in a web view, so a ``javascript:``, ``data:`` or
``vbscript:`` URL in a feed is script run in the reader. Checking the scheme where a URL is
*written* is not enough: a link such as ``"&nbsp;javascript:alert(1)"`` has no scheme to a
sanitizer (it starts with a space, so it is "relative") and one once a later step strips that
space and resolves it. So the check is made on the *final* URL, after every rewriting step, and it
reads the URL as a browser does (WHATWG URL parsing): leading and trailing C0 controls and spaces
are stripped, tabs and newlines are removed anywhere, the scheme is case-insensitive. A URL
without a scheme is refused too: everything feedsmith publishes is absolute (a feed is read far
from the site), so a scheme-less URL here means some step did not resolve it, and readers
disagree about how to strip and resolve such a string.

Allowed: ``http``, ``https`` (web links and images) and ``mailto`` (authors and posts link to
e-mail addresses). Pure functions, no I/O.
"""

from __future__ import annotations

import re

#: Schemes a published URL may have.
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
#: What WHATWG URL parsing strips from both ends: C0 controls and U+0020.
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
#: What it removes anywhere: ASCII tab and newlines.
_TAB_OR_NEWLINE = re.compile("[\t\n\r]")
#: A scheme: an ASCII letter, then letters, digits, ``+``, ``-``, ``.``, up to the first ``:``.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*(?=:)")


def browser_view(url: str) -> str:
    """``url`` as a browser's URL parser starts reading it (before resolving or encoding)."""
    return _TAB_OR_NEWLINE.sub("", url.strip(_C0_OR_SPACE))


def url_scheme(url: str) -> str | None:
    """The lowercased scheme a browser finds in ``url``, or ``None`` for a relative URL."""
    match = _SCHEME.match(browser_view(url))
    return match.group().lower() if match else None


def is_allowed_url(url: str, schemes: frozenset[str] = ALLOWED_SCHEMES) -> bool:
    """True when ``url`` is absolute with one of ``schemes`` as a browser reads it.

    ``schemes`` narrows the choice for a field that can only be a web URL (an image)."""
    if url.startswith(("https://", "http://")):  # most links: nothing for a browser to strip
        return "https" in schemes if url[4] == "s" else "http" in schemes
    return url_scheme(url) in schemes
