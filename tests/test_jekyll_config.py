"""``jekyll:``: a Jekyll site's _config*.yml, _data and _includes read into the Config, with
feedsmith's own config.yaml winning wherever it says something."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.config import load_config
from feedsmith.config.jekyll import DEFAULT_EXCLUDES
from feedsmith.core.config import Config, ConfigError, SiteConfig
from feedsmith.core.model import Author

SITE_CONFIG = """\
title: Jekyll • Simple, blog-aware, static sites
description: Transform your plain text into static websites
url: https://jekyllrb.com/
baseurl: /docs/
lang: en-US
timezone: America/Los_Angeles
author:
  name: Jekyll Team
  email: team@jekyllrb.com
  uri: https://jekyllrb.com/team/
permalink: pretty
collections:
  posts:
    output: true
    permalink: /news/:year/:month/:day/:title/
defaults:
  - scope: {path: "", type: posts}
    values: {layout: news_item}
excerpt_separator: <!--more-->
exclude: [README.md, "*.gemspec"]
plugins: [jekyll-feed]
released: 2008-11-01
repository: https://github.com/jekyll/jekyll
feed:
  categories: [release, "community news"]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "blog"
    write(root / "_config.yml", SITE_CONFIG)
    write(root / "_posts" / "2023-01-29-x.md", "---\ntitle: x\n---\nx\n")
    return root


def load(tmp_path: Path, settings: dict[str, Any] | None = None, jekyll: Any = "blog") -> Config:
    data = dict(settings or {})
    if jekyll is not None:
        data["jekyll"] = jekyll
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return load_config(cfg)


def error(tmp_path: Path, settings: dict[str, Any] | None = None, jekyll: Any = "blog") -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, settings, jekyll)
    return str(caught.value)


def test_the_sites_fields_fill_feedsmiths_settings(site: Path, tmp_path: Path) -> None:
    config = load(tmp_path)
    assert config.site.title == "Jekyll • Simple, blog-aware, static sites"
    assert config.site.description == "Transform your plain text into static websites"
    assert config.site.url == "https://jekyllrb.com/docs"  # url + baseurl
    assert config.site.language == "en-US"
    assert config.site.author == "Jekyll Team"
    assert config.timezone == "America/Los_Angeles"
    assert config.posts_dir == site
    assert config.feed.max_entries == 10  # jekyll-feed's default posts_limit
    assert dict(config.authors)["Jekyll Team"] == Author(
        "Jekyll Team", "team@jekyllrb.com", "https://jekyllrb.com/team/"
    )
    jekyll = config.jekyll
    assert jekyll is not None
    assert jekyll.root == site
    assert jekyll.config_files == ("_config.yml",)
    assert jekyll.baseurl == "/docs"
    assert jekyll.permalink == "/news/:year/:month/:day/:title/"  # the collection's wins
    assert jekyll.permalink_style == "pretty"
    assert jekyll.excerpt_separator == "<!--more-->"
    assert jekyll.exclude == ("README.md", "*.gemspec", *DEFAULT_EXCLUDES)
    assert jekyll.include == (".htaccess",)
    assert json.loads(jekyll.defaults_json) == [
        {"scope": {"path": "", "type": "posts"}, "values": {"layout": "news_item"}}
    ]
    assert jekyll.render_with_liquid is True
    assert jekyll.jekyll_feed is True


def test_keys_set_in_feedsmiths_own_config_win(site: Path, tmp_path: Path) -> None:
    config = load(
        tmp_path,
        {
            "site": {"title": "Mine", "url": "https://feeds.example.org", "author": "Kim"},
            "timezone": "Asia/Tokyo",
            "permalink": "/:year/:title.html",
            "feed": {"max_entries": 30},
        },
    )
    assert config.site.title == "Mine"
    assert config.site.url == "https://feeds.example.org"
    assert config.site.author == "Kim"
    assert config.site.description == "Transform your plain text into static websites"
    assert config.timezone == "Asia/Tokyo"
    assert config.feed.max_entries == 30
    assert config.jekyll is not None
    assert config.jekyll.permalink == "/:year/:title.html"


