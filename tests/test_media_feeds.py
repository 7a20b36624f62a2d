"""Pictures and attachments in Atom, RSS and JSON Feed, measured from files the test writes.

Real clients read the feeds back: feedparser (Atom, RSS), gPodder's podcastparser (RSS
enclosures); JSON Feed against the spec's rules (tests/validity.py); every file against the
W3C validator rules there."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import jsonschema
import podcastparser
import pytest

import validity
from feedsmith.config import ConfigError
from feedsmith.core import documents
from feedsmith.core.config import Config
from feedsmith.core.groups import group_posts
from feedsmith.core.model import Enclosure, Picture
from feedsmith.pipeline import build_site
from feedsmith.pipeline.site import SiteBuilder
from media_files import m4a, mp3, picture
from test_feeds import make_post

NOW = datetime(2025, 3, 1, tzinfo=UTC)
SITE = "https://blog.example.com"
FORMATS = ("atom.xml", "rss.xml", "json")


def write(site, rel: str, front: str, body: str = "Hello.") -> None:  # type: ignore[no-untyped-def]
    site.write_post(rel, f"---\n{front}---\n\n{body}\n", dedent=False)


@pytest.fixture
def media_site(site):  # type: ignore[no-untyped-def]
    media = site.root / "media"
    mp3(media / "ep1.mp3", 3.0)
    m4a(media / "talks" / "ep2.m4a", 61.5)
    picture(media / "cover.png", 64, 48, "PNG")
    picture(media / "photo.jpg", 33, 21, "JPEG")
    write(
        site,
        "2025-01-02-episode.md",
        "title: Episode 1\nimage: {path: /media/cover.png, alt: The cover, banner: /media/w.jpg}\n"
        "audio: ep1.mp3\n"
        "enclosures:\n  - {path: talks/ep2.m4a, title: The talk}\n"
        "  - {url: 'https://cdn.example.org/s.pdf', type: application/pdf, length: 2048}\n",
    )
    write(site, "2025-01-03-photo.md", "title: Photo\nimage: /media/photo.jpg\n")
    write(site, "2025-01-04-plain.md", "title: Plain\n")
    return site


def build(site, **overrides) -> Config:  # type: ignore[no-untyped-def]
    config = site.config(media_dir="media", **overrides)
    report = build_site(config, NOW)
    assert not report.sink_errors
    return config


def feed(site, fmt: str) -> bytes:  # type: ignore[no-untyped-def]
    return (site.output_dir / f"all.{fmt}").read_bytes()


def entries_by_title(data: bytes) -> dict[str, feedparser.FeedParserDict]:
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.title: e for e in parsed.entries}


def test_feedparser_reads_pictures_and_enclosures_back_from_atom_and_rss(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    mp3_size = (media_site.root / "media/ep1.mp3").stat().st_size
    m4a_size = (media_site.root / "media/talks/ep2.m4a").stat().st_size
    expected = [
        (f"{SITE}/media/ep1.mp3", str(mp3_size), "audio/mpeg"),
        (f"{SITE}/media/talks/ep2.m4a", str(m4a_size), "audio/mp4"),
        ("https://cdn.example.org/s.pdf", "2048", "application/pdf"),
    ]
    atom = entries_by_title(feed(media_site, "atom.xml"))
    got = [(e["href"], e["length"], e["type"]) for e in atom["Episode 1"].enclosures]
    assert got == expected
    assert atom["Episode 1"].enclosures[1]["title"] == "The talk"
    rss = entries_by_title(feed(media_site, "rss.xml"))
    got = [(e["href"], e["length"], e["type"]) for e in rss["Episode 1"].enclosures]
    assert got == expected[:1]  # RSS carries one: the first
    for entries in (atom, rss):
        cover = f"{SITE}/media/cover.png"
        assert entries["Episode 1"].media_thumbnail == [
            {"url": cover, "width": "64", "height": "48"}
        ]
        assert entries["Episode 1"].media_content == [
            {"url": cover, "medium": "image", "type": "image/png", "width": "64", "height": "48"}
        ]
        photo = entries["Photo"].media_content[0]
        assert (photo["type"], photo["width"], photo["height"]) == ("image/jpeg", "33", "21")
        assert "media_content" not in entries["Plain"] and not entries["Plain"].enclosures


def test_json_feed_has_image_and_attachments_with_exact_facts(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    data = feed(media_site, "json")
    assert validity.check_json_feed(data, now=NOW.timestamp()) == []
    items = {item["title"]: item for item in json.loads(data)["items"]}
    episode = items["Episode 1"]
    assert episode["image"] == f"{SITE}/media/cover.png"
    assert episode["banner_image"] == f"{SITE}/media/w.jpg"
    mp3_item, m4a_item, pdf = episode["attachments"]
    assert mp3_item["url"] == f"{SITE}/media/ep1.mp3"
    assert mp3_item["mime_type"] == "audio/mpeg"
    assert mp3_item["size_in_bytes"] == (media_site.root / "media/ep1.mp3").stat().st_size
    assert abs(mp3_item["duration_in_seconds"] - 3.0) <= 0.5
    assert m4a_item == {
        "url": f"{SITE}/media/talks/ep2.m4a",
        "mime_type": "audio/mp4",
        "title": "The talk",
        "size_in_bytes": (media_site.root / "media/talks/ep2.m4a").stat().st_size,
        "duration_in_seconds": 61.5,
    }
    assert pdf == {
        "url": "https://cdn.example.org/s.pdf",
        "mime_type": "application/pdf",
        "size_in_bytes": 2048,
    }
    assert "attachments" not in items["Plain"] and "image" not in items["Plain"]


def test_podcastparser_reads_the_rss_enclosure(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    url = f"{SITE}/feeds/all.rss.xml"
    parsed = podcastparser.parse(url, io.BytesIO(feed(media_site, "rss.xml")))
    (episode,) = [e for e in parsed["episodes"] if e["title"] == "Episode 1"]
    # It reads media:content as one too (the cover): the audio is the <enclosure>.
    (enclosure,) = [e for e in episode["enclosures"] if e["mime_type"].startswith("audio/")]
    assert enclosure["url"] == f"{SITE}/media/ep1.mp3"
    assert enclosure["file_size"] == (media_site.root / "media/ep1.mp3").stat().st_size


def test_every_published_file_passes_the_validator_rules(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site, feed={"image_in_content": True})
    found = []
    for path in sorted(media_site.output_dir.rglob("*")):
        if path.is_file() and not path.name.endswith(".gz"):
            rel = path.relative_to(media_site.output_dir).as_posix()
            found += [f"{rel}: {p}" for p in validity.check_file(rel, path.read_bytes())]
    assert found == []


def test_media_namespace_is_declared_once_and_only_where_used(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    for fmt in ("atom.xml", "rss.xml"):
        data = feed(media_site, fmt)
        assert data.count(b'xmlns:media="http://search.yahoo.com/mrss/"') == 1
        assert b"ns0:" not in data
    write(media_site, "2025-01-04-plain.md", "title: Plain\ntags: [plain]\n")
    build(media_site)
    assert b"xmlns:media" not in (media_site.output_dir / "tags/plain.atom.xml").read_bytes()


def test_image_in_content_puts_the_picture_atop_full_content_only_when_asked(media_site) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    items = {i["title"]: i for i in json.loads(feed(media_site, "json"))["items"]}
    assert "<img" not in items["Photo"]["content_html"]
    build(media_site, feed={"image_in_content": True})
    items = {i["title"]: i for i in json.loads(feed(media_site, "json"))["items"]}
    assert items["Photo"]["content_html"].startswith(
        f'<p><img src="{SITE}/media/photo.jpg" alt="" width="33" height="21"></p>'
    )
    html = entries_by_title(feed(media_site, "atom.xml"))["Photo"].content[0].value
    assert html.startswith('<p><img alt="" height="21" src="https://blog.example.com/media/photo')


def test_image_in_content_must_be_a_boolean(site) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"feed\.image_in_content"):
        site.config(feed={"image_in_content": "yes"})


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("audio: gone.mp3\n", "gone.mp3 does not exist"),
        ("audio: empty.mp3\n", "empty.mp3 is empty (0 bytes)"),
        ("audio: escape/outside.mp3\n", "is outside media_dir"),
        ("audio: notes.xyz\n", "unknown type"),
        ("audio: ../../secret.mp3\n", "is outside media_dir"),
        ("audio: 'https://cdn.example.org/remote.mp3'\n", "has no length"),
        ("image: /media/broken.png\n", "broken.png is not a readable image"),
    ],
)
def test_bad_media_is_one_report_line_and_other_posts_are_unaffected(
    media_site, tmp_path: Path, front: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    media = media_site.root / "media"
    (media / "empty.mp3").write_bytes(b"")
    (media / "notes.xyz").write_bytes(b"\x01\x02 not a known format")
    (media / "broken.png").write_bytes(b"\x00garbage")
    outside = tmp_path / "outside"
    mp3(outside / "outside.mp3", 1.0)
    os.symlink(outside, media / "escape")
    build(media_site)
    good = {fmt: feed(media_site, fmt) for fmt in FORMATS}
    write(media_site, "2025-01-05-bad.md", "title: Bad\n" + front)
    config = media_site.config(media_dir="media")
    report = build_site(config, NOW)
    lines = [str(p) for p in report.problems]
    mine = [line for line in lines if reason in line]
    assert len(mine) == 1, lines
    path, line, severity, _ = mine[0].split(":", 3)
    assert (path.endswith("/posts/2025-01-05-bad.md"), line, severity) == (True, "3", " warning")
    for fmt in FORMATS:  # the others are as they were; the bad post is published
        data = feed(media_site, fmt)
        assert b"Bad" in data
        assert data.count(b"ep1.mp3") == good[fmt].count(b"ep1.mp3")
    atom = entries_by_title(feed(media_site, "atom.xml"))
    assert [e.href for e in atom["Bad"].enclosures if "media/" in e.href] == []


def test_check_prints_every_media_problem_with_path_and_line(media_site, capsys) -> None:  # type: ignore[no-untyped-def]
    from feedsmith.cli import main

    write(media_site, "2025-01-05-bad.md", "title: Bad\naudio: gone.mp3\nvideo: ../x.mp4\n")
    media_site.config(media_dir="media")
    os.chdir(media_site.root)
    code = main(["-c", str(media_site.config_path), "check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "posts/2025-01-05-bad.md:3: warning: enclosure: gone.mp3 does not exist; left out" in out
    assert any(line.startswith("posts/2025-01-05-bad.md:4: warning: video:") for line in out)


def test_same_input_same_bytes(media_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(media_site)
    first = {fmt: feed(media_site, fmt) for fmt in FORMATS}
    shutil.rmtree(media_site.output_dir)
    shutil.rmtree(media_site.root / ".feedsmith")
    build(media_site)
    assert {fmt: feed(media_site, fmt) for fmt in FORMATS} == first


def test_a_changed_media_file_changes_the_feeds_never_the_id(media_site) -> None:  # type: ignore[no-untyped-def]
    config = media_site.config(media_dir="media")
    builder = SiteBuilder(config, watch=False)
    builder.build(NOW)
    before = json.loads(feed(media_site, "json"))
    again = builder.build(NOW)  # nothing changed: nothing written
    assert again.feeds_written == 0
    path = media_site.root / "media/ep1.mp3"
    mp3(path, 9.0)
    report = builder.build(NOW)
    assert report.feeds_written > 0
    after = json.loads(feed(media_site, "json"))
    old, new = before["items"][-1], after["items"][-1]
    assert old["id"] == new["id"] and new["title"] == "Episode 1"
    assert new["attachments"][0]["size_in_bytes"] == path.stat().st_size
    assert abs(new["attachments"][0]["duration_in_seconds"] - 9.0) <= 0.5
    # A new process (the fast path's memo on disk) sees an edit too.
    mp3(path, 5.0)
    build_site(config, NOW)
    item = json.loads(feed(media_site, "json"))["items"][-1]
    assert item["attachments"][0]["size_in_bytes"] == path.stat().st_size


@pytest.mark.parametrize("in_content", [False, True])
def test_spliced_documents_equal_whole_documents_with_media(site, in_content: bool) -> None:  # type: ignore[no-untyped-def]
    config = site.config(feed={"image_in_content": in_content})
    posts = [
        make_post(1, picture=Picture(f"{SITE}/a.png", width=3, height=2, mime_type="image/png")),
        make_post(2),
        make_post(
            3,
            enclosures=(
                Enclosure("https://c.example/a.mp3", "audio/mpeg", 10, "A", 1.5),
                Enclosure("https://c.example/b.bin"),
            ),
        ),
    ]
    groups = group_posts(posts, {})[0] + group_posts(posts[1:], {})[0]  # and without pictures
    for group in groups:
        spliced = documents.render_group(group, config)
        assert spliced["atom"] == documents.render_atom(group, config)
        assert spliced["rss"] == documents.render_rss(group, config)
        assert spliced["json"] == documents.render_json(group, config)


def test_the_parse_cache_on_disk_keeps_pictures_and_enclosures(media_site) -> None:  # type: ignore[no-untyped-def]
    config = build(media_site)
    assert (media_site.root / ".feedsmith" / "parse-cache.msgpack").exists()
    cached = {p.title: p for p in SiteBuilder(config, watch=False).scan(NOW).posts}
    fresh = {
        p.title: p for p in SiteBuilder(config, watch=False, persist_cache=False).scan(NOW).posts
    }
    assert cached["Episode 1"].picture == fresh["Episode 1"].picture
    assert cached["Episode 1"].picture is not None and cached["Episode 1"].picture.width == 64
    assert cached["Episode 1"].enclosures == fresh["Episode 1"].enclosures
    assert [e.line for e in cached["Episode 1"].enclosures] == [4, 5, 5]
    assert cached["Episode 1"].content_hash == fresh["Episode 1"].content_hash


def test_a_rebuild_reads_no_media_file_again_unless_it_changed(media_site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from feedsmith.pipeline import media_probe

    build(media_site)
    probed: list[str] = []
    real = media_probe.probe

    def counting(path: Path, size: int) -> media_probe.Facts:
        probed.append(path.name)
        return real(path, size)

    monkeypatch.setattr(media_probe, "probe", counting)
    write(media_site, "2025-01-04-plain.md", "title: Plain, edited\n")  # a full rebuild
    build(media_site)
    assert probed == []  # facts from state_dir/media-facts.json, by path, size and mtime
    mp3(media_site.root / "media/ep1.mp3", 4.0)
    build(media_site)
    assert probed == ["ep1.mp3"]


def test_every_json_feed_written_passes_the_json_feed_schema(media_site) -> None:  # type: ignore[no-untyped-def]
    """Every JSON document of the site (subscription documents and archive pages, with
    pictures and attachments) against a JSON Schema of JSON Feed 1.1 written from the spec
    (``tests/schemas``), checked by the jsonschema library with formats."""
    for n in range(5, 12):  # enough posts for archive pages
        write(media_site, f"2025-01-{n:02d}-more{n}.md", f"title: More {n}\naudio: ep1.mp3\n")
    build(media_site, feed={"max_entries": 3, "archive_page_size": 3})
    schema = json.loads(
        (Path(__file__).parent / "schemas" / "jsonfeed-1.1.schema.json").read_text()
    )
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    checked: list[str] = []
    for path in sorted(media_site.output_dir.rglob("*.json*")):
        if path.name in ("index.json", "ids.json", "index.json.gz", "ids.json.gz"):
            continue
        if path.suffix == ".gz" and path.with_suffix("").exists():
            continue  # the twin of a plain file checked already
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(json.loads(data))]
        assert errors == [], path
        checked.append(path.relative_to(media_site.output_dir).as_posix())
    assert "all.json" in checked and any(rel.startswith("archive/") for rel in checked), checked
    bad = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1"}]}
    assert not validator.is_valid(bad)  # an item without content: the schema can say no
