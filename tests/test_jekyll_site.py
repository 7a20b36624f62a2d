"""A Jekyll site read as it is (``jekyll:``): the feeds carry what jekyll-feed would publish.

The fixture (tests/fixtures/jekyll_site) has a ``_config.yml`` with ``baseurl``, a collection
permalink, ``defaults:`` and a time zone, ``_data/authors.yml``, ``_includes/``, a ``ja/_posts``
folder twin, an HTML post and odd dates. Every URL below was worked out by hand from Jekyll's
documented rules: ``collections.posts.permalink`` ``/news/:categories/:year/:month/:day/:title/``
under ``url`` + ``baseurl``, dates in America/Los_Angeles, folder names above ``_posts`` as
categories; ids are jekyll-feed's (``post.id | absolute_url``: the URL's folder + the slug).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.config import load_config
from feedsmith.core.config import Config
from feedsmith.core.posts import parse_post
from feedsmith.pipeline.includes import includes_for

FIXTURE = Path(__file__).parent / "fixtures" / "jekyll_site"
BASE = "https://notes.example.org/blog"

URLS = {
    "Hello, lanterns": f"{BASE}/news/release/2022/12/31/hello-lanterns/",
    "Release 2.0": f"{BASE}/news/release/2023/01/29/release-2-0/",
    # 05:00 UTC on the 30th is 21:00 on the 29th in Los Angeles.
    "Late night": f"{BASE}/news/2023/01/29/late-night/",
    "A night in Kyoto": f"{BASE}/news/2023/02/01/kyoto/",
    "京都の夜": f"{BASE}/news/ja/2023/02/01/kyoto/",
    "From the old site": f"{BASE}/news/2021/06/01/legacy-page/",
    "A date nobody can read": f"{BASE}/news/2020/05/05/bad-date/",
    "Templates explained": f"{BASE}/news/2020/06/06/liquid-off/",
}


def jekyll_feed_id(url: str) -> str:
    """Document#id: File.join(File.dirname(url), slug), absolute."""
    return url.rstrip("/")


@pytest.fixture
def jsite(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    shutil.copytree(FIXTURE, root, symlinks=True)
    config = {"jekyll": "site", "output_dir": "feeds", "state_dir": "state"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), "utf-8")
    return tmp_path


def build(jsite: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["build", "-c", str(jsite / "config.yaml")])
    out, err = capsys.readouterr()
    return code, out, err


