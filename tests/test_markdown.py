"""Markdown rendering: GFM extensions, sanitizing, absolute URLs, and plain-text summaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.markdown import inline_text, render_markdown, render_post, summary_from_markdown
from markdown_support import Exploding

POST_URL = "https://blog.example.com/guides/2025/11/16/post.html"


def render(body: str) -> str:
    return render_markdown(body, POST_URL)


def test_bold_and_paragraphs_render_as_commonmark() -> None:
    html = render("Hello **bold** and *em*.\n\nSecond paragraph.")
    assert html == (
        "<p>Hello <strong>bold</strong> and <em>em</em>.</p>\n<p>Second paragraph.</p>\n"
    )


def test_gfm_table_renders_with_alignment() -> None:
    html = render("| a | b |\n|--:|---|\n| 1 | 2 |\n")
    assert "<table>" in html
    assert '<th style="text-align:right">a</th>' in html
    assert '<td style="text-align:right">1</td>' in html
    assert "<td>2</td>" in html


def test_strikethrough_renders() -> None:
    assert "<s>gone</s>" in render("this is ~~gone~~ now")


def test_bare_urls_become_links() -> None:
    html = render("see https://example.org/spec for details")
    assert '<a href="https://example.org/spec">https://example.org/spec</a>' in html


def test_fenced_code_keeps_language_class_and_escapes_content() -> None:
    html = render("```python\nif a < b: print('<script>')\n```\n")
    assert '<pre><code class="language-python">' in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


def test_script_and_style_elements_are_removed_with_their_content() -> None:
    html = render("before\n\n<script>alert('x')</script>\n\n<style>p{}</style>\n\nafter")
    assert "script" not in html
    assert "alert" not in html
    assert "p{}" not in html
    assert "before" in html and "after" in html


def test_event_handler_attributes_are_removed() -> None:
    html = render('<img src="/a.png" onerror="alert(1)">\n\n<p onclick="x()">hi</p>')
    assert "onerror" not in html
    assert "onclick" not in html
    assert "alert" not in html
    assert 'src="https://blog.example.com/a.png"' in html


@pytest.mark.parametrize(
    "body",
    [
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)">click</a>',
        '<a href="java&#x09;script:alert(1)">click</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">click</a>',
        '<a href="vbscript:msgbox(1)">click</a>',
        # a leading Unicode space makes the URL "relative" to nh3; stripped and resolved it was
        # javascript: again (issue 24)
        '<a href="&nbsp;javascript:alert(document.domain)">click</a>',
        '<a href="&#x3000;javascript:alert(1)">click</a>',
        '<a href="\u2028javascript:alert(1)">click</a>',
        '<img src="&#x2000;data:text/html;base64,PHNjcmlwdD4=">',
        '<a href="&nbsp;vbscript:msgbox(1)">click</a>',
    ],
)
def test_dangerous_url_schemes_never_survive(body: str) -> None:
    html = render(body).lower()
    # markdown-it leaves a refused link as literal text; what matters is that no attribute
    # carries the URL.
    assert 'href="' not in html and 'src="' not in html
    assert "<a" not in html or html.count("<a>") == html.count("<a")


def test_quote_cite_is_made_absolute_and_a_script_cite_dropped() -> None:
    """nh3 does not treat ``cite`` as a URL, so feedsmith checks it like ``href``."""
    html = render('<q cite="/src">a</q>\n\n<blockquote cite="&nbsp;javascript:x">b</blockquote>')
    assert '<q cite="https://blog.example.com/src">a</q>' in html
    assert "<blockquote>b</blockquote>" in html and "javascript" not in html


def test_a_control_character_reference_in_an_attribute_is_dropped() -> None:
    """``&#x8;`` decodes to a character XML cannot carry: kept, it failed every feed's render."""
    html = render('<a title="x&#x8;y" href="https://a.example/p&#x1;q">l</a>')
    assert html == '<p><a title="xy" href="https://a.example/pq">l</a></p>\n'


