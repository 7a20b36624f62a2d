"""kramdown's attribute lists and extensions, consumed before a Jekyll post reaches markdown-it.

Jekyll renders Markdown with kramdown, and real posts use its syntax on top of Markdown: block
attribute lists on their own line (``{: .notice--info}`` under a paragraph, ``{:.no_toc}`` under
a heading), span ones right after a link or emphasis (``[site](https://x.org){:target="_blank"}``),
attribute list definitions (``{:ref: .class}``), the table-of-contents marker (``* TOC`` with
``{:toc}`` under it) and extensions (``{::comment}…{:/comment}``, ``{::nomarkdown}…{:/}``,
``{::options … /}``), and HTML blocks whose content is Markdown (``<div markdown="1">``).
CommonMark knows none of them, so a feed reader showed them as text.

They are consumed here, on the Markdown source, so both engines (markdown-it-pyrs and the
markdown-it-py fallback) see the same text and render the same HTML. The attributes themselves
are dropped: the sanitizer would drop classes, ids and targets anyway. The table of contents
goes too: its links point at anchors of the site's page, not of a feed entry.

Only syntactically valid constructs are consumed (``{:`` + classes ``.c``, ids ``#i``,
``key="value"`` pairs and reference names, separated by spaces, + ``}``), so prose like
"{: not an attribute" and JSON stay. Code stays as written: the caller passes the lines of code
blocks (found by the Markdown parser, which knows lists and quotes), and code spans are found
here with CommonMark's backtick rule. ``{::nomarkdown}`` content is raw HTML: it is swapped for
an HTML comment placeholder before rendering and put back by :func:`restore` before the
sanitizer, which still cleans it.

Pure text in, text out; :mod:`feedsmith.core.markdown` calls it only for bodies containing
``{:`` or ``markdown=``, so other posts pay two substring tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
# One attribute: ``.class`` / ``#id`` (chainable: ``.a.b#c``), ``key="value"`` or
# ``key='value'`` (a ``}`` only escaped), or a reference name (``toc``, an ALD's name).
_TOKEN = (
    rf"(?:(?:\.{_NAME}|#[A-Za-z][A-Za-z0-9_:-]*)+"
    rf"|{_NAME}=(?:\"(?:\\.|[^\"\\}}])*\"|'(?:\\.|[^'\\}}])*')"
    rf"|{_NAME})"
)
_ATTRS = rf"[ \t]*{_TOKEN}(?:[ \t]+{_TOKEN})*[ \t]*"
_IAL = re.compile(rf"\{{:(?:({_NAME}):)?({_ATTRS})\}}")
_EXT_START = re.compile(rf"\{{::({_NAME})(?:{_ATTRS}|[ \t]*)(/)?\}}")
_EXTENSIONS = {"comment", "nomarkdown", "options"}
_REF_TOC = re.compile(r"(?:^|[ \t])toc(?=[ \t]|$)")
# What may stand before a block construct on its line: indentation and blockquote markers.
_BLOCK_PREFIX = re.compile(r"[ \t>]*")
_LIST_ITEM = re.compile(r"[ \t>]*(?:[*+-]|\d{1,9}[.)])(?:[ \t]|$)")
_TOC_ITEM = re.compile(r"[ \t>]*(?:[*+-]|\d{1,9}[.)])[ \t]+\S.*")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t>]*\n")
# An HTML opening tag alone on its line with kramdown's ``markdown`` attribute.
_MARKDOWN_OPEN = re.compile(
    r" {0,3}<(?P<tag>[A-Za-z][A-Za-z0-9-]*)(?=\s)[^<>]*?"
    r"(?P<attr>\s+markdown=(?P<q>[\"'])(?P<value>1|0|block|span)(?P=q))[^<>]*>[ \t\r]*"
)

# Where ``{::nomarkdown}`` content goes until :func:`restore`: an HTML comment on its own line is
# an HTML block (it may even interrupt a paragraph); inside a line an empty custom tag, which
# unlike a comment does not start an HTML block when the line begins with it (the rest of the
# line stays Markdown).
PLACEHOLDER = "<!--kramdown-nomarkdown-{}-->"
SPAN_PLACEHOLDER = "<kramdown-nomarkdown-{}/>"


@dataclass(frozen=True)
class Prepared:
    """The Markdown to render and the raw HTML parts its placeholders stand for."""

    text: str
    raw: tuple[str, ...] = ()


def prepare(body: str, code_lines: Iterable[tuple[int, int]]) -> Prepared:
    """``body`` without kramdown's attribute lists, TOC marker and extensions.

    ``code_lines`` are the (first, last) line numbers, 0-based and inclusive, of the body's
    fenced and indented code blocks: nothing inside them is touched.
    """
    lines = body.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    protected = [(starts[a], min(starts[b + 1], len(body))) for a, b in sorted(code_lines)]
    protected = _with_code_spans(body, protected)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
    raw: list[str] = []
    pos = body.find("{:")
    p = 0  # index into ``protected``
    while pos != -1:
        while p < len(protected) and protected[p][1] <= pos:
            p += 1
        if p < len(protected) and protected[p][0] <= pos:
            pos = body.find("{:", protected[p][1])
            continue
        edit = _extension(body, pos, starts, raw) or _attribute_list(body, pos, lines, starts)
        if edit is None or (edits and edit[0] < edits[-1][1]):
            pos = body.find("{:", pos + 2)
            continue
        edits.append(edit)
        pos = body.find("{:", max(edit[1], pos + 2))
    if "markdown=" in body:
        edits = _merged(edits, _markdown_blocks(body, lines, starts, protected))
    if not edits:
        return Prepared(body, ())
    out: list[str] = []
    last = 0
    for start, end, replacement in edits:
        out.append(body[last:start])
        out.append(replacement)
        last = end
    out.append(body[last:])
    return Prepared("".join(out), tuple(raw))


def _markdown_blocks(
    body: str, lines: list[str], starts: list[int], protected: list[tuple[int, int]]
) -> list[tuple[int, int, str]]:
    """The edits that make an HTML block with ``markdown="1"`` (or ``"block"``) hold Markdown,
    as kramdown parses it: the attribute removed, and a blank line after the opening tag's line
    and before its closing tag's, because a CommonMark HTML block runs to the next blank line
    and would show ``**x**`` as it is. ``markdown="0"``/``"span"``: only the attribute goes
    (kramdown keeps the content raw or inline; CommonMark keeps it raw). Only an opening tag
    alone on its line, outside code and quotes, is handled; the closing tag is found by
    counting that tag's openings and closings on the lines below."""
    edits: list[tuple[int, int, str]] = []
    for number, line in enumerate(lines):
        match = _MARKDOWN_OPEN.fullmatch(line)
        if match is None or _inside(protected, starts[number]):
            continue
        start = starts[number]
        edits.append((start + match.start("attr"), start + match.end("attr"), ""))
        if match.group("value") not in ("1", "block"):
            continue
        edits.append((start + len(line), start + len(line), "\n"))
        opening = re.compile(rf"<{match.group('tag')}(?=[\s>/])", re.IGNORECASE)
        closing = re.compile(rf"</{match.group('tag')}\s*>", re.IGNORECASE)
        depth = 1
        for below in range(number + 1, len(lines)):
            if _inside(protected, starts[below]):
                continue
            text = lines[below]
            if closing.match(text.lstrip(" ")) and depth - len(closing.findall(text)) <= 0:
                edits.append((starts[below], starts[below], "\n"))
                break
            depth += len(opening.findall(text)) - len(closing.findall(text))
    return edits