def test_without_a_permalink_the_posts_use_jekylls_date_style(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "title: t\nurl: https://e.com\n")
    config = load(tmp_path)
    assert config.jekyll is not None
    assert config.jekyll.permalink == "/:categories/:year/:month/:day/:title:output_ext"
    assert config.jekyll.permalink_style == "date"
    assert config.feed.max_entries == 20  # no jekyll-feed: feedsmith's default
    assert config.jekyll.jekyll_feed is False


def test_a_site_permalink_style_applies_when_the_collection_sets_none(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "permalink: ordinal\n")
    config = load(tmp_path)
    assert config.jekyll is not None
    assert config.jekyll.permalink == "/:categories/:year/:y_day/:title:output_ext"


def test_config_files_merge_in_order_like_jekyll_config_a_b(site: Path, tmp_path: Path) -> None:
    write(
        site / "_config.production.yml",
        "url: https://prod.example.com\nauthor: {email: ops@example.com}\nfeed: {posts_limit: 5}\n",
    )
    config = load(
        tmp_path, jekyll={"root": "blog", "config": ["_config.yml", "_config.production.yml"]}
    )
    assert config.site.url == "https://prod.example.com/docs"
    assert config.site.author == "Jekyll Team"  # nested mappings merge, as Jekyll's deep merge
    assert dict(config.authors)["Jekyll Team"].email == "ops@example.com"
    assert config.feed.max_entries == 5
    assert config.jekyll is not None
    assert config.jekyll.config_files == ("_config.yml", "_config.production.yml")
    comma = load(tmp_path, jekyll={"root": "blog", "config": "_config.yml,_config.production.yml"})
    assert comma.site.url == config.site.url


def test_a_missing_config_file_is_an_error_naming_it(site: Path, tmp_path: Path) -> None:
    assert "_config.staging.yml: file not found" in error(
        tmp_path, jekyll={"root": "blog", "config": ["_config.staging.yml"]}
    )
    (site / "_config.yml").unlink()
    assert "_config.yml: not found" in error(tmp_path)
    assert "Jekyll site folder not found" in error(tmp_path, jekyll="nowhere")


def test_a_yaml_error_names_the_file_and_line(site: Path, tmp_path: Path) -> None:
    write(site / "_config.yml", "title: ok\nurl: [unclosed\nlang: en\n")
    message = error(tmp_path)
    assert "_config.yml: not valid YAML (line " in message


def test_a_toml_config_is_read_when_it_is_the_only_one(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.toml", 'title = "Tomled"\nurl = "https://t.example"\n')
    assert load(tmp_path).site.title == "Tomled"


@pytest.mark.parametrize(
    ("jekyll", "key"),
    [
        ({"root": "blog", "source": "x"}, "jekyll.source: unknown key"),
        ({"config": ["_config.yml"]}, "jekyll.root: is required"),
        ({"root": "blog", "config": 3}, "jekyll.config: must be a list"),
        (["blog"], "jekyll: must be a path or a mapping"),
    ],
)
def test_the_jekyll_key_is_validated(site: Path, tmp_path: Path, jekyll: Any, key: str) -> None:
    message = error(tmp_path, jekyll=jekyll)
    assert "config.yaml: " + key in message


def test_posts_dir_and_jekyll_are_exclusive(site: Path, tmp_path: Path) -> None:
    message = error(tmp_path, {"posts_dir": "blog/_posts"})
    assert "config.yaml: posts_dir: cannot be set with jekyll:" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("url: ftp://example.com", "_config.yml: url: must be an absolute http(s) URL"),
        ("timezone: Mars/Olympus", "_config.yml: timezone: unknown time zone"),
        ("permalink: /:year/:nope/", "_config.yml: permalink: unknown placeholder :nope"),
        ("exclude: README.md", "_config.yml: exclude: must be a list"),
        ("baseurl: https://e.com/blog", "_config.yml: baseurl: must be a path"),
        ("author: {email: a@b.c}", "_config.yml: author.name: is required"),
        ("title: {a: 1}", "_config.yml: title: must be a string"),
        ("feed: {posts_limit: 0}", "_config.yml: feed.posts_limit: must be a positive integer"),
        ("defaults: {a: 1}", "_config.yml: defaults: must be a list"),
    ],
)
def test_mistakes_in_the_sites_config_name_its_file_and_key(
    tmp_path: Path, line: str, expected: str
) -> None:
    write(tmp_path / "blog" / "_config.yml", line + "\n")
    assert expected in error(tmp_path)