def test_iframes_and_arbitrary_classes_are_removed() -> None:
    html = render('<iframe src="https://evil.example"></iframe>\n\n<div class="x" id="y">d</div>')
    assert "iframe" not in html
    assert "evil" not in html
    assert html.strip() == "<div>d</div>"


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("![x](/images/x.png)", 'src="https://blog.example.com/images/x.png"'),
        ("![x](x.png)", 'src="https://blog.example.com/guides/2025/11/16/x.png"'),
        ("[up](../x.html)", 'href="https://blog.example.com/guides/2025/11/x.html"'),
        ("[note](#note)", f'href="{POST_URL}#note"'),
        ("[q](?page=2)", f'href="{POST_URL}?page=2"'),
        ("[ext](https://other.example/a)", 'href="https://other.example/a"'),
        ("[mail](mailto:me@example.com)", 'href="mailto:me@example.com"'),
        ('<img src="/raw.png" alt="raw">', 'src="https://blog.example.com/raw.png"'),
    ],
)
def test_relative_urls_become_absolute_against_the_post(markdown: str, expected: str) -> None:
    assert expected in render(markdown)


def test_url_resolution_is_per_call() -> None:
    first = render_markdown("![x](x.png)", "https://a.example/one/post.html")
    second = render_markdown("![x](x.png)", "https://b.example/two/post.html")
    assert 'src="https://a.example/one/x.png"' in first
    assert 'src="https://b.example/two/x.png"' in second


def test_horizontal_rule_lines_and_end_markers_stay_in_body() -> None:
    html = render("part one\n\n---END---\n\npart two")
    assert "<p>---END---</p>" in html
    assert "part two" in html


def test_control_characters_are_removed_from_output() -> None:
    html = render("bell\x07 and nul-ish \x01 text")
    assert "\x07" not in html and "\x01" not in html
    assert "bell" in html


def test_unicode_and_replacement_character_are_kept() -> None:
    assert "日本語のテキスト�" in render("日本語のテキスト�")


def test_summary_uses_text_before_more_marker() -> None:
    body = "Intro with **bold** text.\n\nSecond intro line.\n\n<!--more-->\n\nThe rest."
    assert summary_from_markdown(body) == "Intro with bold text. Second intro line."


def test_summary_without_marker_is_first_paragraph_skipping_headings() -> None:
    body = "# Heading\n\nFirst [linked](/x) *para*\ncontinues.\n\nSecond para."
    assert summary_from_markdown(body) == "First linked para continues."


def test_summary_skips_image_only_paragraphs() -> None:
    body = "![logo](/logo.png)\n\nReal text here."
    assert summary_from_markdown(body) == "Real text here."


def test_summary_decodes_entities_and_drops_markup() -> None:
    body = "Fish &amp; chips <b>now</b> &lt;3 <script>bad()</script>"
    assert summary_from_markdown(body) == "Fish & chips now <3"


def test_summary_falls_back_to_all_text_when_no_paragraph() -> None:
    assert summary_from_markdown("## Only a heading") == "Only a heading"


def test_summary_of_empty_body_is_empty() -> None:
    assert summary_from_markdown("") == ""


def test_summary_is_truncated_with_ellipsis() -> None:
    body = "word " * 200
    summary = summary_from_markdown(body, limit=50)
    assert len(summary) <= 51
    assert summary.endswith("…")
    assert summary.startswith("word word")


def test_japanese_summary_truncates_on_character_boundary() -> None:
    body = "あいうえお" * 100
    summary = summary_from_markdown(body, limit=20)
    assert summary.endswith("…")
    assert summary.rstrip("…") == ("あいうえお" * 4)[: len(summary.rstrip("…"))]


def test_inline_text_keeps_list_like_excerpts_literal() -> None:
    assert inline_text("1. first **point** &amp; more") == "1. first point & more"


def test_summary_joins_wrapped_japanese_lines_without_spaces() -> None:
    body = "日本語の文章は\n途中で改行しても、\nひと続きです。English\nwords keep a space."
    assert summary_from_markdown(body) == (
        "日本語の文章は途中で改行しても、ひと続きです。English words keep a space."
    )


