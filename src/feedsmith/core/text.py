"""Text hygiene shared by every step that emits text into a feed.

Feeds are XML (and JSON read by XML-minded readers), so one forbidden character in one field makes
the whole document unparseable for every subscriber. Rather than dropping a post for it, the
offending characters are removed field by field; everything else — U+FFFD included — is kept
exactly as the author wrote it, because silently "fixing" text hides upstream problems.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"

# What XML 1.0 forbids: C0 controls except TAB/LF/CR, lone surrogates, U+FFFE and U+FFFF.
# Compiled once: this runs on every text field of every post.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Characters after which a cut reads naturally: whitespace, and the punctuation that separates
# phrases in Japanese text (which has no spaces between words).
_BREAK_AFTER = frozenset(" \t\n\r\u3000、。，．！？!?,;；:：)）」』】")

# How far back (as a fraction of the limit) a word boundary may be to be preferred over a hard
# cut: further back than this and the summary would lose too much of its budget.
_NEAR = 0.2


def xml_safe(s: str) -> str:
    """Remove the characters XML 1.0 cannot carry, keeping everything else byte for byte."""
    return _XML_FORBIDDEN.sub("", s)


# What must never reach a terminal or a log line raw: C0 controls, DEL, C1 controls, the line and
# paragraph separators, the bidi embeddings/overrides/isolates (they reorder what a reader sees,
# "Trojan Source"), lone surrogates (undecodable file-name bytes) — and the backslash, so that an
# escape in the output always means an escape and never a name that happens to contain one.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(s: str) -> str:
    """``s`` made safe for one line of a report, a log or a status file, one way everywhere.

    A file name is chosen by whoever can write to ``posts_dir``: a newline in it would forge a
    second report line, an ESC would drive the reader's terminal. Those characters become
    Python-style escapes (``\\n``, ``\\x1b``, ``\\u202e``, ``\\\\``); everything else, non-ASCII
    text included, is kept as written so Japanese names stay readable.
    """
    return _UNSAFE.sub(_escape_one, s)


def _is_attached(ch: str) -> bool:
    """True for characters that belong to the one before them and must not start a cut."""
    return (
        unicodedata.combining(ch) != 0
        or ch in "\u200d\u20e3"  # zero-width joiner, combining keycap
        or "\ufe00" <= ch <= "\ufe0f"  # variation selectors
        or "\U000e0100" <= ch <= "\U000e01ef"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"  # skin-tone modifiers
        or unicodedata.category(ch) == "Mn"
    )


def truncate(s: str, limit: int) -> str:
    """Shorten ``s`` to at most ``limit`` characters (the ``…`` included).

    The cut lands on a word or phrase boundary when one is near the end, otherwise on a
    character boundary that does not separate a base character from its combining marks or
    variation selectors. Text that already fits is returned unchanged (only trimmed at the end).
    """
    s = s.rstrip()
    if len(s) <= limit:
        return s
    if limit <= 0:
        return ""
    if limit == 1:
        return ELLIPSIS
    cut = limit - 1  # room for the ellipsis
    while cut > 0 and _is_attached(s[cut]):
        cut -= 1
    floor = max(1, int(cut - limit * _NEAR))
    best = None
    for i in range(cut, floor - 1, -1):
        if s[i - 1] in _BREAK_AFTER or s[i] in " \t\n\u3000":
            best = i
            break
    if best is not None:
        cut = best
    head = s[:cut].rstrip(" \t\n\r\u3000、，,;；:：")
    if not head:
        head = s[:cut]
    return head + ELLIPSIS