def test_without_a_url_anywhere_the_default_stays_and_check_is_told(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "title: t\n")
    config = load(tmp_path)
    assert config.site.url == SiteConfig.url
    assert config.jekyll is not None
    assert any(n.startswith("url: set in neither") for n in config.jekyll.notes)
    assert any(n.startswith("timezone: not set") for n in config.jekyll.notes)


def test_data_authors_merge_with_config_authors_which_win(site: Path, tmp_path: Path) -> None:
    write(
        site / "_data" / "authors.yml",
        """\
        garthdb:
          name: Garth DB
          uri: https://garthdb.com
          twitter: garthdb
        kim: Kim Data
        """,
    )
    config = load(tmp_path, {"authors": {"kim": {"name": "Kim Config"}}})
    authors = dict(config.authors)
    assert authors["garthdb"] == Author("Garth DB", None, "https://garthdb.com")
    assert authors["kim"] == Author("Kim Config")


def test_a_site_author_that_is_a_data_key_becomes_that_authors_name(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "author: garthdb\n")
    write(tmp_path / "blog" / "_data" / "authors.json", '{"garthdb": {"name": "Garth DB"}}')
    assert load(tmp_path).site.author == "Garth DB"


def test_a_bad_data_author_names_the_data_file_and_key(site: Path, tmp_path: Path) -> None:
    write(site / "_data" / "authors.yml", "eve:\n  name: Eve\n  url: 'javascript:alert(1)'\n")
    message = error(tmp_path)
    assert message.endswith("must be an http(s) or mailto URL or a path, not 'javascript:alert(1)'")
    assert "_data/authors.yml: eve.url:" in message
    write(site / "_data" / "authors.yml", "eve: {email: e@example.com}\n")
    assert "_data/authors.yml: eve.name: is required" in error(tmp_path)


def test_site_json_holds_the_merged_config_data_and_final_values(
    site: Path, tmp_path: Path
) -> None:
    write(site / "_data" / "nav.yml", "- {title: Home, url: /}\n")
    write(site / "_data" / "team" / "core.json", '{"lead": "Parker"}')
    write(site / "_data" / "people.csv", "name,role\nAmy,docs\n")
    write(site / "_data" / "broken link.yml", "a: 1\n")
    config = load(tmp_path, {"site": {"title": "Override"}})
    assert config.jekyll is not None
    data = json.loads(config.jekyll.site_json)
    assert data["title"] == "Override"
    assert data["url"] == "https://jekyllrb.com"  # site.url: without baseurl, as in Jekyll
    assert data["baseurl"] == "/docs"
    assert data["repository"] == "https://github.com/jekyll/jekyll"
    assert data["released"] == "2008-11-01"  # YAML dates become ISO strings
    assert data["data"]["nav"] == [{"title": "Home", "url": "/"}]
    assert data["data"]["team"]["core"] == {"lead": "Parker"}
    assert data["data"]["people"] == [{"name": "Amy", "role": "docs"}]
    assert data["data"]["broken_link"] == {"a": 1}
    assert (
        config.jekyll.site_json == load(tmp_path, {"site": {"title": "Override"}}).jekyll.site_json
    )  # type: ignore[union-attr]


def test_a_broken_data_file_is_an_error_naming_it(site: Path, tmp_path: Path) -> None:
    write(site / "_data" / "nav.json", '{"a": ')
    assert "_data/nav.json: not valid JSON" in error(tmp_path)