def test_render_post_matches_the_two_separate_functions() -> None:
    body = "# T\n\nFirst [para](x.html) https://example.org\n\n| a |\n|---|\n| 1 |\n"
    assert render_post(body, POST_URL, 120) == (
        render_markdown(body, POST_URL),
        summary_from_markdown(body, 120),
    )


def test_scheme_urls_are_linked_but_bare_domains_file_names_and_emails_are_not() -> None:
    html = render("see https://example.org/a or example.org, README.md, a@b.jp。日本語.テキスト")
    assert '<a href="https://example.org/a">https://example.org/a</a>' in html
    assert "<a" not in html.replace('<a href="https://example.org/a">', "", 1)
    assert "README.md, a@b.jp。日本語.テキスト" in html


SNIPPETS = [
    "Hello **bold** and *em*.\n\nSecond paragraph.",
    "# T\n\nFirst [para](x.html) https://example.org\n\n| a |\n|---|\n| 1 |\n",
    "> quoted *text*\n>\n> - one\n> - two\n\n1. first\n2. second\n",
    "```python\nif a < b: print('<script>')\n```\n\n~~gone~~ `code` &amp; &copy;",
    '<figure><img src="/a.png" alt="x"><figcaption>cap</figcaption></figure>\n\ntext',
    "[ref link][r] and ![img](../i.png \"title\")\n\n[r]: /target 'T'\n",
    "日本語の文章は\n途中で改行しても、\nひと続きです。\n\n<!--more-->\n\n続き",
]


@pytest.mark.parametrize("body", SNIPPETS)
def test_fast_engine_renders_like_the_reference_engine(body: str) -> None:
    from feedsmith.core import markdown as md

    assert md.render_post(body, POST_URL, 80) == md._reference_render(body, POST_URL, 80)


def test_sample_posts_render_the_same_with_both_engines() -> None:
    from pathlib import Path

    import frontmatter

    from feedsmith.core import markdown as md

    posts = sorted((Path(__file__).parent.parent / "examples" / "posts").rglob("*.md"))
    assert posts
    for path in posts:
        body = frontmatter.loads(path.read_text(encoding="utf-8", errors="replace")).content
        assert md.render_post(body, POST_URL) == md._reference_render(body, POST_URL, 300), path


def test_a_panic_in_the_fast_engine_falls_back_to_the_reference_engine(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from feedsmith.core import markdown as md

    monkeypatch.setattr(md, "_FAST", Exploding())
    html, summary = md.render_post("Hello **there**", POST_URL)
    assert html == "<p>Hello <strong>there</strong></p>\n"
    assert summary == "Hello there"
    assert "fast Markdown engine failed" in caplog.text


def test_keyboard_interrupt_in_the_fast_engine_is_not_swallowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from feedsmith.core import markdown as md

    class Interrupted:
        def render(self, text: str) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr(md, "_FAST", Interrupted())
    with pytest.raises(KeyboardInterrupt):
        md.render_post("x", POST_URL)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab *_`[]()<>!#-|~\\\n&;:/.@日本")), max_size=200))
def test_render_post_never_raises_on_arbitrary_markdown(body: str) -> None:
    html, summary = render_post(body, POST_URL)
    assert isinstance(html, str) and isinstance(summary, str)
    assert "<script" not in html


def test_class_filter_also_applies_to_upper_case_class_attributes() -> None:
    html = render('<pre CLASS="evil language-py">x</pre>\n\n<code Class="hide">y</code>')
    assert '<pre class="language-py">x</pre>' in html
    assert "hide" not in html


def test_reference_engine_links_schema_relative_urls() -> None:
    from feedsmith.core import markdown as md

    html, _ = md._reference_render(
        "see [a](https://x.example/) and //localhost/x", "https://blog.example/p/1.html", 300
    )
    assert '<a href="https://localhost/x">//localhost/x</a>' in html
