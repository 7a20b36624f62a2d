"""Normalizing posts: every rule of issue 2's "Normalize into a Post" list, via public functions."""

from __future__ import annotations

import os
import urllib.parse
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.core.config import Config
from feedsmith.core.model import Author, ParseOutcome, Post
from feedsmith.core.posts import collect, parse_post
from feedsmith.pipeline.scan import scan_posts

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Same shape as a real Jekyll post (see /work/shared/reference), our own text.
SEED = """\
---
layout: post
title: "半導体投資の行方を考える可能�"
date: 2025-11-16 20:35:04 +0000
categories: ["投資分析"]
tags: ["AI", "最新ニュース", "技術動向", "Amazon", "Microsoft", "投資", "チップ"]
author: "テスト編集部"
excerpt: "半導体への大型投資について、その背景を短く整理します。"
reading_time: 8
---

半導体への投資が**過去最大**の規模になっています。その理由を考えてみましょう。

電力と冷却の問題は、これからも大きな課題であり続けます。

---END---

の続きとして、この段落も本文に含まれます。

---END---
"""


def parse(config: Config, text: str | bytes, rel: str = "2025-11-16-seed.md") -> ParseOutcome:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_post(data, rel, f"posts/{rel}", config)


def post_of(config: Config, text: str | bytes, rel: str = "2025-11-16-seed.md") -> Post:
    outcome = parse(config, text, rel)
    assert outcome.post is not None, outcome.problems
    return outcome.post


def errors(outcome: ParseOutcome) -> list[str]:
    return [p.reason for p in outcome.problems if p.severity == "error"]


def fm(body: str = "Body text.", **meta: str) -> str:
    lines = "".join(f"{k}: {v}\n" for k, v in meta.items())
    return f"---\n{lines}---\n\n{body}\n"


@pytest.fixture
def config(site) -> Config:  # type: ignore[no-untyped-def]
    return site.config()


# --- the seed-shaped post ----------------------------------------------------------------------


def test_seed_shaped_post_normalizes_exactly(config: Config) -> None:
    outcome = parse(config, SEED)
    post = outcome.post
    assert post is not None
    assert outcome.problems == []
    assert post.title == "半導体投資の行方を考える可能\ufffd"
    assert post.date == datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)
    assert post.date.utcoffset() == timedelta(0)
    assert post.updated == post.date and post.updated_explicit is False
    assert post.categories == ("投資分析",)
    assert post.tags == ("AI", "最新ニュース", "技術動向", "Amazon", "Microsoft", "投資", "チップ")
    assert post.authors == (Author("テスト編集部"),)
    assert post.summary == "半導体への大型投資について、その背景を短く整理します。"
    assert post.content_html.count("---END---") == 2
    assert "の続きとして" in post.content_html
    assert "<strong>過去最大</strong>" in post.content_html
    assert post.extra == {"layout": "post", "reading_time": 8}
    assert post.id == "tag:blog.example.com,2025-11-16:seed"
    assert post.url == (
        "https://blog.example.com/%E6%8A%95%E8%B3%87%E5%88%86%E6%9E%90/2025/11/16/seed.html"
    )
    assert post.source == "2025-11-16-seed.md"


# --- text fields ---------------------------------------------------------------------------------


def test_control_characters_are_stripped_and_post_kept(config: Config) -> None:
    text = fm(
        "Body with a bell\x07 and an escape\x1b.",
        title='"Bad\\x01 title\\x0b here"',
        date="2025-01-02",
        tags='[ok, "t\\x02ag"]',
    )
    outcome = parse(config, text)
    assert outcome.post is not None, outcome.problems
    post = outcome.post
    assert post.title == "Bad title here"
    assert post.tags == ("ok", "tag")
    assert "\x07" not in post.content_html and "\x1b" not in post.content_html
    assert "bell" in post.content_html
    assert errors(outcome) == []


def test_non_string_title_is_coerced_to_text(config: Config) -> None:
    assert post_of(config, fm(title="no", date="2025-01-02")).title == "no"
    assert post_of(config, fm(title="1.10", date="2025-01-02")).title == "1.10"
    assert post_of(config, fm(title="2024", date="2025-01-02")).title == "2024"
    assert post_of(config, fm(title="true", date="2025-01-02")).title == "true"