def _inside(protected: list[tuple[int, int]], pos: int) -> bool:
    return any(start <= pos < end for start, end in protected)


def _merged(
    first: list[tuple[int, int, str]], second: list[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """Both edit lists in order; an edit overlapping one kept before it is dropped."""
    kept: list[tuple[int, int, str]] = []
    for edit in sorted(first + second, key=lambda e: (e[0], e[1])):
        if kept and edit[0] < kept[-1][1]:
            continue
        kept.append(edit)
    return kept


def restore(html: str, raw: tuple[str, ...]) -> str:
    """Rendered HTML with each ``{::nomarkdown}`` placeholder replaced by its raw HTML."""
    for i, part in enumerate(raw):
        html = html.replace(PLACEHOLDER.format(i), part).replace(SPAN_PLACEHOLDER.format(i), part)
    return html


def _with_code_spans(body: str, blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``blocks`` plus the code spans outside them, sorted: a backtick run opens a span that the
    next run of the same length closes, within one paragraph (no blank line between); an
    opening run after a backslash is literal text."""
    spans = list(blocks)
    if "`" not in body:
        return spans
    gaps: list[tuple[int, int]] = []
    last = 0
    for start, end in blocks:
        gaps.append((last, start))
        last = end
    gaps.append((last, len(body)))
    for gap_start, gap_end in gaps:
        pos = gap_start
        while True:
            opener = _BACKTICKS.search(body, pos, gap_end)
            if opener is None:
                break
            if _escaped(body, opener.start()):
                pos = opener.start() + 1
                continue
            blank = _BLANK_LINE.search(body, opener.end(), gap_end)
            limit = blank.start() if blank else gap_end
            closer = _BACKTICKS.search(body, opener.end(), limit)
            while closer is not None and len(closer.group()) != len(opener.group()):
                closer = _BACKTICKS.search(body, closer.end(), limit)
            if closer is None:
                pos = opener.end()
                continue
            spans.append((opener.start(), closer.end()))
            pos = closer.end()
    spans.sort()
    return spans


def _escaped(text: str, pos: int) -> bool:
    backslashes = 0
    while pos - backslashes > 0 and text[pos - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _line_of(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:  # the last line whose start is <= pos
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _whole_lines(body: str, starts: list[int], start: int, end: int) -> tuple[int, int] | None:
    """The (first, last) lines ``body[start:end]`` fills alone (only indentation and quote
    markers before it, only spaces after it), else ``None``."""
    first, last = _line_of(starts, start), _line_of(starts, max(start, end - 1))
    before = body[starts[first] : start]
    after = body[end : starts[last + 1] - 1] if last + 1 < len(starts) else body[end:]
    if _BLOCK_PREFIX.fullmatch(before) is None or after.strip(" \t\r"):
        return None
    return first, last


def _extension(
    body: str, pos: int, starts: list[int], raw: list[str]
) -> tuple[int, int, str] | None:
    """The edit for a ``{::name …}`` extension at ``pos``: comments and options removed,
    nomarkdown content swapped for a placeholder; ``None`` for anything else."""
    start = _EXT_START.match(body, pos)
    if start is None or start.group(1) not in _EXTENSIONS:
        return None
    name = start.group(1)
    if start.group(2):  # {::name … /}: nothing inside
        end, content = start.end(), ""
    elif name == "options":
        return None  # kramdown's options extension has no content: only ``/}`` closes it
    else:
        close = re.compile(rf"\{{:/(?:{name})?\}}").search(body, start.end())
        if close is None:
            return None
        end, content = close.end(), body[start.end() : close.start()]
    lines = _whole_lines(body, starts, pos, end)
    if name == "nomarkdown" and content:
        raw.append(content.strip("\n") if lines else content)
        if lines is None:
            return pos, end, SPAN_PLACEHOLDER.format(len(raw) - 1)
        return starts[lines[0]], _line_end(body, starts, lines[1]), PLACEHOLDER.format(len(raw) - 1)
    if lines is None:
        return pos, end, ""
    return _drop_lines(body, starts, *lines)


def _attribute_list(
    body: str, pos: int, lines: list[str], starts: list[int]
) -> tuple[int, int, str] | None:
    """The edit for an IAL or ALD at ``pos``: its own line removed (with a one-item list above
    it when it is ``{:toc}``), or just its text when it follows a span."""
    match = _IAL.match(body, pos)
    if match is None:
        return None
    whole = _whole_lines(body, starts, pos, match.end())
    if whole is None:
        return pos, match.end(), ""
    line = whole[0]
    if (
        match.group(1) is None
        and _REF_TOC.search(match.group(2))
        and line > 0
        and _TOC_ITEM.fullmatch(lines[line - 1].rstrip("\r"))
        and (line == 1 or _LIST_ITEM.match(lines[line - 2]) is None)
    ):
        return _drop_lines(body, starts, line - 1, line)
    return _drop_lines(body, starts, line, line)


def _line_end(body: str, starts: list[int], line: int) -> int:
    """Where ``line``'s text ends (before its newline)."""
    return min(starts[line + 1] - 1, len(body))


def _drop_lines(body: str, starts: list[int], first: int, last: int) -> tuple[int, int, str]:
    """Remove lines ``first``…``last``. kramdown ends a paragraph at a block attribute list,
    so when text stands right above and below, a blank line keeps them apart, except before a
    list item, which starts a block anyway (a blank line there would make the list loose)."""
    above = body[starts[first - 1] : starts[first] - 1] if first > 0 else ""
    below_start = starts[last + 1] if last + 1 < len(starts) else len(body)
    below_end = starts[last + 2] - 1 if last + 2 < len(starts) else len(body)
    below = body[below_start:below_end]
    start = starts[first]
    end = min(starts[last + 1], len(body)) if last + 1 < len(starts) else len(body)
    if end == len(body) and not body.endswith("\n") and start > 0:
        start -= 1  # the last line: remove the newline before it instead
    if above.strip(" \t\r>") and below.strip(" \t\r>") and _LIST_ITEM.match(below) is None:
        prefix = _BLOCK_PREFIX.match(body, starts[first]).group().rstrip(" \t")
        return start, end, prefix + "\n"
    return start, end, ""
