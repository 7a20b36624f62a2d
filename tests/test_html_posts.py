"""render_html_post: a post written in HTML is sanitized and absolutized like Markdown output."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.markdown import render_html_post, render_post

POST_URL = "https://example.com/blog/2016/01/01/welcome.html"


def test_scripts_styles_and_handlers_are_gone():
    body = (
        "<p onclick=\"steal()\">Hi<script>alert('x')</script></p>"
        "<style>p{color:red}</style><iframe src='https://evil.test/'></iframe>"
        '<a href="javascript:alert(1)">click</a>'
    )
    content, _ = render_html_post(body, POST_URL)
    for gone in ("script", "alert", "onclick", "steal", "style", "color:red", "iframe", "evil"):
        assert gone not in content, gone
    assert "<p>Hi</p>" in content
    assert "click" in content


def test_relative_links_and_images_become_absolute_against_the_post():
    body = (
        '<p><a href="/about/">about</a> <a href="../archive/">up</a> <a href="#fn1">note</a>'
        ' <img src="images/cat.png" alt="cat"></p>'
    )
    content, _ = render_html_post(body, POST_URL)
    assert 'href="https://example.com/about/"' in content
    assert 'href="https://example.com/blog/2016/01/archive/"' in content
    assert 'href="https://example.com/blog/2016/01/01/welcome.html#fn1"' in content
    assert 'src="https://example.com/blog/2016/01/01/images/cat.png"' in content


def test_indented_html_is_not_a_code_block():
    # Markdown would read the 4-space-indented line after a blank line as code.
    body = '<div class="post">\n\n    <p>Indented <em>paragraph</em></p>\n</div>'
    content, summary = render_html_post(body, POST_URL)
    assert "<pre>" not in content and "&lt;p&gt;" not in content
    assert "<p>Indented <em>paragraph</em></p>" in content
    assert summary == "Indented paragraph"


def test_summary_is_the_first_paragraph_with_text():
    body = (
        "<h1>Release 2.0</h1>\n<p><img src='/hero.png'></p>\n"
        "<p>We are <strong>happy</strong> &amp; proud<br>to announce.</p>\n<p>Second.</p>"
    )
    _, summary = render_html_post(body, POST_URL)
    assert summary == "We are happy & proud to announce."


def test_summary_keeps_escaped_markup_as_text():
    _, summary = render_html_post("<p>Use &lt;b&gt; for bold</p>", POST_URL)
    assert summary == "Use <b> for bold"


def test_summary_is_the_text_before_the_more_marker():
    body = "<p>Intro one.</p><p>Intro two.</p><!--more--><p>The rest.</p>"
    content, summary = render_html_post(body, POST_URL)
    assert summary == "Intro one. Intro two."
    assert "<!--" not in content and "The rest." in content


def test_summary_without_paragraphs_is_all_text_and_truncated():
    body = "<ul><li>" + "</li><li>".join(f"item {n}" for n in range(100)) + "</li></ul>"
    _, summary = render_html_post(body, POST_URL, 40)
    assert summary.startswith("item 0 item 1")
    assert len(summary) <= 40


def test_no_summary_when_none_is_wanted():
    assert render_html_post("<p>x</p>", POST_URL, None) == ("<p>x</p>", "")


def test_an_html_block_renders_as_markdown_would_render_it():
    # A single raw HTML block passes through markdown-it unchanged, so both paths must agree.
    body = (
        '<div class="note"><p>See <a href="../x">this</a> and <img src="a.png" alt="">'
        "<script>bad()</script></p><p>More</p></div>"
    )
    assert render_html_post(body, POST_URL)[0] == render_post(body, POST_URL)[0].rstrip("\n")


def test_control_characters_never_reach_the_feed():
    content, summary = render_html_post('<p title="&#x8;">a\x08b</p>', POST_URL)
    assert "\x08" not in content and "\x08" not in summary


fragments = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<script>",
        "</script>",
        "<a href='javascript:x'>",
        "<img src=x onerror=alert(1)>",
        "<!--more-->",
        "<br>",
        "&lt;",
        "&#x0;",
        "<style>",
        "\n\n    ",
        "text",
        "日本語",
    ]
)


@given(st.lists(st.one_of(fragments, st.text(max_size=10)), max_size=20).map("".join))
@settings(deadline=None)
def test_any_html_renders_without_scripts(body):
    content, summary = render_html_post(body, POST_URL, 100)
    low = content.lower()
    assert "<script" not in low and "javascript:" not in low and "onerror" not in low
    assert len(summary) <= 100