def test_title_list_is_an_error_with_its_line(config: Config) -> None:
    outcome = parse(config, fm(date="2025-01-02", title="[a, b]"))
    assert outcome.post is None
    assert errors(outcome) == ["title must be text, not a list"]
    assert outcome.problems[0].line == 3


@pytest.mark.parametrize(
    ("rel", "title"),
    [
        ("2025-03-04-my-first-post.md", "My First Post"),
        ("2025-03-04-macOS-tips.markdown", "MacOS Tips"),
        ("notes/2025-03-04-日本語の記事.md", "日本語の記事"),
    ],
)
def test_missing_title_is_derived_from_file_name(config: Config, rel: str, title: str) -> None:
    assert post_of(config, "---\ntags: [x]\n---\nHello\n", rel).title == title


def test_file_without_front_matter_uses_file_name_date_and_title(config: Config) -> None:
    post = post_of(config, "Just a body.\n", "2025-05-06-plain-note.md")
    assert post.title == "Plain Note"
    assert post.date == datetime(2025, 5, 6, tzinfo=UTC)
    assert post.summary == "Just a body."


# --- dates ---------------------------------------------------------------------------------------


def test_date_from_front_matter_wins_over_file_name(config: Config) -> None:
    post = post_of(config, fm(date="2024-02-03T04:05:06+09:00"), "2025-01-01-x.md")
    assert post.date == datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=9)))


def test_naive_date_takes_config_timezone(site) -> None:  # type: ignore[no-untyped-def]
    config = site.config(timezone="Asia/Tokyo")
    post = post_of(config, fm(date='"2025-11-16 20:35"'))
    assert post.date.isoformat() == "2025-11-16T20:35:00+09:00"
    filename_only = post_of(config, "---\ntitle: x\n---\nb\n", "2025-11-16-x.md")
    assert filename_only.date.isoformat() == "2025-11-16T00:00:00+09:00"


def test_post_without_any_date_is_invalid_never_mtime(config: Config) -> None:
    outcome = parse(config, fm(title="x"), "undated.md")
    assert outcome.post is None
    assert errors(outcome) == [
        "no date: front matter has no 'date' and the file name has no YYYY-MM-DD- prefix"
    ]


def test_unparseable_date_is_invalid_and_points_at_its_line(config: Config) -> None:
    outcome = parse(config, fm(title="x", date="next tuesday"))
    assert outcome.post is None
    [problem] = outcome.problems
    assert problem.severity == "error"
    assert problem.reason.startswith("date: ")
    assert problem.line == 3
    assert problem.path == "posts/2025-11-16-seed.md"


@pytest.mark.parametrize("key", ["last_modified_at", "updated", "modified"])
def test_updated_from_front_matter_is_explicit(config: Config, key: str) -> None:
    post = post_of(config, fm(date="2025-01-01", **{key: "2025-02-01 10:00:00 +0000"}))
    assert post.updated == datetime(2025, 2, 1, 10, tzinfo=UTC)
    assert post.updated_explicit is True


def test_bad_updated_is_a_warning_and_falls_back_to_date(config: Config) -> None:
    outcome = parse(config, fm(date="2025-01-01", updated="whenever"))
    assert outcome.post is not None
    assert outcome.post.updated == outcome.post.date
    assert outcome.post.updated_explicit is False
    assert [p.severity for p in outcome.problems] == ["warning"]


# --- categories and tags -------------------------------------------------------------------------


