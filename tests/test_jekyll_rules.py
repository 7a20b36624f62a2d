"""Jekyll 4's URL, slug, category and defaults rules, checked against URLs worked out by hand
from Jekyll's documented behaviour (docs/_docs/permalinks.md, front-matter defaults, and the
examples in Jekyll's own utils.rb)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsmith.core.jekyll.rules import (
    PERMALINK_STYLES,
    PermalinkError,
    check_pattern,
    defaults_for,
    folder_categories,
    jekyll_feed_id,
    page_url_path,
    permalink_pattern,
    post_url_path,
    posts_folder,
    sanitize_url,
    slugify,
    titleize_slug,
)

# Sunday 29 January 2023, 18:30:22 (ISO week 4 of 2023, day 29 of the year).
DATE = datetime(2023, 1, 29, 18, 30, 22)


def url(pattern: str, **kw: object) -> str:
    args: dict[str, object] = {
        "date": DATE,
        "slug": "jekyll-4-3-2-released",
        "categories": (),
        "rel": "_posts/2023-01-29-jekyll-4-3-2-released.markdown",
    }
    args.update(kw)
    return post_url_path(pattern, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("date", "/release/2023/01/29/jekyll-4-3-2-released.html"),
        ("pretty", "/release/2023/01/29/jekyll-4-3-2-released/"),
        ("ordinal", "/release/2023/029/jekyll-4-3-2-released.html"),
        ("weekdate", "/release/2023/W04/Sun/jekyll-4-3-2-released.html"),
        ("none", "/release/jekyll-4-3-2-released.html"),
    ],
)
def test_each_permalink_style_gives_the_documented_url(style: str, expected: str) -> None:
    assert url(permalink_pattern(style), categories=("release",)) == expected


def test_an_unset_permalink_is_the_date_style_and_a_pattern_is_kept_as_written() -> None:
    assert permalink_pattern(None) == PERMALINK_STYLES["date"]
    assert permalink_pattern("/blog/:title/") == "/blog/:title/"


def test_jekylls_own_news_posts_land_under_news_with_the_title_from_the_file_name() -> None:
    # jekyllrb.com: collections.posts.permalink: /news/:year/:month/:day/:title/
    assert url("/news/:year/:month/:day/:title/") == "/news/2023/01/29/jekyll-4-3-2-released/"


def test_every_date_placeholder_is_spelled_as_jekylls_url_drop_spells_it() -> None:
    pattern = (
        "/:year/:short_year/:month/:i_month/:short_month/:long_month/:day/:i_day/:y_day"
        "/:hour/:minute/:second/:week/:w_year/:w_day/:short_day/:long_day"
    )
    assert url(pattern) == ("/2023/23/01/1/Jan/January/29/29/029/18/30/22/04/2023/7/Sun/Sunday")


def test_iso_week_year_differs_from_the_calendar_year_at_new_year() -> None:
    assert url("/:w_year/W:week/:year", date=datetime(2021, 1, 1)) == "/2020/W53/2021"


def test_title_keeps_case_and_pretty_characters_slug_and_name_are_lowercased() -> None:
    rel = "_posts/2023-01-29-Hello World_v1.0.md"
    got = url("/:title/:slug/:name", slug="Hello World_v1.0", rel=rel)
    assert got == "/Hello-World_v1.0/hello-world-v1-0/2023-01-29-hello-world-v1-0"


def test_categories_are_lowercased_deduplicated_and_joined_by_slashes() -> None:
    got = url("/:categories/:title.html", categories=("Ja", "News", "ja", "news"))
    assert got == "/ja/news/jekyll-4-3-2-released.html"


def test_empty_segments_collapse_when_a_post_has_no_categories() -> None:
    assert url("/:categories/:categories/:year/") == "/2023/"


def test_path_collection_and_output_ext_placeholders() -> None:
    got = url("/:collection/:path:output_ext", rel="en/_posts/2023-01-29-x.md", slug="x")
    assert got == "/posts/en/2023-01-29-x.html"


def test_a_placeholder_followed_by_an_underscore_is_the_placeholder() -> None:
    assert url("/:month_:day/") == "/01_29/"


def test_an_unknown_placeholder_is_refused_as_jekyll_refuses_it() -> None:
    with pytest.raises(PermalinkError, match=":nope"):
        url("/:nope/:title/")
    with pytest.raises(PermalinkError):
        check_pattern("/:year/:nope")
    check_pattern(PERMALINK_STYLES["weekdate"])


def test_characters_that_would_end_the_path_are_escaped_and_dot_dot_cannot_climb() -> None:
    # :categories is not slugified: what it holds would end the path unless escaped
    assert url("/:categories/", categories=("C#", "why?")) == "/c%23/why%3F/"
    assert url("/:categories/", categories=("100%",)) == "/100%25/"
    assert url("/../../etc/:title") == "/etc/jekyll-4-3-2-released"


def test_url_sanitizing_matches_jekylls() -> None:
    assert sanitize_url("a//b/./c/../d") == "/a/b/c/d"


def test_slugify_examples_from_jekylls_documentation() -> None:
    assert slugify("The _config.yml file") == "the-config-yml-file"
    assert slugify("The _config.yml file", "pretty") == "the-_config.yml-file"
    assert slugify("The _config.yml file", "pretty", cased=True) == "The-_config.yml-file"
    assert slugify("The _config.yml file", "ascii") == "the-config-yml-file"
    assert slugify("The _config.yml file", "latin") == "the-config-yml-file"
    assert slugify("The _config.yml file", "raw") == "the-_config.yml-file"
    assert slugify("The _config.yml file", "none") == "the _config.yml file"
    assert slugify("The _config.yml file", "none", cased=True) == "The _config.yml file"


def test_slugify_keeps_unicode_letters_in_default_and_pretty_but_not_in_ascii() -> None:
    assert slugify("最新ニュース と AI") == "最新ニュース-と-ai"
    assert slugify("Ünïcödé café", "pretty") == "ünïcödé-café"
    assert slugify("最新ニュース AI", "ascii") == "ai"


def test_latin_mode_drops_accents_approximately_like_i18n() -> None:
    assert slugify("Crème brûlée, Straße", "latin") == "creme-brulee-strasse"
    assert slugify("日本 rocks", "latin") == "rocks"


def test_only_one_leading_and_trailing_hyphen_is_removed_in_raw_mode() -> None:
    assert slugify("--a--", "raw") == "-a-"
    assert slugify("  a  ", "default") == "a"


@given(st.text(max_size=60), st.sampled_from(["raw", "default", "pretty", "ascii", "latin"]))
def test_slugify_never_starts_or_ends_with_a_run_it_made(text: str, mode: str) -> None:
    slug = slugify(text, mode)
    if mode == "ascii":
        assert re.fullmatch(r"[a-z0-9-]*", slug)
    if mode != "raw":
        assert "--" not in slug
        assert not slug.startswith("-") and not slug.endswith("-")


@given(
    st.text(max_size=30),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(sorted(PERMALINK_STYLES)),
)
def test_a_post_url_is_always_one_rooted_path_without_double_slashes_or_dot_dot(
    slug: str, categories: list[str], style: str
) -> None:
    got = url(permalink_pattern(style), slug=slug, categories=categories)
    assert got.startswith("/")
    assert "//" not in got and ".." not in got
    assert "#" not in got and "?" not in got


def test_titleize_slug_is_jekylls_default_title() -> None:
    assert titleize_slug("jekyll-4-3-2-released") == "Jekyll 4 3 2 Released"
    assert titleize_slug("a-") == "A"


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("_posts/2020-01-01-x.md", ()),
        ("_posts/en/2020-01-01-x.md", ()),  # below _posts: no category (Jekyll's docs)
        ("en/_posts/2020-01-01-x.md", ("en",)),
        ("blog/ja/_posts/2020/2020-01-01-x.md", ("blog", "ja")),
        ("es/_drafts/x.md", ("es",)),
    ],
)
def test_folders_above_posts_are_categories(rel: str, expected: tuple[str, ...]) -> None:
    assert folder_categories(rel) == expected


def test_twin_posts_in_two_language_folders_get_two_urls() -> None:
    ja = url("/:categories/:year/:title/", categories=folder_categories("_posts/x.md"))
    en = url("/:categories/:year/:title/", categories=folder_categories("en/_posts/x.md"))
    assert ja == "/2023/jekyll-4-3-2-released/"
    assert en == "/en/2023/jekyll-4-3-2-released/"


def test_posts_folder_names_the_posts_folder_a_file_is_in() -> None:
    assert posts_folder("en/_posts/2020/x.md") == "en/_posts"
    assert posts_folder("_posts/x.md") == "_posts"
    assert posts_folder("about.md") is None


DEFAULTS = [
    {"scope": {"path": ""}, "values": {"layout": "default", "author": "site"}},
    {"scope": {"path": "", "type": "posts"}, "values": {"layout": "post", "comments": True}},
    {"scope": {"path": "en/_posts", "type": "posts"}, "values": {"lang": "en"}},
    {"scope": {"path": "en"}, "values": {"lang": "en-GB", "author": "kim"}},
    {"scope": {"path": "ja/_posts/2023*"}, "values": {"series": "2023"}},
    {"values": {"share": True}},
    {"scope": {"path": "", "type": "pages"}, "values": {"layout": "page"}},
    "not a set",
    {"scope": {"path": "x"}},  # no values: skipped, as Jekyll does
]


def test_defaults_apply_every_matching_scope_the_longer_path_winning() -> None:
    got = defaults_for("en/_posts/2023-01-01-x.md", "posts", DEFAULTS)
    assert got == {
        "layout": "post",  # typed scope beats the untyped one of the same path length
        # FrontmatterDefaults#all: "en" comes after the longer "en/_posts", so what was merged
        # before it ("" → site) wins over it, though "en" is longer than "" (Jekyll's quirk)
        "author": "site",
        "comments": True,
        "lang": "en",  # "en/_posts" is longer than "en", though listed first
        "share": True,
    }


def test_a_more_specific_scope_later_in_the_list_wins() -> None:
    sets = [
        {"scope": {"path": ""}, "values": {"author": "site"}},
        {"scope": {"path": "en"}, "values": {"author": "kim"}},
    ]
    assert defaults_for("en/_posts/x.md", "posts", sets) == {"author": "kim"}
    assert defaults_for("_posts/x.md", "posts", sets) == {"author": "site"}


def test_a_glob_scope_matches_the_paths_it_would_find_on_disk() -> None:
    assert defaults_for("ja/_posts/2023-01-01-x.md", "posts", DEFAULTS)["series"] == "2023"
    assert "series" not in defaults_for("ja/_posts/2022-01-01-x.md", "posts", DEFAULTS)
    star = [{"scope": {"path": "*/_posts"}, "values": {"x": 1}}]
    assert defaults_for("de/_posts/a.md", "posts", star) == {"x": 1}
    assert defaults_for("_posts/a.md", "posts", star) == {}
    deep = [{"scope": {"path": "**/_posts/*.md"}, "values": {"x": 1}}]
    assert defaults_for("a/b/_posts/c.md", "posts", deep) == {"x": 1}
    assert defaults_for("a/b/_posts/c.html", "posts", deep) == {}


def test_the_type_must_match_and_old_singular_types_still_work() -> None:
    assert defaults_for("about.md", "pages", DEFAULTS)["layout"] == "page"
    singular = [{"scope": {"type": "post"}, "values": {"x": 1}}]
    assert defaults_for("_posts/a.md", "posts", singular) == {"x": 1}
    assert defaults_for("about.md", "pages", singular) == {}


def test_later_scopes_of_equal_weight_win_and_nested_values_merge() -> None:
    sets = [
        {"scope": {"path": "_posts"}, "values": {"a": 1, "image": {"path": "/a.png", "alt": "A"}}},
        {"scope": {"path": "_posts"}, "values": {"a": 2, "image": {"path": "/b.png"}}},
    ]
    assert defaults_for("_posts/x.md", "posts", sets) == {
        "a": 2,
        "image": {"path": "/b.png", "alt": "A"},
    }


def test_a_path_prefix_is_a_plain_string_prefix_as_in_jekyll() -> None:
    sets = [{"scope": {"path": "_posts/a"}, "values": {"x": 1}}]
    assert defaults_for("_posts/abc.md", "posts", sets) == {"x": 1}
    assert defaults_for("_posts/b.md", "posts", sets) == {}


def test_jekyll_feed_ids_are_the_urls_folder_plus_the_slug_made_absolute() -> None:
    site = "https://jekyllrb.com/docs"
    assert (
        jekyll_feed_id(site, "/news/2023/01/29/jekyll-4-3-2-released/", "jekyll-4-3-2-released")
        == "https://jekyllrb.com/docs/news/2023/01/29/jekyll-4-3-2-released"
    )
    assert (
        jekyll_feed_id("https://ex.com", "/2020/01/01/hello.html", "hello")
        == "https://ex.com/2020/01/01/hello"
    )
    assert jekyll_feed_id("https://ex.com", "/hello.html", "Hello World") == (
        "https://ex.com/Hello%20World"
    )


@pytest.mark.parametrize(
    ("rel", "permalink", "style", "expected"),
    [
        ("about.md", None, "date", "/about.html"),
        ("about.md", None, "pretty", "/about/"),
        ("about.markdown", None, "/:year/:title/", "/about/"),
        ("about.html", None, "/:year/:title", "/about"),
        ("docs/index.md", None, "date", "/docs/"),
        ("index.html", None, "pretty", "/"),
        ("feed.xml", None, "pretty", "/feed.xml"),
        ("css/site.scss", None, "date", "/css/site.css"),
        ("team/kim.md", "/people/:basename/", "date", "/people/kim/"),
        ("team/kim.md", "/people/kim.php", "date", "/people/kim.php"),
        ("a/b.md", "/:path/:basename:output_ext", "pretty", "/a/b.html"),
    ],
)
def test_page_urls_follow_jekylls_page_rules(
    rel: str, permalink: str | None, style: str, expected: str
) -> None:
    assert page_url_path(rel, permalink, style) == expected
