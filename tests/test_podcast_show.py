"""A feed that is a podcast show, built end to end and read back by the apps' own parsers.

podcastparser (gPodder's parser) reads what Apple and the other apps read; feedparser must
see no bozo; the W3C validator's rules (tests/validity.py) give zero errors."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest
from PIL import Image

from feedsmith.core.config import Config
from feedsmith.core.render.podcast import PODCAST_NS
from feedsmith.pipeline.site import build_site
from validity import check_rss

SITE = "https://blog.example.com"
NOW = datetime(2026, 1, 10, tzinfo=UTC)
SHOW = {
    "feed": "tag/show",
    "title": "The Test Show",
    "description": "Talk about tests.",
    "author": "Jane Host",
    "owner": {"name": "Jane Host", "email": "jane@example.com"},
    "image": "cover.png",
    "categories": ["Technology", {"Arts": "Books"}],
    "explicit": False,
    "type": "serial",
    "locked": True,
    "funding": [{"url": "https://example.com/donate", "text": "Support us"}],
}


def episode(site, n: int, extra: str = "", tags: str = "[show]") -> None:  # type: ignore[no-untyped-def]
    site.write_post(
        f"2025-01-{n:02d}-ep{n}.md",
        f"""\
        ---
        title: Episode {n}
        date: 2025-01-{n:02d}
        tags: {tags}
        enclosure:
          url: https://cdn.example.com/ep{n}.mp3
          type: audio/mpeg
          length: {1000 + n}
        duration: "1:0{n % 10}:05"
        episode: {n}
        season: 2
        episode_type: full
        explicit: {"true" if n % 2 else "false"}
        {extra}
        ---

        Notes for episode {n}.
        """,
    )


def cover(path: Path, size: tuple[int, int] = (1400, 1400), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "JPEG" if path.suffix == ".jpg" else "PNG"
    Image.new(mode, size).save(path, fmt)


@pytest.fixture(autouse=True)
def podcastparser_knows_the_official_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """podcastparser 0.6.11 maps only the namespace's old GitHub URI; the spec's official one,
    which feedsmith writes, "must be recognised as identical" by clients. Taught here, nothing
    else changed in the parser."""
    monkeypatch.setitem(podcastparser.Namespace.NAMESPACES, PODCAST_NS, "podcast")


@pytest.fixture
def show_site(site):  # type: ignore[no-untyped-def]
    media = site.root / "media"
    media.mkdir()
    cover(media / "cover.png")
    (media / "ep1.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n")
    return site


def build(site_, **overrides) -> tuple[Config, object]:  # type: ignore[no-untyped-def]
    overrides.setdefault("podcasts", [SHOW])
    config = site_.config(media_dir="media", permalink="/:title.html", **overrides)
    return config, build_site(config, NOW)


def rss_of(site) -> bytes:  # type: ignore[no-untyped-def]
    return (site.output_dir / "tags" / "show.rss.xml").read_bytes()


def test_podcastparser_reads_back_the_show_and_every_episode(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    episode(site, 1, "transcript: ep1.vtt")
    episode(
        site,
        2,
        "chapters:\n          - {start: 0, title: Intro}\n          - {start: '1:30', title: Talk}",
    )
    episode(site, 3, "chapters: https://cdn.example.com/ep3.chapters.json")
    site.write_post("2025-01-04-text.md", "---\ntitle: Not an episode\ntags: [show]\n---\nText.\n")
    build(site)
    data = rss_of(site)
    parsed = podcastparser.parse(f"{SITE}/feeds/tags/show.rss.xml", io.BytesIO(data))
    assert parsed["title"] == "The Test Show"
    assert parsed["itunes_author"] == "Jane Host"
    assert parsed["cover_url"] == f"{SITE}/media/cover.png"
    assert parsed["type"] == "serial"
    assert b'<podcast:funding url="https://example.com/donate">Support us</podcast:funding>' in data
    episodes = {e["title"]: e for e in parsed["episodes"]}
    assert sorted(episodes) == ["Episode 1", "Episode 2", "Episode 3"]  # the text post is not
    for n in (1, 2, 3):
        ep = episodes[f"Episode {n}"]
        assert ep["enclosures"] == [
            {
                "url": f"https://cdn.example.com/ep{n}.mp3",
                "file_size": 1000 + n,
                "mime_type": "audio/mpeg",
            }
        ]
        assert ep["total_time"] == 3600 + n * 60 + 5
        assert ep["number"] == n
        assert ep["season"] == 2
        assert ep["type"] == "full"
        assert ep["explicit"] is bool(n % 2)
        assert ep["guid"].startswith("tag:blog.example.com,")
    assert episodes["Episode 1"]["transcript_url"] == f"{SITE}/media/ep1.vtt"
    chapters_url = f"{SITE}/feeds/tags/show.chapters/ep2.json"
    assert episodes["Episode 2"]["chapters_json_url"] == chapters_url
    assert episodes["Episode 3"]["chapters_json_url"] == "https://cdn.example.com/ep3.chapters.json"
    written = json.loads((site.output_dir / "tags/show.chapters/ep2.json").read_text())
    assert written == {
        "version": "1.2.0",
        "chapters": [{"startTime": 0, "title": "Intro"}, {"startTime": 90, "title": "Talk"}],
    }
    # The podcast: elements podcastparser does not read, and Apple's explicit spelling.
    text = data.decode()
    assert '<podcast:locked owner="jane@example.com">yes</podcast:locked>' in text
    assert "<itunes:explicit>false</itunes:explicit>" in text
    assert '<itunes:category text="Arts">' in text and '<itunes:category text="Books"/>' in text
    assert (
        '<podcast:transcript url="https://blog.example.com/media/ep1.vtt" type="text/vtt"/>' in text
    )


def test_feedparser_no_bozo_and_validator_rules_clean(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    episode(site, 1, "transcript: ep1.vtt")
    episode(site, 2)
    build(site)
    data = rss_of(site)
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 2
    assert parsed.entries[0].enclosures[0].href == "https://cdn.example.com/ep2.mp3"
    assert check_rss(data, now=NOW.timestamp()) == []


def test_guid_is_podcast_index_uuid5_of_the_feed_url_and_survives_a_move(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    episode(site, 1)
    build(site)
    expected = uuid.uuid5(
        uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"),
        "blog.example.com/feeds/tags/show.rss.xml",
    )
    assert f"<podcast:guid>{expected}</podcast:guid>".encode() in rss_of(site)
    moved = dict(site.settings["site"], url="https://new-host.example.org")
    build(site, site=moved)
    data = rss_of(site)
    assert b"new-host.example.org/feeds/tags/show.rss.xml" in data  # moved...
    assert f"<podcast:guid>{expected}</podcast:guid>".encode() in data  # ...same show


def test_show_lists_every_episode_beyond_max_entries(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    for n in range(1, 8):
        episode(site, n)
    feed = {"max_entries": 3, "archive_page_size": 3}
    build(site, feed=feed)
    parsed = podcastparser.parse("x", io.BytesIO(rss_of(site)))
    assert len(parsed["episodes"]) == 7
    assert b"prev-archive" not in rss_of(site)
    # Atom keeps its normal, archived form.
    atom = (site.output_dir / "tags" / "show.atom.xml").read_bytes()
    assert atom.count(b"<entry>") == 3 and b"prev-archive" in atom
    # A rebuild with nothing changed gives the same bytes.
    before = rss_of(site)
    build(site, feed=feed)
    assert rss_of(site) == before


def test_other_feeds_are_plain_rss(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    episode(site, 1)
    build(site)
    assert b"itunes" not in (site.output_dir / "all.rss.xml").read_bytes()


def test_feed_page_says_podcast_with_cover_and_open_in_links(show_site) -> None:  # type: ignore[no-untyped-def]
    site = show_site
    episode(site, 1)
    build(site)
    page = (site.output_dir / "tags" / "show.html").read_text()
    feed = f"{SITE}/feeds/tags/show.rss.xml"
    assert "A podcast: The Test Show" in page
    assert f'src="{SITE}/media/cover.png"' in page
    assert 'href="podcast://blog.example.com/feeds/tags/show.rss.xml"' in page  # Apple Podcasts
    for app in ("Overcast", "Pocket Casts", "AntennaPod"):
        assert f">{app}</a>" in page
    assert (
        "https://antennapod.org/deeplink/subscribe?url="
        + feed.replace(":", "%3A").replace("/", "%2F")
        in page
    )
    assert "<script src=" in page and page.count("<script") == 1  # only our own feedsmith.js
    assert "A podcast" not in (site.output_dir / "all.html").read_text()