def entries(jsite: Path, rel: str = "all.atom.xml") -> dict[str, Any]:
    parsed = feedparser.parse((jsite / "feeds" / rel).read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return {e.title: e for e in parsed.entries}


def test_jekyll_site_posts_get_the_urls_and_ids_jekyll_feed_gave_them(jsite, capsys):
    code, _, err = build(jsite, capsys)
    assert code == 0, err
    found = entries(jsite)
    assert set(found) == set(URLS)
    for title, url in URLS.items():
        assert found[title].link == url, title
        assert found[title].id == jekyll_feed_id(url), title


def test_jekyll_liquid_is_rendered_before_markdown(jsite, capsys):
    build(jsite, capsys)
    hello = entries(jsite)["Hello, lanterns"].content[0].value
    assert "Welcome to <strong>Lantern Notes</strong>, by garthdb." in hello
    assert '<code class="language-ruby"' in hello and "lantern.on!" in hello
    assert "Note: keep the wick short" in hello
    assert "RED" in hello and "AMBER" in hello and "GREEN" in hello
    assert "Published 2022-12-31T10:00:00-08:00" in hello
    assert "paper-lanterns-you" in hello
    assert f'href="{BASE}/about/"' in hello
    assert f'src="{BASE}/assets/logo.png"' in hello
    assert 'href="https://notes.example.org/blog/"' in hello
    assert "https://chat.example.org/lantern" in hello
    # {% raw %} is the one way Liquid syntax reaches readers: the author asked for it.
    assert "Write {{ page.title }} in your own templates." in hello

    release = entries(jsite)["Release 2.0"].content[0].value
    assert 'href="https://code.example.org/lantern/notes/releases"' in release
    assert f'href="{BASE}/docs/installation/"' in release
    assert f'href="{URLS["Hello, lanterns"]}"' in release


def test_jekyll_no_liquid_reaches_readers_unless_protected(jsite, capsys):
    build(jsite, capsys)
    raw = "Write {{ page.title }} in your own templates."  # inside {% raw %}: the author's
    texts: list[tuple[str, str]] = []
    for name in ("all.atom.xml", "all.rss.xml"):
        for title, entry in entries(jsite, name).items():
            body = " ".join(c.value for c in entry.get("content", []))
            texts.append((title, f"{title} {entry.get('summary', '')} {body}"))
    for item in json.loads((jsite / "feeds" / "all.json").read_bytes())["items"]:
        texts.append((item["title"], json.dumps(item, ensure_ascii=False)))
    assert len(texts) == 3 * len(URLS)
    for title, text in texts:
        if title == "Templates explained":  # render_with_liquid: false, as in Jekyll
            continue
        text = text.replace(raw, "")
        assert "{{" not in text and "{%" not in text, title


def test_jekyll_authors_come_from_data_and_defaults(jsite, capsys):
    build(jsite, capsys)
    found = entries(jsite)
    assert found["Hello, lanterns"].author_detail.name == "Garth Example"
    assert found["Hello, lanterns"].author_detail.href == "https://garth.example.net/"
    assert found["京都の夜"].author_detail.name == "山田花子"
    assert found["Late night"].author_detail.name == "山田花子"


def test_jekyll_folder_twins_are_two_posts_and_the_folder_a_category(jsite, capsys):
    build(jsite, capsys)
    found = entries(jsite)
    assert found["A night in Kyoto"].id != found["京都の夜"].id
    ja = entries(jsite, "categories/ja.atom.xml")
    assert set(ja) == {"京都の夜"}
    items = json.loads((jsite / "feeds" / "all.json").read_bytes())["items"]
    language = {item["title"]: item.get("language") for item in items}
    assert language["京都の夜"] == "ja"  # defaults: scope path ja → lang ja
    assert language["A night in Kyoto"] is None  # the site's own language, not repeated


def test_jekyll_html_post_is_sanitized_and_absolute(jsite, capsys):
    build(jsite, capsys)
    html = entries(jsite)["From the old site"].content[0].value
    assert "<script" not in html and "alert(1)" not in html
    assert 'href="https://notes.example.org/old/index.html"' in html


def test_jekyll_excerpt_separator_makes_the_summary(jsite, capsys):
    build(jsite, capsys)
    assert entries(jsite)["Hello, lanterns"].summary == "Welcome to Lantern Notes, by garthdb."


def test_jekyll_reports_each_problem_with_path_and_line(jsite, capsys):
    code, _, err = build(jsite, capsys)
    assert code == 0
    assert "2020-07-07-broken-liquid.md:5: error: Liquid" in err
    assert "2020-05-05-bad-date.md:3: warning: date:" in err and "file name's date" in err
    for never in ("draft", "dependency", "output.md", "notes.md"):
        assert never not in (jsite / "feeds" / "all.atom.xml").read_text("utf-8")


def test_jekyll_link_follows_its_target_when_the_target_moves(jsite, capsys):
    build(jsite, capsys)
    hello = jsite / "site" / "_posts" / "2022-12-31-hello-lanterns.md"
    hello.write_text(hello.read_text("utf-8").replace("categories: [release]", "categories: []"))
    code, _, err = build(jsite, capsys)
    assert code == 0, err
    moved = f"{BASE}/news/2022/12/31/hello-lanterns/"
    release = entries(jsite)["Release 2.0"].content[0].value
    assert f'href="{moved}"' in release


def test_jekyll_include_change_reaches_the_feed(jsite, capsys):
    build(jsite, capsys)
    note = jsite / "site" / "_includes" / "note.html"
    note.write_text("<aside>Tip: {{ include.text }}</aside>\n", "utf-8")
    build(jsite, capsys)
    assert "Tip: keep the wick short" in entries(jsite)["Hello, lanterns"].content[0].value


# What jekyll-feed published at /blog/feed.xml for this site before the switch (its template's
# shape; ids are ``post.id | absolute_url``), newest first.
JEKYLL_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<generator uri="https://jekyllrb.com/" version="4.3.2">Jekyll</generator>
<link href="https://notes.example.org/blog/feed.xml" rel="self" type="application/atom+xml"/>
<link href="https://notes.example.org/blog/" rel="alternate" type="text/html" hreflang="en"/>
<updated>2023-02-01T00:00:00-08:00</updated>
<id>https://notes.example.org/blog/feed.xml</id>
<title type="html">Lantern Notes</title>
{entries}
</feed>
"""


def jekyll_feed_document() -> bytes:
    entries = []
    for title, url in URLS.items():
        entries.append(
            f'<entry><title type="html">{title}</title>'
            f'<link href="{url}" rel="alternate" type="text/html" title="{title}"/>'
            f"<updated>2023-01-01T00:00:00-08:00</updated>"
            f"<id>{jekyll_feed_id(url)}</id></entry>"
        )
    return JEKYLL_FEED.format(entries="\n".join(entries)).encode("utf-8")


def test_switching_from_jekyll_feed_redelivers_nothing_at_the_same_url(jsite, capsys):
    from feedsmith.serve.app import create_app
    from feedsmith.serve.stores import FeedStore

    build(jsite, capsys)
    config = load_config(jsite / "config.yaml")
    client = create_app(config, FeedStore.for_config(config)).test_client()
    before = feedparser.parse(jekyll_feed_document())
    assert not before.bozo and len(before.entries) == len(URLS)

    answer = client.get("/feed.xml")  # the site's path: a proxy maps /blog/ to serve
    assert answer.status_code == 200
    assert answer.content_type.startswith("application/atom+xml")
    after = feedparser.parse(answer.data)
    assert not after.bozo
    # Every entry a subscriber now gets is one jekyll-feed gave them, under the same id and
    # link: nothing is delivered twice. jekyll-feed's posts_limit default (10) is kept.
    old = {e.id: e for e in before.entries}
    assert len(after.entries) == min(10, len(URLS))
    for entry in after.entries:
        assert entry.id in old, entry.id
        assert entry.link == old[entry.id].link

    category = client.get("/feed/release.xml")  # feed.categories: [release]
    assert category.status_code == 200
    titles = {e.title for e in feedparser.parse(category.data).entries}
    assert titles == {"Hello, lanterns", "Release 2.0"}


def test_hostile_liquid_is_reported_and_bounded_and_reads_nothing_outside(jsite, capsys):
    secret = jsite / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", "utf-8")
    posts = jsite / "site" / "_posts"
    (posts / "2024-03-01-escape.md").write_text(
        "---\ntitle: Escape\n---\n{% include ../../secret.txt %}\n"
        "{% include_relative ../../secret.txt %}\n",
        "utf-8",
    )
    (jsite / "site" / "_includes" / "loop.html").write_text("{% include loop.html %}", "utf-8")
    (posts / "2024-03-02-loop.md").write_text(
        "---\ntitle: Loop\n---\n{% include loop.html %}\n", "utf-8"
    )
    (posts / "2024-03-03-spin.md").write_text(
        "---\ntitle: Spin\n---\n{% for i in (1..10000000) %}{{ i }}{% endfor %}\n", "utf-8"
    )
    code, _, err = build(jsite, capsys)
    assert code == 0, err
    assert "2024-03-01-escape.md:4: warning:" in err and "refused" in err
    assert "2024-03-02-loop.md:4: error:" in err
    assert "2024-03-03-spin.md:4: error:" in err
    published = b"".join(p.read_bytes() for p in (jsite / "feeds").rglob("*") if p.is_file())
    assert b"TOP-SECRET-VALUE" not in published
    assert "Escape" in entries(jsite)  # published, without what it tried to include


def test_a_post_whose_liquid_breaks_keeps_its_last_good_version(jsite, capsys):
    build(jsite, capsys)
    late = jsite / "site" / "_posts" / "2023-01-30-late-night.md"
    late.write_text(late.read_text("utf-8") + "\n{% for x in %}\n", "utf-8")
    code, _, err = build(jsite, capsys)
    assert code == 0
    assert "2023-01-30-late-night.md:8: warning: Liquid syntax error" in err
    assert "still publishing its last valid version" in err
    kept = entries(jsite)["Late night"]
    assert "still the 29th in Los Angeles" in kept.content[0].value


_FRAGMENTS = st.sampled_from(
    ["{{", "}}", "{%", "%}", " raw ", " endraw ", " if ", " for x in y ", " endfor ",
     " include note.html ", " link x.md ", " post_url 2022-12-31-hello-lanterns ",
     " highlight ruby ", " endhighlight ", "'", '"', "|", " upcase ", "page.title", "\n",
     "x", "`", "*"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(_FRAGMENTS, max_size=30).map("".join))
def test_random_liquid_in_a_post_never_breaks_the_parse_or_leaks(body: str) -> None:
    config = _fixture_config()
    rel = "_posts/2024-05-05-random.md"
    data = f"---\ntitle: Random\n---\n{body}\n".encode()
    outcome = parse_post(data, rel, rel, config, includes_for(config, rel))
    assert not any("internal error" in p.reason for p in outcome.problems), outcome.problems
    if outcome.post is not None and "raw" not in body:
        assert "{{" not in outcome.post.content_html and "{%" not in outcome.post.content_html


@functools.cache
def _fixture_config() -> Config:
    return load_config(Path("feedsmith-test-no-such-config.yaml"), jekyll=FIXTURE, optional=True)


def test_the_example_jekyll_site_builds_without_a_problem(tmp_path, capsys):
    example = Path(__file__).resolve().parents[1] / "examples"
    shutil.copytree(example / "jekyll-blog", tmp_path / "examples" / "jekyll-blog")
    config = tmp_path / "examples" / "jekyll.yaml"
    shutil.copy(example / "jekyll.yaml", config)
    assert main(["check", "-c", str(config)]) == 0
    out, err = capsys.readouterr()
    assert "3 posts, 0 skipped, 0 problems" in out, out + err
    assert main(["build", "-c", str(config)]) == 0
    feed = feedparser.parse((tmp_path / "feeds" / "jekyll-example" / "all.atom.xml").read_bytes())
    night = next(e for e in feed.entries if e.title == "Night market")
    assert 'href="http://127.0.0.1:8080/2025/10/01/first-lantern/"' in night.content[0].value