def test_data_past_the_cap_is_left_out_and_noted(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("feedsmith.config.jekyll.DATA_CAP_BYTES", 20)
    write(site / "_data" / "a.yml", "a: 1\n")
    write(site / "_data" / "b.yml", "b: " + "x" * 40 + "\n")
    config = load(tmp_path)
    assert config.jekyll is not None
    assert json.loads(config.jekyll.site_json)["data"] == {"a": {"a": 1}}
    assert any("b.yml" in n for n in config.jekyll.notes)


def test_the_includes_digest_changes_with_any_include(site: Path, tmp_path: Path) -> None:
    write(site / "_includes" / "note.html", "<p>{{ include.text }}</p>")
    first = load(tmp_path).jekyll
    assert first is not None and first.includes_count == 1 and first.includes_digest
    write(site / "_includes" / "sub" / "x.html", "x")
    second = load(tmp_path).jekyll
    assert second is not None and second.includes_count == 2
    assert second.includes_digest != first.includes_digest
    write(site / "_includes" / "sub" / "x.html", "y")
    third = load(tmp_path)
    assert third.jekyll is not None
    assert third.jekyll.includes_digest != second.includes_digest
    write(site / "_includes" / "sub" / "x.html", "x")
    assert load(tmp_path).jekyll.includes_digest == second.includes_digest  # type: ignore[union-attr]


def test_an_include_symlinked_out_of_the_site_is_not_read(site: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "password")
    write(site / "_includes" / "ok.html", "ok")
    before = load(tmp_path).jekyll
    os.symlink(secret, site / "_includes" / "leak.html")
    after = load(tmp_path).jekyll
    assert before is not None and after is not None
    assert after.includes_digest == before.includes_digest
    assert after.includes_count == 1


def test_editing_the_sites_config_changes_the_fingerprint(site: Path, tmp_path: Path) -> None:
    before = load(tmp_path).fingerprint()
    write(site / "_config.yml", SITE_CONFIG + "github_user: jekyll\n")
    assert load(tmp_path).fingerprint() != before


def test_jekyll_feed_paths_are_computed_as_its_generator_does(tmp_path: Path) -> None:
    write(
        tmp_path / "blog" / "_config.yml",
        """\
        feed:
          path: atom.xml
          categories: [release, news]
          tags:
            path: tags/
            only: [ruby, jekyll, "c++", skip]
            except: [skip]
          excerpt_only: true
          posts_limit: 15
        """,
    )
    config = load(tmp_path)
    jekyll = config.jekyll
    assert jekyll is not None
    assert jekyll.feed_path == "/atom.xml"
    assert jekyll.feed_aliases == (
        ("category", "release", "/feed/release.xml"),
        ("category", "news", "/feed/news.xml"),
        ("tag", "ruby", "/tags/ruby.xml"),
        ("tag", "jekyll", "/tags/jekyll.xml"),  # c++: not [A-Za-z0-9_]; skip: excepted
    )
    assert config.feed.content == "summary"
    assert config.feed.max_entries == 15
    summary_kept = load(tmp_path, {"feed": {"content": "full"}})
    assert summary_kept.feed.content == "full"


def test_tags_true_is_a_rule_for_every_tag(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "feed: {tags: {except: [draft]}}\n")
    jekyll = load(tmp_path).jekyll
    assert jekyll is not None
    assert jekyll.feed_path == "/feed.xml"
    assert jekyll.feed_aliases == (("tag", "*", "/feed/by_tag/"),)
    assert jekyll.feed_tags_except == ("draft",)


def test_the_posts_collection_path_of_jekyll_feed_is_the_feed_path(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "feed: {collections: {posts: {path: /news.atom}}}\n")
    jekyll = load(tmp_path).jekyll
    assert jekyll is not None and jekyll.feed_path == "/news.atom"


def test_without_jekyll_nothing_changes(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    config = load(tmp_path, jekyll=None)
    assert config.jekyll is None
    assert config.feed.max_entries == 20


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(
    [
        "title",
        "url",
        "baseurl",
        "author",
        "timezone",
        "permalink",
        "lang",
        "exclude",
        "include",
        "defaults",
        "collections",
        "feed",
        "excerpt_separator",
        "plugins",
        "name",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6))
def test_any_site_config_is_read_or_refused_with_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, site_config: dict[str, Any]
) -> None:
    root = tmp_path_factory.mktemp("hyp")
    (root / "blog").mkdir()
    (root / "blog" / "_config.yml").write_text(yaml.safe_dump(site_config), "utf-8")
    try:
        config = load(root)
    except ConfigError as exc:
        assert "_config.yml: " in str(exc)
        return
    assert config.jekyll is not None
    json.loads(config.jekyll.site_json)
    json.loads(config.jekyll.defaults_json)


def test_a_bad_site_author_uri_names_the_author_key(tmp_path: Path) -> None:
    write(tmp_path / "blog" / "_config.yml", "author: {name: A, uri: 'javascript:x'}\n")
    assert "_config.yml: author.uri: must be an http(s) or mailto URL" in error(tmp_path)
