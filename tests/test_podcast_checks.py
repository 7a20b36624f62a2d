"""Bad podcast input: each a clear report line (path, line, reason), and the build still
publishes everything else; config mistakes exit 2 naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedsmith.cli import main
from feedsmith.core.config import ConfigError
from feedsmith.core.podcast.show import fit
from feedsmith.pipeline.site import build_site
from test_podcast_show import NOW, SHOW, build, cover, episode, rss_of


@pytest.fixture
def show_site(site):  # type: ignore[no-untyped-def]
    (site.root / "media").mkdir()
    cover(site.root / "media" / "cover.png")
    return site


def lines_of(site, capsys, **overrides) -> list[str]:  # type: ignore[no-untyped-def]
    overrides.setdefault("podcasts", [SHOW])
    site.config(media_dir="media", permalink="/:title.html", **overrides)
    code = main(["check", "-c", str(site.config_path)])
    out = capsys.readouterr().out.splitlines()
    return [str(code), *out]


@pytest.mark.parametrize(
    ("size", "mode", "name", "expected"),
    [
        ((1000, 1000), "RGB", "cover.png", "must be 1,400 to 3,000 px on a side, is 1000×1000"),
        ((1400, 1400), "CMYK", "cover.jpg", "must be in the RGB colour space, is CMYK"),
        ((1400, 1500), "RGB", "cover.png", "must be square, is 1400×1500"),
    ],
)
def test_bad_cover_is_an_error_line_naming_the_config_key(
    show_site,
    capsys,
    size,
    mode,
    name,
    expected,  # type: ignore[no-untyped-def]
) -> None:
    cover(show_site.root / "media" / name, size, mode)
    episode(show_site, 1)
    out = lines_of(show_site, capsys, podcasts=[dict(SHOW, image=name)])
    hits = [line for line in out if expected in line]
    assert len(hits) == 1, out
    assert hits[0].startswith(f"{show_site.config_path.name}:") or "config.yaml:" in hits[0]
    assert ": error: podcast tag/show: cover art: " in hits[0]
    assert out[0] == "1"  # check fails
    _, report = build(show_site, podcasts=[dict(SHOW, image=name)])
    assert any(expected in p.reason for p in report.problems)
    assert b"<item>" in rss_of(show_site)  # still published


def test_missing_transcript_is_reported_with_the_posts_line_and_left_out(show_site, capsys) -> None:  # type: ignore[no-untyped-def]
    episode(show_site, 1, "transcript: nowhere.vtt")
    out = lines_of(show_site, capsys)
    hit = [line for line in out if "transcript file not found" in line]
    assert len(hit) == 1, out
    assert "2025-01-01-ep1.md:" in hit[0] and ": warning: " in hit[0]
    line = int(hit[0].split("ep1.md:")[1].split(":")[0])
    text = (show_site.posts_dir / "2025-01-01-ep1.md").read_text().splitlines()
    assert text[line - 1].startswith("transcript:")
    build(show_site)
    assert b"podcast:transcript" not in rss_of(show_site)
    assert b"<enclosure" in rss_of(show_site)


def test_unknown_category_is_an_error_and_the_build_publishes(show_site, capsys) -> None:  # type: ignore[no-untyped-def]
    episode(show_site, 1)
    show = dict(SHOW, categories=["Technology", {"Arts": "Knitting"}, "Cooking"])
    out = lines_of(show_site, capsys, podcasts=[show])
    assert out[0] == "1"
    assert any("'Knitting' is not a subcategory of 'Arts'" in line for line in out), out
    assert any("category 'Cooking' is not in Apple Podcasts' list" in line for line in out)
    cooking = next(line for line in out if "'Cooking'" in line)
    line = int(cooking.split("config.yaml:")[1].split(":")[0])
    assert "Cooking" in show_site.config_path.read_text().splitlines()[line - 1]
    build(show_site, podcasts=[show])
    assert b'<itunes:category text="Technology"/>' in rss_of(show_site)


def test_two_episodes_with_one_explicit_guid(show_site, capsys) -> None:  # type: ignore[no-untyped-def]
    episode(show_site, 1, "guid: urn:uuid:6f1c1a8e-0000-4000-8000-000000000001")
    episode(show_site, 2, "guid: urn:uuid:6f1c1a8e-0000-4000-8000-000000000001")
    episode(show_site, 3)
    out = lines_of(show_site, capsys)
    hits = [line for line in out if "duplicate id" in line]
    assert len(hits) == 1 and ": error: " in hits[0], out
    build(show_site)
    data = rss_of(show_site)
    assert data.count(b"urn:uuid:6f1c1a8e-0000-4000-8000-000000000001") == 1
    assert data.count(b"<item>") == 2  # the other episodes are published


def test_apple_rules_on_episodes_and_show(show_site, capsys) -> None:  # type: ignore[no-untyped-def]
    show_site.write_post(
        "2025-01-05-odd.md",
        """\
        ---
        title: Odd
        date: 2025-01-05
        tags: [show]
        enclosure: {url: "http://cdn.example.com/a.ogg", type: audio/ogg, length: 10}
        episode_type: special
        ---
        x
        """,
    )
    show = {k: v for k, v in SHOW.items() if k not in ("explicit", "categories")}
    out = lines_of(show_site, capsys, podcasts=[show])
    text = "\n".join(out)
    assert "enclosure type audio/ogg is not one Apple Podcasts plays" in text
    assert "enclosure URL is not HTTPS" in text
    assert "episode_type: must be full, trailer or bonus" in text
    assert "explicit is not set" in text and "no category" in text
    build(show_site, podcasts=[show])
    assert b"<item>" in rss_of(show_site)


def test_long_texts_cut_on_character_boundaries() -> None:
    assert fit("é" * 10, max_bytes=5) == "éé"
    assert fit("日本語" * 100, chars=255) == ("日本語" * 100)[:255]
    assert fit("short", chars=255, max_bytes=4000) == "short"


@pytest.mark.parametrize(
    ("show", "key"),
    [
        ({"feed": "tags/x"}, "podcasts[0].feed"),
        ({"feed": "tag/x", "explicit": "yes"}, "podcasts[0].explicit"),
        ({"feed": "tag/x", "type": "daily"}, "podcasts[0].type"),
        ({"feed": "tag/x", "guid": "nope"}, "podcasts[0].guid"),
        ({"feed": "tag/x", "locked": True}, "podcasts[0].locked"),
        ({"feed": "tag/x", "owner": {"email": "x"}}, "podcasts[0].owner.email"),
        ({"feed": "tag/x", "funding": [{"url": "ftp://x"}]}, "podcasts[0].funding[0].url"),
        ({"feed": "tag/x", "colour": "red"}, "podcasts[0].colour"),
    ],
)
def test_config_mistakes_name_key_and_file(site, show, key) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        site.config(podcasts=[show])
    assert err.value.key == key and err.value.file.endswith("config.yaml")


def test_config_mistake_exits_2(site, capsys) -> None:  # type: ignore[no-untyped-def]
    site.config()
    Path(site.config_path).write_text(
        site.config_path.read_text() + "podcasts: [{feed: 'tag/x', type: daily}]\n"
    )
    assert main(["check", "-c", str(site.config_path)]) == 2
    assert "podcasts[0].type" in capsys.readouterr().err


def test_no_shows_no_change(site) -> None:  # type: ignore[no-untyped-def]
    episode(site, 1)
    report = build_site(site.config(), NOW)
    assert not report.problems


def test_shows_need_rss(site) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        site.config(podcasts=[{"feed": "all"}], feed={"formats": ["atom"]})
    assert err.value.key == "podcasts"
