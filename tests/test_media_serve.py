"""``/media/`` through the WSGI app (fast): hostile request paths and Range headers (hypothesis),
and media_dir's listing in the manifest (sha256 cached, never copied)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.pipeline import SiteBuilder, media_tree, quick
from feedsmith.pipeline.media_tree import CACHE_FILE, list_media
from feedsmith.pipeline.report import BuildError
from feedsmith.serve.app import create_app
from feedsmith.serve.media import parse_range
from feedsmith.serve.stores import FeedStore

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
SECRET = b"secret outside media_dir"


@pytest.fixture
def client(site: Any, tmp_path: Path) -> Any:
    media = site.root / "media"
    media.mkdir()
    (media / "a.mp3").write_bytes(b"A" * 1000)
    (site.root / "secret.txt").write_bytes(SECRET)
    os.symlink(site.root / "secret.txt", media / "out.mp3")
    site.settings["media_dir"] = "media"
    config = site.config()
    return create_app(config, FeedStore.for_config(config)).test_client()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(
            ["..", ".", "", "a.mp3", "out.mp3", "%2e", "%2f", "%5c", "\\", "%00", "secret.txt"]
        ),
        max_size=6,
    )
)
def test_no_request_path_reaches_a_byte_outside_media_dir(client: Any, parts: list[str]) -> None:
    response = client.get("/media/" + "/".join(parts))
    assert SECRET not in response.data
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.data == b"A" * 1000


@given(st.text(max_size=40), st.integers(min_value=0, max_value=10_000))
def test_a_parsed_range_always_lies_inside_the_file(header: str, size: int) -> None:
    spans = parse_range(header, size)
    for start, end in spans or []:
        assert 0 <= start < end <= size


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("bytes=0-99", [(0, 100)]),
        ("bytes=-10", [(990, 1000)]),
        ("bytes=100-", [(100, 1000)]),
        ("BYTES = 0-0", [(0, 1)]),
        ("bytes=0-1,5-", [(0, 2), (5, 1000)]),
        ("bytes=1000-", []),
        ("bytes=-0", []),
        ("bytes=5-1", None),
        ("items=0-1", None),
        ("bytes=", None),
        ("bytes=x", None),
    ],
)
def test_range_headers_as_rfc_9110_reads_them(header: str, want: Any) -> None:
    assert parse_range(header, 1000) == want


def test_media_are_listed_in_the_manifest_hashed_once_and_never_copied(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    media = site.root / "media"
    (media / "ep").mkdir(parents=True)
    (media / "ep" / "1.m4a").write_bytes(b"m4a bytes")
    (media / ".DS_Store").write_bytes(b"x")
    (site.root / "outside.mp3").write_bytes(SECRET)
    os.symlink(site.root / "outside.mp3", media / "link.mp3")
    site.settings["media_dir"] = "media"
    site.write_post("2025-11-01-a.md", "---\ntitle: A\ndate: 2025-11-01\n---\nbody\n")
    site.config()
    assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 0
    manifest = json.loads((site.output_dir / "index.json").read_bytes())
    assert list(manifest["media"]) == ["ep/1.m4a"]
    record = manifest["media"]["ep/1.m4a"]
    assert record["type"] == "audio/mp4" and record["bytes"] == 9
    assert not (site.output_dir / "media").exists()
    before = (site.output_dir / "index.json").read_bytes()

    # Unchanged stat: not read again (a file that cannot be opened would be skipped).
    def no_hashing(path: str) -> str:
        raise AssertionError(f"{path} hashed again")

    monkeypatch.setattr(media_tree, "_sha256", no_hashing)
    state = site.root / ".feedsmith"
    assert list(list_media(media, state, T1)) == ["ep/1.m4a"]
    assert json.loads((state / CACHE_FILE).read_bytes())["ep/1.m4a"]["bytes"] == 9
    monkeypatch.undo()
    assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 0
    assert (site.output_dir / "index.json").read_bytes() == before  # same input, same bytes


def test_a_site_without_media_dir_has_no_media_section(site: Any) -> None:
    site.write_post("2025-11-01-a.md", "---\ntitle: A\ndate: 2025-11-01\n---\nbody\n")
    site.config()
    assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 0
    assert "media" not in json.loads((site.output_dir / "index.json").read_bytes())


def test_an_unreadable_media_dir_fails_the_build_and_keeps_the_published_media(
    site: Any,
) -> None:
    """An unmounted disk is not "every recording deleted": the bucket would delete them all."""
    media = site.root / "media"
    media.mkdir()
    (media / "a.mp3").write_bytes(b"A")
    site.settings["media_dir"] = "media"
    site.write_post("2025-11-01-a.md", "---\ntitle: A\ndate: 2025-11-01\n---\nbody\n")
    config = site.config()
    assert not SiteBuilder(config, watch=False).build(T1).problems
    before = (site.output_dir / "index.json").read_bytes()
    media.rename(site.root / "unmounted")
    with pytest.raises(BuildError):
        SiteBuilder(config, watch=False).build(T1)
    site.write_post("2025-11-02-b.md", "---\ntitle: B\ndate: 2025-11-02\n---\nbody\n")
    with pytest.raises(BuildError):
        SiteBuilder(config, watch=False).build(T1)
    assert (site.output_dir / "index.json").read_bytes() == before


def test_a_new_media_file_reaches_the_manifest_even_when_no_post_changed(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``feedsmith build``'s nothing-changed answer (given before the pipeline is imported)
    looks at media_dir too: a file added alone is published in the manifest at once."""
    media = site.root / "media"
    media.mkdir()
    (media / "one.mp3").write_bytes(b"first")
    site.settings["media_dir"] = "media"
    post = site.write_post("2025-11-01-a.md", "---\ntitle: A\ndate: 2025-11-01\n---\nbody\n")
    os.utime(post, (1_600_000_000, 1_600_000_000))  # not "racy": the quick answer may trust it
    site.config()
    build = ["-c", str(site.config_path), "build", "--no-progress"]
    assert main(build) == 0
    answered: list[quick.Asked] = []
    real = quick.ask
    monkeypatch.setattr(quick, "ask", lambda *a: answered.append(real(*a)) or answered[-1])
    assert main(build) == 0
    assert answered and answered[-1].report is not None  # nothing changed: the quick answer
    (media / "two.pdf").write_bytes(b"%PDF-1.4 second")
    assert main(build) == 0
    manifest = json.loads((site.output_dir / "index.json").read_bytes())
    assert list(manifest["media"]) == ["one.mp3", "two.pdf"]
    (media / "one.mp3").unlink()
    assert main(build) == 0
    assert list(json.loads((site.output_dir / "index.json").read_bytes())["media"]) == ["two.pdf"]
