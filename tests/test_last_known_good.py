"""A post that was valid once keeps its last valid version published while its file is broken."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feedsmith.cli import main
from feedsmith.pipeline import build_site
from feedsmith.pipeline.kept import KEPT_FILE

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
T3 = datetime(2025, 12, 3, 9, 0, tzinfo=UTC)
REL = "2025-10-01-alpha.md"


def post(title: str, tags: str = "[python, only-alpha]", extra: str = "") -> str:
    return (
        f"---\ntitle: {json.dumps(title)}\ndate: 2025-10-01\ncategories: [Tech]\n"
        f"tags: {tags}\n{extra}---\n\n{title} body.\n"
    )


def write_site(site: Any) -> None:
    site.write_post(REL, post("Alpha"), dedent=False)
    site.write_post(
        "2025-10-02-beta.md",
        "---\ntitle: Beta\ndate: 2025-10-02\ntags: [python]\n---\n\nBeta body.\n",
        dedent=False,
    )


def titles(site: Any, rel: str) -> list[str]:
    return [e.title for e in feedparser.parse((site.output_dir / rel).read_bytes()).entries]


def gone(site: Any) -> set[str]:
    manifest = json.loads((site.output_dir / "index.json").read_text("utf-8"))
    return {g if isinstance(g, str) else g["path"] for g in manifest.get("gone", [])}


def kept_warning(report: Any) -> Any:
    found = [p for p in report.problems if "still publishing its last valid version" in p.reason]
    assert len(found) == 1, report.problems
    return found[0]


@pytest.mark.parametrize(
    "broken",
    [
        b"",  # truncated to nothing (caught between truncate and write)
        b"---\ntitle: Alpha\ndate: 2025-10",  # cut off half-way through the front matter
        b"---\ntitle: [unclosed\n---\nbody\n",  # invalid front matter
        b"---\ntitle: x\n---\n\xff\xfe\x00\x00 bytes",  # undecodable
    ],
)
def test_a_broken_save_keeps_the_last_valid_version_in_every_feed(site: Any, broken: bytes) -> None:
    write_site(site)
    config = site.config()
    build_site(config, T1)
    before = {
        rel: (site.output_dir / rel).read_bytes()
        for rel in ("all.atom.xml", "tags/only-alpha.json")
    }

    (site.posts_dir / REL).write_bytes(broken)
    report = build_site(config, T2)  # a new builder, as a fresh `feedsmith build` has
    assert report.skipped == 0 and report.posts == 2
    warning = kept_warning(report)
    assert warning.severity == "warning" and warning.path.endswith(REL)
    assert "saved " in warning.reason and "UTC" in warning.reason
    for rel, data in before.items():
        assert (site.output_dir / rel).read_bytes() == data  # not even re-rendered
    assert not gone(site)


def test_the_kept_version_survives_a_lost_parse_cache(site: Any) -> None:
    write_site(site)
    config = site.config()
    build_site(config, T1)
    (site.posts_dir / REL).write_bytes(b"")
    build_site(config, T2)
    for cache in config.state_dir.glob("*cache*"):
        cache.unlink()
    (config.state_dir / "last-build.json").unlink(missing_ok=True)
    report = build_site(config, T3)
    kept_warning(report)
    assert "Alpha" in titles(site, "tags/only-alpha.atom.xml")


def test_fixing_publishes_the_new_version_and_deleting_removes_it(site: Any) -> None:
    write_site(site)
    config = site.config()
    build_site(config, T1)
    (site.posts_dir / REL).write_text("---\ntitle: [\n---\n", "utf-8")
    build_site(config, T2)
    assert titles(site, "all.atom.xml") == ["Beta", "Alpha"]

    (site.posts_dir / REL).write_text(post("Alpha fixed"), "utf-8")
    report = build_site(config, T2)
    assert not report.problems
    assert titles(site, "tags/only-alpha.atom.xml") == ["Alpha fixed"]

    (site.posts_dir / REL).write_text("", "utf-8")
    build_site(config, T3)
    assert titles(site, "tags/only-alpha.atom.xml") == ["Alpha fixed"]  # the fixed one is kept

    (site.posts_dir / REL).unlink()
    report = build_site(config, T3)
    assert not report.problems
    assert titles(site, "all.atom.xml") == ["Beta"]
    assert "tags/only-alpha.atom.xml" in gone(site)
    assert not (config.state_dir / KEPT_FILE).exists()


@pytest.mark.parametrize(
    "change",
    [
        post("Alpha", extra="published: false\n"),
        post("Alpha", extra="draft: true\n"),
        post("Alpha", tags="[python]"),  # the tag removed from a valid post
    ],
)
def test_a_deliberate_removal_still_removes_the_feed(site: Any, change: str) -> None:
    write_site(site)
    config = site.config()
    build_site(config, T1)
    (site.posts_dir / REL).write_text("", "utf-8")
    build_site(config, T2)  # broken first: the kept version must not outlive the decision
    (site.posts_dir / REL).write_text(change, "utf-8")
    build_site(config, T3)
    assert "tags/only-alpha.atom.xml" in gone(site)
    assert not (site.output_dir / "tags/only-alpha.atom.xml").exists()


def test_a_post_that_was_never_valid_is_skipped_as_before(site: Any) -> None:
    write_site(site)
    site.write_post("2025-10-03-never.md", "---\ntitle: [\n---\n", dedent=False)
    report = build_site(site.config(), T1)
    assert report.skipped == 1
    assert [p.severity for p in report.problems] == ["error"]


def test_a_file_grown_too_large_keeps_its_last_valid_version(site: Any) -> None:
    write_site(site)
    config = site.config(max_post_bytes=1000)
    build_site(config, T1)
    (site.posts_dir / REL).write_text(post("Alpha") + "x" * 5000, "utf-8")
    report = build_site(config, T2)
    assert "larger than max_post_bytes" in kept_warning(report).reason


def test_check_and_build_report_the_kept_version_as_a_warning(
    site: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_site(site)
    config = site.config()
    monkeypatch.chdir(site.root)
    assert main(["-c", str(config.path), "build"]) == 0
    (site.posts_dir / REL).write_bytes(b"")
    capsys.readouterr()
    assert main(["-c", str(config.path), "check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"posts/{REL}:1: warning: empty file; still publishing")
    assert out[-1] == "2 posts, 0 skipped, 1 problems"
    assert main(["-c", str(config.path), "build"]) == 0
    assert "warning: empty file; still publishing" in capsys.readouterr().err


def test_kept_file_that_is_not_ours_is_ignored(site: Any) -> None:
    write_site(site)
    config = site.config()
    build_site(config, T1)
    Path(config.state_dir / KEPT_FILE).write_bytes(b"garbage")
    (site.posts_dir / REL).write_bytes(b"")
    report = build_site(config, T2)
    kept_warning(report)  # the parse cache still held the valid version


def test_healthz_and_the_index_page_name_the_kept_post(site: Any) -> None:
    from feedsmith.serve.app import create_app
    from feedsmith.serve.schedule import BuildService
    from feedsmith.serve.stores import FeedStore

    write_site(site)
    config = site.config()
    service = BuildService(config)
    service.build_now("startup")
    (site.posts_dir / REL).write_bytes(b"")
    service.build_now("interval")
    client = create_app(config, FeedStore.for_config(config)).test_client()
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert len(health["kept"]) == 1 and REL in health["kept"][0]
    assert "broken, still publishing its last valid version" in health["kept"][0]
    assert str(site.root) not in json.dumps(health)  # no path outside posts_dir, ever
    page = client.get("/").get_data(as_text=True)
    assert "still published from their last valid version" in page and REL in page
    assert str(site.root) not in page
