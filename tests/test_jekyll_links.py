"""Link placeholders: reversible, unchanged by Markdown, sanitizing and absolutizing, and
replaced with what the author wrote before them (``{{ site.url }}{{ site.baseurl }}``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from feedsmith.core.jekyll.links import LinkKind, placeholder, replace_links, targets_in
from feedsmith.core.markdown import render_post

POST_URL = "https://example.com/blog/2023/01/29/hello.html"
TARGET = "_posts/2017-03-02-jekyll ü.markdown"
HOLDER = placeholder("link", TARGET)


def resolve(kind: LinkKind, target: str) -> str:
    return f"https://example.com/blog/{kind}/{len(target)}/?a=1&b=2"


RESOLVED = "https://example.com/blog/link/35/?a=1&amp;b=2"


def test_placeholder_is_a_plain_root_relative_path() -> None:
    assert HOLDER.startswith("/") and HOLDER.endswith("/")
    assert all(ch.isascii() and (ch.isalnum() or ch in "/-") for ch in HOLDER)


@given(st.sampled_from(["link", "post_url"]), st.text(max_size=80))
def test_targets_come_back_from_their_placeholders(kind: LinkKind, target: str) -> None:
    assert targets_in(f"x {placeholder(kind, target)} y") == ((kind, target),)


def test_targets_in_keeps_order_without_repeats() -> None:
    a, b = placeholder("post_url", "2013-05-06-a"), placeholder("link", "b.md")
    assert targets_in(f"{a} {b} {a}") == (("post_url", "2013-05-06-a"), ("link", "b.md"))
    assert targets_in("no links here") == ()


def test_a_link_href_survives_render_post_and_is_replaced() -> None:
    html = render_post(f"[see]({HOLDER}) and more", POST_URL, None)[0]
    assert targets_in(html) == (("link", TARGET),)
    assert replace_links(html, resolve) == f'<p><a href="{RESOLVED}">see</a> and more</p>\n'


def test_site_url_and_baseurl_written_before_are_swallowed() -> None:
    body = f"[a](https://example.com/blog{HOLDER}) [b](/blog{HOLDER}) [c]({{{{ x }}}}{HOLDER})"
    html = render_post(body.replace("{{ x }}", ""), POST_URL, None)[0]
    replaced = replace_links(html, resolve)
    assert replaced.count(f'href="{RESOLVED}"') == 3
    assert "/blog/blog" not in replaced and "example.com/bloghttps" not in replaced


def test_placeholder_as_text_survives_and_keeps_what_precedes() -> None:
    body = f"see ({HOLDER}) and/or{HOLDER} at /blog{HOLDER}\n"
    html = render_post(body, POST_URL, None)[0]
    assert len(targets_in(html)) == 1 and html.count("feedsmith-link") == 3
    replaced = replace_links(html, resolve)
    assert f"see ({RESOLVED}) and/or{RESOLVED} at {RESOLVED}" in replaced


def test_a_bare_absolute_url_in_text_is_linkified_and_replaced_whole() -> None:
    html = render_post(f"Read https://example.com/blog{HOLDER} now", POST_URL, None)[0]
    replaced = replace_links(html, resolve)
    assert replaced == f'<p>Read <a href="{RESOLVED}">{RESOLVED}</a> now</p>\n'


def test_replacement_is_html_escaped() -> None:
    out = replace_links(f'<a href="{HOLDER}">x</a>', lambda k, t: 'https://e.com/"><script>')
    assert out == '<a href="https://e.com/&quot;&gt;&lt;script&gt;">x</a>'


def test_text_without_placeholders_is_returned_as_is() -> None:
    text = "<p>https://example.com/blog/x</p>"
    assert replace_links(text, resolve) is text
