"""kramdown's attribute lists, TOC marker and extensions (Jekyll's Markdown) never reach readers
as text, in either engine; the same characters inside code, and prose that only looks like
them, stay as written."""

from __future__ import annotations

from pathlib import Path

import feedparser
import markdown_it_pyrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.core import markdown as md
from markdown_support import Exploding

PAGE = "https://b.example/p/"


def both_engines(monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """The HTML of ``body`` from the fast engine, after checking the fallback gives the same
    (whitespace aside, as in tests/test_markdown_footnotes.py) and the same summary."""
    fast_html, fast_summary = md.render_post(body, PAGE)
    with monkeypatch.context() as m:
        m.setattr(md, "_FAST", Exploding())
        ref_html, ref_summary = md.render_post(body, PAGE)
    assert "".join(ref_html.split()) == "".join(fast_html.split())
    assert ref_summary == fast_summary
    return fast_html


CONSUMED = [
    ("**Note:** text\n{: .notice--info}\n", "<p><strong>Note:</strong> text</p>\n"),
    ("{: .notice}\nA paragraph after its IAL.\n", "<p>A paragraph after its IAL.</p>\n"),
    (
        "**Note:** one\n{: .notice--info}\nNext paragraph.\n",
        "<p><strong>Note:</strong> one</p>\n<p>Next paragraph.</p>\n",
    ),
    (
        '[site](https://x.org){:target="_blank"} and [b](/b){: target=\'_blank\' rel="noopener"}\n',
        '<p><a href="https://x.org">site</a> and <a href="https://b.example/b">b</a></p>\n',
    ),
    (
        "*em*{:.class} and **strong**{: #id .a.b}\n",
        "<p><em>em</em> and <strong>strong</strong></p>\n",
    ),
    (
        "![img](/a.png){: .align-center}\n",
        '<p><img src="https://b.example/a.png" alt="img"></p>\n',
    ),
    ("`puts 1`{:.language-ruby}\n", "<p><code>puts 1</code></p>\n"),
    ("# Title\n\n* TOC\n{:toc}\n\nText\n", "<h1>Title</h1>\n<p>Text</p>\n"),
    ("1. Table of contents\n{: toc}\nText\n", "<p>Text</p>\n"),
    ("## Contents\n{:.no_toc}\n\nText\n", "<h2>Contents</h2>\n<p>Text</p>\n"),
    ("## Contents\n{: .no_toc}\n", "<h2>Contents</h2>\n"),
    ("{:ref: .class #x}\n\nPara\n{: ref}\n", "<p>Para</p>\n"),
    # (a paragraph first: the engines find a tight list's summary differently, IALs or not)
    ("P.\n\n* a\n{: .x}\n* b\n", "<p>P.</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"),
    ("> quote\n> {: .q}\n> more\n", "<blockquote>\n<p>quote</p>\n<p>more</p>\n</blockquote>\n"),
    ("A {::comment}hidden{:/comment} B\n", "<p>A  B</p>\n"),
    ("{::comment}\nline one\n\nline *two*\n{:/comment}\n\nafter\n", "<p>after</p>\n"),
    ('{::options toc_levels="2..3" /}\nText\n', "<p>Text</p>\n"),
    ('Text\n\n{::options auto_ids="false" /}', "<p>Text</p>\n"),
    (
        "{::nomarkdown}\n<b>raw *x*</b>\n\n<i>y</i>\n{:/nomarkdown}\n",
        "<b>raw *x*</b>\n\n<i>y</i>\n",
    ),
    ("x {::nomarkdown}<u>*u*</u>{:/} y\n", "<p>x <u>*u*</u> y</p>\n"),
    # At a line's start, the rest of the line is still Markdown (not one raw HTML block).
    ("{::nomarkdown}<b>x</b>{:/} more *text*\n", "<p><b>x</b> more <em>text</em></p>\n"),
    # markdown="1": the HTML block's content is Markdown, as kramdown parses it.
    (
        '<div class="notice--primary" markdown="1">\n**Notice:** text.\n\n```html\n<b>x</b>\n'
        "```\n</div>\n\nAfter.\n",
        "<div>\n<p><strong>Notice:</strong> text.</p>\n"
        '<pre><code class="language-html">&lt;b&gt;x&lt;/b&gt;\n</code></pre>\n</div>\n'
        "<p>After.</p>\n",
    ),
    ("<section markdown='block'>\n# Title\n</section>\n", "\n<h1>Title</h1>\n\n"),
    ('<div markdown="0">\n**raw**\n</div>\n', "<div>\n**raw**\n</div>\n"),
    # Still sanitized: raw HTML is untrusted whatever brought it in.
    (
        '{::nomarkdown}\n<script>alert(1)</script><a href="/r" onclick="x()">r</a>\n{:/}\n',
        '<a href="https://b.example/r">r</a>\n',
    ),
]


@pytest.mark.parametrize(("body", "expected"), CONSUMED)
def test_kramdown_syntax_is_consumed_in_both_engines(
    monkeypatch: pytest.MonkeyPatch, body: str, expected: str
) -> None:
    html = both_engines(monkeypatch, body)
    assert html == expected
    assert "{:" not in html


STAYS = [
    (
        "When using Kramdown `{: .notice}` can be added\n",
        "<p>When using Kramdown <code>{: .notice}</code> can be added</p>\n",
    ),
    ("``a `{:.x}` b``\n", "<p><code>a `{:.x}` b</code></p>\n"),
    (
        "```\n**x**\n{: .x}\n{::comment}\n```\n",
        "<pre><code>**x**\n{: .x}\n{::comment}\n</code></pre>\n",
    ),
    ('Text\n\n    {: .y}\n    [a](b){:target="_blank"}\n', None),
    ("* item\n\n  ~~~\n  {: .in-list}\n  ~~~\n", None),
    ("> ```\n> {: .in-quote}\n> ```\n", None),
    ("{: not an attribute\n", "<p>{: not an attribute</p>\n"),
    ('```\n<div markdown="1">\n**x**\n</div>\n```\n', None),
    ('Text `<div markdown="1">` inline.\n', None),
    ("<div title=\"markdown='1'\">\n**x**\n</div>\n", None),
    ('JSON {"a": {"b": 1}} and {:smile:} and {: } and {:a=b}\n', None),
    ("{::comment}\nno end marker\n", None),
    ("{::unknown}x{:/unknown}\n", None),
]


@pytest.mark.parametrize(("body", "expected"), STAYS)
def test_code_and_prose_that_only_looks_like_kramdown_stay(
    monkeypatch: pytest.MonkeyPatch, body: str, expected: str | None
) -> None:
    html = both_engines(monkeypatch, body)
    assert html == (expected if expected is not None else plain(body))


def test_an_escaped_backtick_opens_no_code_span(monkeypatch: pytest.MonkeyPatch) -> None:
    """``\\``` is a literal backtick, so the IAL after the next one is outside code."""
    html = both_engines(monkeypatch, "\\` *a*{:.x} `\n")
    assert html == "<p>` <em>a</em> `</p>\n"


def test_a_summary_has_no_attribute_list() -> None:
    _, summary = md.render_post(
        '* TOC\n{:toc}\n\n**Note:** read [this](/x){:target="_blank"}.\n{: .notice}\n', PAGE
    )
    assert summary == "Note: read this."


_PLAIN_ENGINE = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(
    ["table", "strikethrough", "linkify", "footnote"]
)


def plain(body: str) -> str:
    """What feedsmith rendered before kramdown syntax was known: the same engine, no
    preprocessing."""
    return md._sanitize(_PLAIN_ENGINE.render(md.xml_safe(body)), PAGE)


# Text made of Markdown's and kramdown's own characters, so that near-misses of every construct
# come up: "{:" followed by anything that is not a valid attribute list must render as before.
_PIECES = st.sampled_from(
    ["{:", "{::", "{:/", "}", " ", "\n", "\n\n", "`", "``", "*", "_", ".", "#", "=", '"', "'",
     ":", "a", "toc", "-", "* ", "1. ", "> ", "    ", "```", "[a](b)", "\\", "{", "x y", "é"]
)  # fmt: skip
_VALID_IAL = __import__("re").compile(r"\{:[^}\n]*\}")


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_text_without_a_valid_attribute_list_renders_as_before(body: str) -> None:
    from feedsmith.core import kramdown

    prepared = kramdown.prepare(body, [])
    if prepared.text != body:  # something valid was consumed: not this property's case
        assert _VALID_IAL.search(body) or "{::" in body
        return
    assert md.render_markdown(body, PAGE) == plain(body)


def test_a_body_without_the_marker_is_not_looked_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost guard: posts without ``{:`` never reach the kramdown pass."""
    from feedsmith.core import kramdown

    def fail(*args: object) -> None:
        raise AssertionError("kramdown pass ran")

    monkeypatch.setattr(kramdown, "prepare", fail)
    assert md.render_markdown("Plain {text} with `code` and : colons.\n", PAGE) == (
        "<p>Plain {text} with <code>code</code> and : colons.</p>\n"
    )
    with pytest.raises(AssertionError):
        md.render_markdown("x{:.y}\n", PAGE)


POST = """\
---
title: Notices and links
date: 2025-04-02 09:00:00
---
* TOC
{:toc}

Read [the docs](https://example.org/docs){:target="_blank"} first.

**Note:** This is a notice.
{: .notice--info}

## Details
{: .no_toc}

When using Kramdown `{: .notice}` can be added after a block.
"""


@pytest.mark.slow
def test_a_jekyll_site_publishes_posts_without_kramdown_syntax(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text("title: Kram\nurl: https://kram.example\n", "utf-8")
    (site / "_posts" / "2025-04-02-notices.md").write_text(POST, "utf-8")
    (site / "_posts" / "2025-04-01-plain.md").write_text(
        "---\ntitle: Plain\n---\nNo attributes here.\n", "utf-8"
    )
    config = {"jekyll": "site", "output_dir": "feeds", "state_dir": "state"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), "utf-8")
    assert main(["build", "--no-progress", "-c", str(tmp_path / "config.yaml")]) == 0

    feeds = sorted((tmp_path / "feeds").rglob("*.xml"))
    assert feeds
    seen = 0
    for feed_path in feeds:
        feed = feedparser.parse(str(feed_path))
        for entry in feed.entries:
            seen += 1
            texts = [entry.get("summary", "")] + [c.value for c in entry.get("content", [])]
            for text in texts:
                assert "{:" not in text.replace("<code>{: .notice}</code>", "")
            if entry.title == "Notices and links":
                html = entry.content[0].value
                assert '<a href="https://example.org/docs">the docs</a> first.' in html
                assert "<strong>Note:</strong> This is a notice.</p>" in html
                assert "TOC" not in html and "<h2>Details</h2>" in html
    assert seen >= 2
