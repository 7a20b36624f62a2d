"""Front matter ``image``, ``enclosure(s)``, ``audio``, ``video`` → Post.picture/enclosures.

Through the public parse (:func:`parse_post`) and the parse cache's on-disk form."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.core.config import Config
from feedsmith.core.model import Enclosure, ParseOutcome, Picture, Post
from feedsmith.core.posts import parse_post
from feedsmith.pipeline import records

SITE = "https://blog.example.com"


def parse(config: Config, front: str, rel: str = "2025-01-02-p.md") -> ParseOutcome:
    text = "---\ndate: 2025-01-02\ntitle: T\n" + textwrap.dedent(front) + "---\n\nBody.\n"
    return parse_post(text.encode(), rel, f"posts/{rel}", config)


def post_of(config: Config, front: str) -> Post:
    outcome = parse(config, front)
    assert outcome.post is not None, outcome.problems
    return outcome.post


@pytest.fixture
def config(site) -> Config:  # type: ignore[no-untyped-def]
    (site.root / "media").mkdir()
    return site.config(media_dir="media", permalink="/:title.html")


def test_image_string_site_path_and_mapping(config: Config) -> None:
    assert post_of(config, "image: https://cdn.example.org/a.jpg\n").picture == Picture(
        url="https://cdn.example.org/a.jpg", mime_type="image/jpeg"
    )
    post = post_of(config, "image: /media/covers/a.png\n")
    assert post.image == f"{SITE}/media/covers/a.png"
    assert post.picture is not None and post.picture.local == "covers/a.png"
    post = post_of(
        config,
        """\
        image:
          path: /images/x.webp
          alt: A cat
          width: 640
          height: "480"
        """,
    )
    assert post.picture == Picture(
        url=f"{SITE}/images/x.webp", alt="A cat", width=640, height=480, mime_type="image/webp"
    )
    assert post.picture.line == 4


def test_enclosure_forms_become_absolute_in_order(config: Config) -> None:
    post = post_of(
        config,
        """\
        audio: episodes/ep 1.mp3
        video: /media/v.mp4
        enclosures:
          - url: https://cdn.example.org/book.pdf
            type: application/pdf
            length: 1234
            title: The book
          - https://cdn.example.org/talk.m4a
        """,
    )
    assert post.enclosures == (  # front-matter order: RSS carries the first
        Enclosure(url=f"{SITE}/media/episodes/ep%201.mp3", local="episodes/ep 1.mp3"),
        Enclosure(url=f"{SITE}/media/v.mp4", local="v.mp4"),
        Enclosure(
            url="https://cdn.example.org/book.pdf",
            mime_type="application/pdf",
            length=1234,
            title="The book",
        ),
        Enclosure(url="https://cdn.example.org/talk.m4a", mime_type="audio/mp4"),
    )
    assert "audio" not in post.extra and "enclosures" not in post.extra


def test_local_file_facts_are_not_taken_from_front_matter(config: Config) -> None:
    post = post_of(
        config, "enclosure: {path: a.mp3, length: 99, type: text/plain, duration: '1:02'}\n"
    )
    (enclosure,) = post.enclosures
    assert (enclosure.length, enclosure.mime_type, enclosure.duration) == (None, None, 62.0)


@pytest.mark.parametrize(
    ("front", "needle"),
    [
        ("enclosure: ../../etc/passwd\n", "outside media_dir"),
        ("enclosure: /media/%2e%2e/%2e%2e/x\n", "outside the site"),
        ("enclosure: javascript:alert(1)\n", "not an http(s) URL"),
        ("enclosure: {title: no url}\n", "no url or path"),
        ("enclosure: https://cdn.example.org/x.mp3\n", "no length"),
        ("enclosure: https://cdn.example.org/x\n", "no type"),
        ("enclosure: {url: https://c.example/x.mp3, length: -3}\n", "whole number"),
        ("audio: {url: https://c.example/x.mp3, length: 3, duration: soon}\n", "duration"),
        ("image: {alt: nothing}\n", "image: no path"),
    ],
)
def test_bad_media_is_a_warning_with_line_and_the_post_is_published(
    config: Config, front: str, needle: str
) -> None:
    outcome = parse(config, front)
    assert outcome.post is not None
    warnings = [p for p in outcome.problems if p.severity == "warning"]
    assert any(needle in p.reason for p in warnings), outcome.problems
    assert all(p.line == 4 and p.path == "posts/2025-01-02-p.md" for p in warnings)


def test_relative_enclosure_without_media_dir_is_a_warning(site) -> None:  # type: ignore[no-untyped-def]
    outcome = parse(site.config(), "audio: a.mp3\n")
    assert outcome.post is not None and outcome.post.enclosures == ()
    assert any("media_dir is not set" in p.reason for p in outcome.problems)


def test_hashes_move_with_media_and_not_without(config: Config) -> None:
    plain = post_of(config, "")
    remote_image = post_of(config, "image: https://cdn.example.org/a\n")
    with_audio = post_of(config, "audio: {url: https://c.example/a.mp3, length: 5}\n")
    longer = post_of(config, "audio: {url: https://c.example/a.mp3, length: 6}\n")
    assert len({plain.content_hash, remote_image.content_hash, with_audio.content_hash}) == 3
    assert with_audio.content_hash != longer.content_hash
    assert with_audio.id == longer.id == plain.id


def test_media_round_trips_through_the_record_form(config: Config, tmp_path: Path) -> None:
    post = post_of(
        config,
        "image: {path: /media/c.png, alt: x}\naudio: a.mp3\n"
        "video: {url: https://c.example/v.mp4, length: 5, duration: 3.5}\n",
    )
    data = records.packb(records.post_row(post))
    back = records.Reader().post(records.unpackb(data))
    assert back == post
    assert back.picture is not None and back.picture.line == post.picture.line  # type: ignore[union-attr]
    assert [e.line for e in back.enclosures] == [e.line for e in post.enclosures]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.text(max_size=40), st.integers(), st.lists(st.text(max_size=10))))
def test_any_media_value_never_breaks_the_post(config: Config, value: object) -> None:
    text = json.dumps(value)
    front = f"image: {text}\naudio: {text}\nenclosure: {text}\n"
    outcome = parse(config, front)
    assert outcome.post is not None or any(p.severity == "error" for p in outcome.problems)
    if outcome.post is not None:
        for e in outcome.post.enclosures:
            assert e.url.startswith(("http://", "https://"))
            assert e.local is None or not e.local.startswith(("/", "../"))
