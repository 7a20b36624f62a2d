"""Dot segments in permalinks (issue 25 item 6): resolved per RFC 3986 §5.2.4, and a permalink
whose ``..`` climbs above the site's path is an error for that post alone."""

from __future__ import annotations

import feedparser
import pytest

from feedsmith.core.config import Config
from feedsmith.core.posts import parse_post
from feedsmith.core.urlpath import PathEscapesSite, remove_dot_segments
from feedsmith.pipeline import build_site
from test_posts import NOW, errors, fm, parse


@pytest.fixture
def config(site) -> Config:  # type: ignore[no-untyped-def]
    return site.config()


@pytest.mark.parametrize(
    ("permalink", "url"),
    [
        ("/a/../b/", "/b/"),
        ("a/../b", "/b"),
        ("./x.html", "/x.html"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),  # a trailing dot segment leaves the folder's slash
        ("/a/b/.", "/a/b/"),
        ("/a/..", "/"),
        ("/a/%2e%2e/b", "/b"),  # readers decode %2e: it is a dot
        ("/a/%2E/b", "/a/b"),
        ("/a/.%2e/b/", "/b/"),
        ("/a/b/../../c", "/c"),
        ("/.well/x", "/.well/x"),  # a dot that starts a name is no dot segment
        ("/a/.../b", "/a/.../b"),
        ("/a/..b/c", "/a/..b/c"),
        ("/a/%252e%252e/b", "/a/%252e%252e/b"),  # an encoded '%': a name, not a dot
    ],
)
def test_front_matter_permalink_dot_segments_are_resolved(config, permalink, url) -> None:  # type: ignore[no-untyped-def]
    outcome = parse(config, fm(date="2025-01-01", permalink=f"'{permalink}'"), "2025-01-01-p.md")
    assert outcome.post is not None, outcome.problems
    assert outcome.post.url == "https://blog.example.com" + url
    assert errors(outcome) == []


@pytest.mark.parametrize(
    "permalink",
    [
        "../../../../etc/passwd",
        "/..",
        "../..",
        "/a/../..",
        "/%2e%2e/x",
        "/a/%2E%2e/../b",
        "/x/../..",
    ],
)
def test_permalink_above_the_site_is_an_error_naming_the_file(config, permalink) -> None:  # type: ignore[no-untyped-def]
    outcome = parse(config, fm(date="2025-01-01", permalink=f"'{permalink}'"), "2025-01-01-p.md")
    assert outcome.post is None
    [problem] = [p for p in outcome.problems if p.severity == "error"]
    assert problem.path == "posts/2025-01-01-p.md"
    assert problem.line == 3  # the permalink: line
    assert problem.reason.startswith(f"permalink: {permalink!r} gives the path ")
    assert "leads above the site's path" in problem.reason


def test_url_key_as_a_path_is_resolved_too(config) -> None:  # type: ignore[no-untyped-def]
    outcome = parse(config, fm(date="2025-01-01", url="/x/../y.html"), "2025-01-01-p.md")
    assert outcome.post is not None
    assert outcome.post.url == "https://blog.example.com/y.html"
    bad = parse(config, fm(date="2025-01-01", url="/../y.html"), "2025-01-01-p.md")
    assert bad.post is None
    assert errors(bad)[0].startswith("url: '/../y.html' gives the path")


def test_site_under_a_path_keeps_posts_below_it(site) -> None:  # type: ignore[no-untyped-def]
    config = site.config(site={**site.settings["site"], "url": "https://x.example/blog/"})
    ok = parse(config, fm(date="2025-01-01", permalink="/a/../b.html"), "2025-01-01-p.md")
    assert ok.post is not None
    assert ok.post.url == "https://x.example/blog/b.html"
    # '/blog/..' would be the host's root: outside the site, though not above the host's root.
    out = parse(
        config, fm(date="2025-01-01", permalink="'../other-blog/p.html'"), "2025-01-01-p.md"
    )
    assert out.post is None
    assert "leads above the site's path" in errors(out)[0]


def test_config_pattern_filled_with_a_dot_dot_category_is_an_error(site) -> None:  # type: ignore[no-untyped-def]
    config = site.config(permalink="/:categories/:slug.html")
    outcome = parse(config, fm(date="2025-01-01", categories="['..']"), "2025-01-01-p.md")
    assert outcome.post is None
    [reason] = errors(outcome)
    assert reason.startswith(
        "the permalink pattern '/:categories/:slug.html' gives the path '/../p"
    )
    fine = parse(config, fm(date="2025-01-01", categories="['a']"), "2025-01-01-p.md")
    assert fine.post is not None
    assert fine.post.url == "https://blog.example.com/a/p.html"


def test_build_publishes_the_other_posts_and_reports_the_bad_one(site) -> None:  # type: ignore[no-untyped-def]
    site.write_post("2025-01-01-good.md", fm(date="2025-01-01", title="Good"))
    site.write_post(
        "2025-01-02-evil.md",
        fm(date="2025-01-02", title="Evil", permalink="../../../../etc/passwd"),
    )
    report = build_site(site.config(), NOW)
    assert report.posts == 1 and report.skipped == 1
    [problem] = [p for p in report.problems if p.severity == "error"]
    assert problem.path.endswith("posts/2025-01-02-evil.md")
    feed = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())
    assert [e.link for e in feed.entries] == ["https://blog.example.com/2025/01/01/good.html"]
    assert b"etc/passwd" not in (site.output_dir / "all.atom.xml").read_bytes()


def test_remove_dot_segments_keeps_query_and_fragment() -> None:
    assert remove_dot_segments("/a/../b?x=../..#../y") == "/b?x=../..#../y"
    with pytest.raises(PathEscapesSite):
        remove_dot_segments("/../b?x")


def test_same_input_same_url(config) -> None:  # type: ignore[no-untyped-def]
    text = fm(date="2025-01-01", permalink="/a/./b/../c/").encode()
    first = parse_post(text, "2025-01-01-p.md", "posts/2025-01-01-p.md", config)
    second = parse_post(text, "2025-01-01-p.md", "posts/2025-01-01-p.md", config)
    assert first.post is not None and second.post is not None
    assert first.post.url == second.post.url == "https://blog.example.com/a/c/"