def test_string_categories_and_tags_split_like_jekyll(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", categories="news tech", tags='"a, b c , ,d"'))
    assert post.categories == ("news", "tech")
    assert post.tags == ("a", "b c", "d")


def test_singular_keys_add_one_unsplit_name(config: Config) -> None:
    post = post_of(
        config, fm(date="2025-01-01", categories="[A]", category='"Deep Dive"', tag="solo")
    )
    assert post.categories == ("A", "Deep Dive")
    assert post.tags == ("solo",)


def test_names_are_trimmed_deduped_case_insensitively_keeping_first(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", tags='["AI", " ai ", "", "Ａｉ", "x  y", 42]'))
    assert post.tags == ("AI", "x y", "42")


def test_nested_names_are_ignored_with_a_warning(config: Config) -> None:
    outcome = parse(config, fm(date="2025-01-01", tags="[ok, [nested], {a: 1}]"))
    assert outcome.post is not None
    assert outcome.post.tags == ("ok",)
    assert {p.severity for p in outcome.problems} == {"warning"}


# --- authors -------------------------------------------------------------------------------------


def test_author_string(config: Config) -> None:
    assert post_of(config, fm(date="2025-01-01", author="Ann")).authors == (Author("Ann"),)


def test_author_mapping_with_url_or_uri(config: Config) -> None:
    post = post_of(
        config, fm(date="2025-01-01", author="{name: Ann, email: a@x.org, url: 'https://x.org'}")
    )
    assert post.authors == (Author("Ann", "a@x.org", "https://x.org"),)
    post = post_of(config, fm(date="2025-01-01", author="{name: Bo, uri: 'https://b.org'}"))
    assert post.authors == (Author("Bo", None, "https://b.org"),)


def test_author_list_mixes_strings_and_mappings(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", authors="[Ann, {name: Bo}, Ann]"))
    assert post.authors == (Author("Ann"), Author("Bo"))


def test_missing_author_defaults_to_site_author(config: Config) -> None:
    assert post_of(config, fm(date="2025-01-01")).authors == (Author("Site Author"),)


def test_no_author_anywhere_is_empty(site) -> None:  # type: ignore[no-untyped-def]
    site.settings["site"] = {**site.settings["site"], "author": ""}
    assert post_of(site.config(), fm(date="2025-01-01")).authors == ()


# --- summary -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["excerpt", "description", "summary"])
def test_explicit_summary_is_plain_text(config: Config, key: str) -> None:
    post = post_of(config, fm(date="2025-01-01", **{key: '"A **bold** <b>claim</b> &amp; more"'}))
    assert post.summary == "A bold claim & more"


def test_summary_before_more_marker(config: Config) -> None:
    body = "Teaser *one*.\n\nTeaser two.\n\n<!--more-->\n\nRest of the post."
    post = post_of(config, fm(body, date="2025-01-01"))
    assert post.summary == "Teaser one. Teaser two."
    assert "Rest of the post." in post.content_html
    assert "more" not in post.content_html.replace("Rest", "")


def test_summary_defaults_to_first_paragraph(config: Config) -> None:
    post = post_of(config, fm("## Heading\n\nFirst para.\n\nSecond para.", date="2025-01-01"))
    assert post.summary == "First para."


def test_long_summary_is_truncated(config: Config) -> None:
    post = post_of(config, fm("語" * 1000, date="2025-01-01"))
    assert post.summary.endswith("…")
    assert len(post.summary) <= 301


# --- content -------------------------------------------------------------------------------------


def test_content_is_sanitized(config: Config) -> None:
    body = (
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[bad](javascript:alert(1)) <a href='javascript:alert(2)'>x</a>"
    )
    html = post_of(config, fm(body, date="2025-01-01")).content_html
    assert "<script" not in html
    assert "onerror" not in html
    assert 'href="javascript' not in html.lower()


def test_relative_urls_in_content_resolve_against_post_url(config: Config) -> None:
    body = "![a](/images/a.png) ![b](b.png) [up](../x.html) [f](#f)"
    post = post_of(
        config, fm(body, date="2025-01-01", categories="[tech]"), "2025-01-01-rel-test.md"
    )
    assert post.url == "https://blog.example.com/tech/2025/01/01/rel-test.html"
    html = post.content_html
    assert 'src="https://blog.example.com/images/a.png"' in html
    assert 'src="https://blog.example.com/tech/2025/01/01/b.png"' in html
    assert 'href="https://blog.example.com/tech/2025/01/x.html"' in html
    assert f'href="{post.url}#f"' in html


def test_tables_strikethrough_and_autolinks(config: Config) -> None:
    body = "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ https://example.org"
    html = post_of(config, fm(body, date="2025-01-01")).content_html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<s>old</s>" in html
    assert '<a href="https://example.org">' in html


# --- urls ----------------------------------------------------------------------------------------


def test_unicode_url_segments_are_percent_encoded(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", categories='["技術 動向"]'), "2025-01-01-記事.md")
    assert post.url == (
        "https://blog.example.com/%E6%8A%80%E8%A1%93-%E5%8B%95%E5%90%91/2025/01/01/"
        "%E8%A8%98%E4%BA%8B.html"
    )
    assert post.url.isascii()


def test_no_categories_leaves_no_double_slash(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01"), "2025-01-01-flat.md")
    assert post.url == "https://blog.example.com/2025/01/01/flat.html"


def test_date_parts_use_the_posts_own_offset(config: Config) -> None:
    post = post_of(config, fm(date='"2025-01-01 00:30:00 +0900"'), "x-post.md")
    assert post.url == "https://blog.example.com/2025/01/01/x-post.html"
    assert post.id == "tag:blog.example.com,2025-01-01:x-post"


def test_permalink_pattern_from_config(site) -> None:  # type: ignore[no-untyped-def]
    config = site.config(permalink="/blog/:year/:slug/")
    post = post_of(config, fm(date="2025-01-01", categories="[a]"), "2025-01-01-p.md")
    assert post.url == "https://blog.example.com/blog/2025/p/"


def test_front_matter_permalink_site_relative_and_absolute(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", permalink="/about/日本/"))
    assert post.url == "https://blog.example.com/about/%E6%97%A5%E6%9C%AC/"
    post = post_of(config, fm(date="2025-01-01", url="https://elsewhere.example/p%20q"))
    assert post.url == "https://elsewhere.example/p%20q"


@pytest.mark.parametrize("bad", ["'//[x'", "'http://[::1'", "'javascript:alert(1)'"])
def test_unusable_permalink_or_image_is_a_warning_not_a_crash(config: Config, bad: str) -> None:
    outcome = parse(config, fm(date="2025-01-01", permalink=bad, image=bad), "2025-01-01-w.md")
    assert outcome.post is not None
    assert outcome.post.url == "https://blog.example.com/2025/01/01/w.html"
    assert outcome.post.image is None
    assert {p.severity for p in outcome.problems} == {"warning"}


def test_image_is_absolute_against_post_url_and_unknown_keys_go_to_extra(config: Config) -> None:
    text = fm(
        date="2025-01-01",
        image="cover.png",
        lang="ja",
        reading_time="5",
        when="2025-01-01 10:00:00",
        nested="{a: [1, 2.5, true, null]}",
    )
    post = post_of(config, text, "2025-01-01-img.md")
    assert post.image == "https://blog.example.com/2025/01/01/cover.png"
    assert post.lang == "ja"
    assert post.extra["reading_time"] == 5
    assert post.extra["nested"] == {"a": [1, "2.5", True, None]}  # floats stay text
    assert isinstance(post.extra["when"], str)
    assert "image" not in post.extra and "lang" not in post.extra


def test_extra_values_json_cannot_hold_are_dropped_not_kept_as_null(config: Config) -> None:
    # TOML gives a local time, which JSON Feed cannot carry: the key goes.
    text = '+++\ndate = 2025-01-01\nalarm = 07:30:00\nok = [1, "a"]\n+++\n\nBody.\n'
    post = post_of(config, text, "2025-01-01-toml.md")
    assert post.extra == {"ok": [1, "a"]}


# --- ids -----------------------------------------------------------------------------------------


def test_front_matter_id_or_guid_is_used_as_is(config: Config) -> None:
    assert post_of(config, fm(date="2025-01-01", id="urn:x:1")).id == "urn:x:1"
    assert post_of(config, fm(date="2025-01-01", guid="abc")).id == "abc"


def test_generated_id_uses_front_matter_slug(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", slug='"My Slug/Part"'))
    assert post.id == "tag:blog.example.com,2025-01-01:My-Slug-Part"


def test_generated_id_is_a_uri_with_percent_encoded_utf8(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01", slug='"最新#ニュース"'))
    assert post.id == (
        "tag:blog.example.com,2025-01-01:%E6%9C%80%E6%96%B0%23%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9"
    )
    assert post.id.isascii()


def test_generated_id_of_a_japanese_file_name_is_valid_rfc_4151(config: Config) -> None:
    post = post_of(config, fm(date="2025-12-01"), "2025-12-01-年末のお知らせ.md")
    assert post.id == (
        "tag:blog.example.com,2025-12-01:%E5%B9%B4%E6%9C%AB%E3%81%AE%E3%81%8A%E7%9F%A5%E3%82%89%E3%81%9B"
    )
    assert urllib.parse.unquote(post.id.rsplit(":", 1)[1]) == "年末のお知らせ"


def test_generated_ascii_ids_are_unchanged_by_the_uri_encoding(config: Config) -> None:
    post = post_of(config, fm(date="2025-01-01"), "2025-01-01-plain-slug_1.2.md")
    assert post.id == "tag:blog.example.com,2025-01-01:plain-slug_1.2"


@pytest.mark.parametrize(
    ("categories", "path"),
    [
        ('["C#", "Q&A?"]', "/c%23/q&a%3F/2024/01/01/x.html"),
        ('["100%"]', "/100%25/2024/01/01/x.html"),
        ('["日本語"]', "/%E6%97%A5%E6%9C%AC%E8%AA%9E/2024/01/01/x.html"),
    ],
)
def test_category_names_with_url_syntax_are_encoded_in_post_urls(
    site, categories: str, path: str
) -> None:  # type: ignore[no-untyped-def]
    config = site.config(permalink="/:categories/:year/:month/:day/:title.html")
    post = post_of(config, fm(date="2024-01-01", categories=categories), "2024-01-01-x.md")
    assert post.url == site.config().site.url + path
    parts = urllib.parse.urlsplit(post.url)
    assert (parts.query, parts.fragment) == ("", "")


def test_a_slug_with_a_question_mark_or_hash_stays_in_the_path(config: Config) -> None:
    post = post_of(config, fm(date="2024-01-01", slug='"why?#1"'), "2024-01-01-x.md")
    parts = urllib.parse.urlsplit(post.url)
    assert (parts.query, parts.fragment) == ("", "")
    assert parts.path.endswith("/why%3F%231.html")


def test_change_hash_ignores_the_base_url_but_content_hash_does_not(site) -> None:  # type: ignore[no-untyped-def]
    text = fm(date="2025-01-01", title="T", image="/img/a.png", body="See [this](/other.html).")
    site.settings["site"] = {**site.settings["site"], "url": "http://blog.example.org"}
    before = post_of(site.config(), text, "a.md")
    site.settings["site"] = {**site.settings["site"], "url": "https://blog.example.org"}
    after = post_of(site.config(), text, "a.md")
    assert before.content_hash != after.content_hash
    assert before.change_hash == after.change_hash
    edited = post_of(site.config(), text.replace("See", "Read"), "a.md")
    assert edited.change_hash != after.change_hash


def test_id_is_stable_across_edits_http_switch_and_permalink_change(site) -> None:  # type: ignore[no-untyped-def]
    rel = "2025-11-16-stable.md"
    original = post_of(site.config(), SEED, rel)
    edited = (
        SEED.replace("半導体投資の行方", "全く別のタイトル")
        .replace('"チップ"]', '"チップ", "新タグ"]')
        .replace("電力と冷却", "書き換えた本文")
    )
    site.settings["site"] = {**site.settings["site"], "url": "http://blog.example.com"}
    moved = post_of(site.config(permalink="/:title/"), edited, rel)
    assert moved.id == original.id
    assert moved.url != original.url
    assert moved.content_hash != original.content_hash


def test_id_is_stable_when_the_file_is_touched(site) -> None:  # type: ignore[no-untyped-def]
    path = site.write_post("2025-11-16-touched.md", SEED, dedent=False)
    config = site.config()
    first = scan_posts(config, NOW).posts
    os.utime(path, (1_000_000_000, 1_000_000_000))
    second = scan_posts(config, NOW).posts
    assert [p.id for p in first] == [p.id for p in second]
    assert first[0].date == second[0].date


def test_content_hash_ignores_dates_but_covers_text(config: Config) -> None:
    base = post_of(config, fm(date="2025-01-01", title="T"), "a.md")
    other_update = post_of(config, fm(date="2025-01-01", title="T", updated="2025-03-01"), "a.md")
    retitled = post_of(config, fm(date="2025-01-01", title="T2"), "a.md")
    assert base.content_hash == other_update.content_hash
    assert base.content_hash != retitled.content_hash


# --- invalid input -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\n", "\ufeff".encode()])
def test_empty_file_is_invalid(config: Config, data: bytes) -> None:
    outcome = parse(config, data)
    assert outcome.post is None
    assert errors(outcome) == ["empty file"]


def test_binary_file_is_invalid(config: Config) -> None:
    outcome = parse(config, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert outcome.post is None
    assert len(errors(outcome)) == 1


def test_broken_yaml_is_invalid_with_a_line(config: Config) -> None:
    outcome = parse(config, "---\ntitle: ok\ndate: [unclosed\n---\nbody\n")
    assert outcome.post is None
    [problem] = outcome.problems
    assert problem.severity == "error"
    assert problem.line is not None and problem.line >= 2


def test_unclosed_front_matter_is_invalid(config: Config) -> None:
    outcome = parse(config, "---\ntitle: x\ndate: 2025-01-01\n\nbody without closing line\n")
    assert outcome.post is None
    assert [p.severity for p in outcome.problems] == ["error"]


def test_symlink_escaping_posts_dir_is_reported_and_skipped(site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside.md"
    outside.write_text("---\ntitle: secret\ndate: 2025-01-01\n---\nx\n", "utf-8")
    (site.posts_dir / "2025-01-01-link.md").symlink_to(outside)
    site.write_post("2025-01-02-real.md", "---\ntitle: real\n---\nx\n")
    result = scan_posts(site.config(), NOW)
    assert [p.title for p in result.posts] == ["real"]
    assert result.skipped == 1
    assert [p.severity for p in result.problems] == ["error"]
    assert "secret" not in result.problems[0].reason


def test_shift_jis_file_parses_with_a_warning(config: Config) -> None:
    data = "---\ntitle: 日本語のタイトル\ndate: 2025-01-01\n---\n本文です。\n".encode("cp932")
    outcome = parse(config, data)
    assert outcome.post is not None
    assert outcome.post.title == "日本語のタイトル"
    assert [p.severity for p in outcome.problems] == ["warning"]


def test_bom_and_crlf_do_not_hide_front_matter(config: Config) -> None:
    data = b"\xef\xbb\xbf---\r\ntitle: BOM\r\ndate: 2025-01-01\r\n---\r\nBody\r\n"
    post = post_of(config, data)
    assert post.title == "BOM"
    assert "\r" not in post.content_html


# --- exclusions and collect ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "reason"),
    [({"draft": "true"}, "draft"), ({"published": "false"}, "published: false")],
)
def test_drafts_and_unpublished_are_excluded_with_info(
    config: Config, meta: dict[str, str], reason: str
) -> None:
    outcome = parse(config, fm(date="2025-01-01", **meta))
    assert outcome.post is None
    assert outcome.excluded == reason
    assert [p.severity for p in outcome.problems] == ["info"]
    result = collect([outcome], NOW)
    assert result.excluded == 1 and result.skipped == 0 and not result.has_errors


def test_future_posts_are_excluded_until_their_time(config: Config) -> None:
    soon = parse(config, fm(date='"2026-06-01 09:00:00 +0000"'), "soon.md")
    later = parse(config, fm(date="2030-01-01"), "later.md")
    now_post = parse(config, fm(date="2025-06-01"), "now.md")
    result = collect([soon, later, now_post], NOW)
    assert [p.source for p in result.posts] == ["now.md"]
    assert result.excluded == 2
    assert result.next_publish == datetime(2026, 6, 1, 9, tzinfo=UTC)
    infos = [p for p in result.problems if p.severity == "info"]
    assert infos[0].reason == "scheduled for 2026-06-01T09:00:00+00:00; excluded until then"
    assert infos[0].path == "posts/soon.md"
    after = collect([soon, later, now_post], datetime(2026, 6, 2, tzinfo=UTC))
    assert len(after.posts) == 2


def test_duplicate_id_makes_the_later_post_invalid(config: Config) -> None:
    first = parse(config, fm(date="2025-01-01", id="same"), "a.md")
    second = parse(config, fm(date="2025-02-01", id="same"), "b.md")
    result = collect([first, second], NOW)
    assert [p.source for p in result.posts] == ["a.md"]
    assert result.skipped == 1
    [problem] = result.problems
    assert problem.severity == "error"
    assert problem.path == "posts/b.md"
    assert problem.reason == "duplicate id 'same' (already used by posts/a.md)"


def test_same_slug_and_day_in_two_folders_collide(config: Config) -> None:
    a = parse(config, fm(), "en/2025-01-01-hello.md")
    b = parse(config, fm(), "ja/2025-01-01-hello.md")
    result = collect([a, b], NOW)
    assert len(result.posts) == 1 and result.skipped == 1


def test_scan_posts_reports_in_rel_order_and_counts(site) -> None:  # type: ignore[no-untyped-def]
    site.write_post("2025-01-02-b.md", "---\ntitle: B\n---\nb\n")
    site.write_post("2025-01-01-a.md", "---\ntitle: A\n---\na\n")
    site.write_post("sub/2025-01-03-c.md", "---\ndraft: true\n---\nc\n")
    site.write_post("broken.md", "---\ntitle: [\n---\nx\n")
    site.write_post("sjis/2025-01-04-s.md", "---\ntitle: 日本\n---\n本文\n".encode("cp932"))
    site.write_post("notes.txt", "ignored")
    result = scan_posts(site.config(), NOW)
    assert [p.source for p in result.posts] == [
        "2025-01-01-a.md",
        "2025-01-02-b.md",
        "sjis/2025-01-04-s.md",
    ]
    assert result.skipped == 1
    assert result.excluded == 1
    severities = sorted(p.severity for p in result.problems)
    assert severities == ["error", "info", "warning"]
    assert all(p.path.endswith(".md") for p in result.problems)


# --- never raises --------------------------------------------------------------------------------


def _no_internal_error(outcome: ParseOutcome) -> None:
    assert isinstance(outcome, ParseOutcome)
    assert not any(p.reason.startswith("internal error") for p in outcome.problems)
    assert (outcome.post is None) == (outcome.excluded is not None or bool(errors(outcome)))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_parse_post_never_raises_on_arbitrary_bytes(config: Config, data: bytes) -> None:
    _no_internal_error(parse(config, data))


_meta_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "no",
            "1.10",
            "[a, b]",
            "{a: 1}",
            "2025-13-45",
            "0000-00-00",
            "&a x",
            "*a",
            "!!python/x",
            "'//[x'",
            "http://[::1",
            "javascript:x",
            ".nan",
            "~",
            "[{name: y}, 3]",
        ]
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(
        st.sampled_from(
            [
                "title",
                "date",
                "tags",
                "categories",
                "author",
                "slug",
                "permalink",
                "image",
                "updated",
                "excerpt",
                "draft",
                "id",
                "lang",
                "x",
            ]
        ),
        max_size=6,
    ),
    values=st.lists(_meta_values, min_size=6, max_size=6),
    body=st.text(max_size=200),
)
def test_parse_post_never_raises_on_arbitrary_front_matter(
    config: Config, keys: list[str], values: list[str], body: str
) -> None:
    meta = "".join(f"{k}: {v}\n" for k, v in zip(keys, values, strict=False))
    text = f"---\n{meta}---\n{body}"
    _no_internal_error(parse(config, text.encode("utf-8", "surrogatepass")))
