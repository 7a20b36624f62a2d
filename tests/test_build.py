"""build_site: the whole pipeline against real files, with the clock passed in."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from lxml import etree

from feedsmith import pipeline as build_module
from feedsmith.core.render import jsonfeed
from feedsmith.pipeline import BuildError, SiteBuilder, build_site
from feedsmith.publish import output

T1 = datetime(2025, 12, 1, 9, 0, 0, 123456, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
T3 = datetime(2025, 12, 3, 9, 0, tzinfo=UTC)
EXTENSIONS = {"atom": ".atom.xml", "rss": ".rss.xml", "json": ".json"}

SEED = """\
---
layout: post
title: "生成AIインフラへの巨額投資を読み解く"
date: 2025-11-16 20:35:04 +0000
categories: ["投資分析"]
tags: ["AI", "最新ニュース", "技術動向", "Amazon", "投資"]
author: "テスト編集部"
excerpt: "データセンター投資の狙いを、テスト用の短い文章で考えます。"
reading_time: 3
---

巨額のインフラ投資が発表されました。**GPUクラスター**の確保が競争の鍵です。

<!--more-->

電力や冷却の課題も残ります。あなたはどう考えますか？
"""


def post(
    title: str, date: str, *, tags: list[str], category: str, body: str, extra: str = ""
) -> str:
    return (
        f"---\ntitle: {json.dumps(title)}\ndate: {date}\ncategories: [{category}]\n"
        f"tags: {json.dumps(tags, ensure_ascii=False)}\n{extra}---\n\n{body}\n"
    )


def write_two_posts(site: Any) -> None:
    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="Alpha body."),
        dedent=False,
    )
    site.write_post(
        "2025-10-02-beta.md",
        post("Beta", "2025-10-02", tags=["cooking"], category="Life", body="Beta body."),
        dedent=False,
    )


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def hashes(root: Path) -> dict[str, str]:
    return {rel: hashlib.sha256(data).hexdigest() for rel, (data, _) in snapshot(root).items()}


def manifest(site: Any) -> dict[str, Any]:
    return json.loads((site.output_dir / "index.json").read_text("utf-8"))


def json_feed(site: Any, rel: str) -> dict[str, Any]:
    return json.loads((site.output_dir / rel).read_text("utf-8"))


def item(site: Any, title: str, rel: str = "all.json") -> dict[str, Any]:
    return next(i for i in json_feed(site, rel)["items"] if i["title"] == title)


# -- rebuilds -----------------------------------------------------------------------------------


def test_rebuild_without_changes_writes_nothing(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    first = build_site(config, T1)
    assert first.feeds_written == 3 * (1 + 2 + 3) and first.feeds_unchanged == 0
    before = snapshot(site.output_dir)
    state_before = snapshot(config.state_dir)
    report = build_site(config, T2)
    assert snapshot(site.output_dir) == before  # bytes and mtimes, every file
    assert snapshot(config.state_dir) == state_before
    assert report.files_written == () and report.files_removed == ()
    assert (report.feeds_written, report.feeds_unchanged, report.feeds_removed) == (0, 18, 0)


def test_touching_a_post_changes_nothing(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    before = snapshot(site.output_dir)
    os.utime(site.posts_dir / "2025-10-01-alpha.md", (2e9, 2e9))
    build_site(config, T2)
    assert snapshot(site.output_dir) == before


def test_edit_changes_only_the_feeds_that_contain_the_post(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    before = hashes(site.output_dir)
    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="Edited."),
        dedent=False,
    )
    report = build_site(config, T2)
    after = hashes(site.output_dir)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    expected_feeds = {
        f"{base}{ext}"
        for base in ("all", "categories/tech", "tags/python", "tags/web")
        for ext in (".atom.xml", ".rss.xml", ".json")
    }
    # index.opml may change too (its dateModified follows the newest entry): not a feed.
    changed_feeds = {rel for rel in changed if not rel.startswith("index.")}
    # Each of those feeds' pages shows the post's summary, so they change with it.
    pages = {f"{base}.html" for base in ("all", "categories/tech", "tags/python", "tags/web")}
    expected = expected_feeds | pages
    assert changed_feeds == expected | {f + ".gz" for f in expected}
    assert "index.json" in changed
    assert report.feeds_written == 12 and report.feeds_unchanged == 6
    files = {rel: info for f in manifest(site)["feeds"] for rel, info in f["files"].items()}
    assert files["tags/python.json"]["changed"] == "2025-12-02T09:00:00Z"
    assert files["tags/cooking.json"]["changed"] == "2025-12-01T09:00:00Z"


def test_ids_stable_and_updated_moves_only_on_text_edits(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    first = item(site, "Alpha")
    assert first["date_modified"] == first["date_published"] == "2025-10-01T00:00:00Z"

    os.utime(site.posts_dir / "2025-10-01-alpha.md", (2e9, 2e9))
    build_site(config, T2)
    assert item(site, "Alpha") == first

    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="New text."),
        dedent=False,
    )
    build_site(config, T2)
    edited = item(site, "Alpha")
    assert edited["id"] == first["id"]
    assert edited["date_published"] == first["date_published"]
    assert edited["date_modified"] == "2025-12-02T09:00:00Z"
    atom = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())
    entry = next(e for e in atom.entries if e.title == "Alpha")
    assert entry.id == first["id"] and entry.updated == "2025-12-02T09:00:00Z"

    build_site(config, T3)  # plain rebuild: nothing moves
    assert item(site, "Alpha") == edited
    assert item(site, "Beta")["date_modified"] == "2025-10-02T00:00:00Z"


def test_moving_the_site_to_https_changes_links_but_not_updated(site: Any) -> None:
    site.settings["site"] = {**site.settings["site"], "url": "http://blog.example.com"}
    write_two_posts(site)
    build_site(site.config(), T1)
    before = {i["id"]: i for i in json_feed(site, "all.json")["items"]}
    atom_before = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())

    site.settings["site"] = {**site.settings["site"], "url": "https://blog.example.com"}
    build_site(site.config(), T2)
    after = {i["id"]: i for i in json_feed(site, "all.json")["items"]}
    assert after.keys() == before.keys()
    for entry_id, entry in after.items():
        assert entry["url"] == before[entry_id]["url"].replace("http://", "https://", 1)
        assert entry["date_modified"] == before[entry_id]["date_modified"]
    atom_after = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())
    assert atom_after.feed.updated == atom_before.feed.updated
    assert [e.updated for e in atom_after.entries] == [e.updated for e in atom_before.entries]

    site.write_post(  # an edit after the move still moves `updated`
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="New."),
        dedent=False,
    )
    build_site(site.config(), T3)
    assert item(site, "Alpha")["date_modified"] == "2025-12-03T09:00:00Z"
    assert item(site, "Beta")["date_modified"] == "2025-10-02T00:00:00Z"


def test_a_state_from_before_change_hashes_keeps_every_updated(site: Any) -> None:
    """States written by earlier versions hold content hashes; upgrading must not re-date."""
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="Edited."),
        dedent=False,
    )
    build_site(config, T2)
    state_path = config.state_dir / "state.json"
    state = json.loads(state_path.read_text("utf-8"))
    from feedsmith.pipeline.scan import scan_posts

    legacy = {p.id: p.content_hash for p in scan_posts(config, T2).posts}
    for entry_id, entry in state["entries"].items():
        entry["hash"] = legacy[entry_id]  # what 0.1 stored
    state_path.write_text(json.dumps(state), "utf-8")
    (config.state_dir / "last-build.json").unlink(missing_ok=True)
    build_site(config, T3)
    assert item(site, "Alpha")["date_modified"] == "2025-12-02T09:00:00Z"
    assert item(site, "Beta")["date_modified"] == "2025-10-02T00:00:00Z"


def test_removed_tag_is_deleted_and_recorded_as_gone(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python"], category="Tech", body="Alpha body."),
        dedent=False,
    )
    report = build_site(config, T2)
    assert report.feeds_removed == 3
    for ext in (".atom.xml", ".rss.xml", ".json"):
        assert not (site.output_dir / f"tags/web{ext}").exists()
        assert not (site.output_dir / f"tags/web{ext}.gz").exists()
    data = manifest(site)
    assert data["gone"] == {
        f"tags/web{ext}": "2025-12-02T09:00:00Z"
        for ext in (".atom.xml", ".rss.xml", ".json", ".html")
    }
    assert "web" not in {f["slug"] for f in data["feeds"] if f["kind"] == "tag"}
    assert b"tags/web" not in (site.output_dir / "index.opml").read_bytes()


# -- failures -----------------------------------------------------------------------------------


def test_vanished_posts_dir_fails_the_build_and_keeps_the_last_feeds(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    before = snapshot(site.output_dir)
    site.posts_dir.rename(site.posts_dir.with_name("moved-away"))
    with pytest.raises(BuildError) as info:
        build_site(config, T2)
    assert info.value.stage == "scan"
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert snapshot(site.output_dir) == before  # no empty feeds, no 410s


def test_exception_while_rendering_leaves_old_output_untouched(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    before = snapshot(site.output_dir)
    state_before = snapshot(config.state_dir)
    site.write_post(
        "2025-10-03-gamma.md",
        post("Gamma", "2025-10-03", tags=["new"], category="Tech", body="Gamma."),
        dedent=False,
    )
    real = jsonfeed._json_document  # what render_group writes JSON Feed documents with
    calls = {"n": 0}

    def flaky(*args: Any) -> bytes:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("renderer exploded")
        return real(*args)

    monkeypatch.setattr(jsonfeed, "_json_document", flaky)
    with pytest.raises(BuildError, match=r"render.*renderer exploded") as info:
        build_site(config, T2)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert snapshot(site.output_dir) == before
    assert snapshot(config.state_dir) == state_before


def test_exception_while_writing_leaves_old_output_untouched(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    before = snapshot(site.output_dir)
    site.write_post(
        "2025-10-01-alpha.md",
        post("Alpha", "2025-10-01", tags=["python", "web"], category="Tech", body="Edited."),
        dedent=False,
    )
    real = output.write_temp
    calls = {"n": 0}

    def flaky(final: str, data: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError(28, "No space left on device")
        return real(final, data)

    monkeypatch.setattr(output, "write_temp", flaky)
    with pytest.raises(BuildError, match="publish"):
        build_site(config, T2)
    assert snapshot(site.output_dir) == before
    monkeypatch.undo()
    assert build_site(config, T2).feeds_written == 12  # recovers on the next build


# -- what is published --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change", ["draft: true\n", "published: false\n", "future"], ids=["draft", "unpub", "future"]
)
def test_excluded_post_vanishes_from_every_file(site: Any, change: str) -> None:
    write_two_posts(site)
    secret = post("Secret Plan", "2025-10-05", tags=["secret"], category="Hidden", body="Shh.")
    site.write_post("2025-10-05-secret.md", secret, dedent=False)
    config = site.config()
    build_site(config, T1)
    assert (site.output_dir / "tags/secret.json").exists()
    if change == "future":
        secret = post("Secret Plan", "2030-01-01", tags=["secret"], category="Hidden", body="Shh.")
    else:
        secret = post(
            "Secret Plan",
            "2025-10-05",
            tags=["secret"],
            category="Hidden",
            body="Shh.",
            extra=change,
        )
    site.write_post("2025-10-05-secret.md", secret, dedent=False)
    report = build_site(config, T2)
    assert report.posts == 2 and report.excluded == 1
    if change == "future":
        assert report.next_publish == datetime(2030, 1, 1, tzinfo=UTC)
    for rel, (data, _) in snapshot(site.output_dir).items():
        if rel.endswith(".gz"):
            data = gzip.decompress(data)
        assert b"Secret Plan" not in data, rel
        if rel != "index.json":  # the manifest records them under "gone"
            assert b"secret" not in data.lower(), rel
    data = manifest(site)
    assert {f["slug"] for f in data["feeds"]} == {"all", "tech", "life", "python", "web", "cooking"}
    assert "tags/secret.json" in data["gone"] and "categories/hidden.atom.xml" in data["gone"]


def test_seed_shaped_post_appears_in_all_its_feeds(site: Any) -> None:
    write_two_posts(site)
    site.write_post("2025-11-16-anthropic-investment.md", SEED, dedent=False)
    config = site.config()
    report = build_site(config, T1)
    assert report.posts == 3 and report.skipped == 0
    data = manifest(site)
    by_name = {(f["kind"], f["name"]): f for f in data["feeds"]}
    seed_id = item(site, "生成AIインフラへの巨額投資を読み解く")["id"]
    targets = [("all", "all"), ("category", "投資分析")] + [
        ("tag", name) for name in ["AI", "最新ニュース", "技術動向", "Amazon", "投資"]
    ]
    for key in targets:
        feed = by_name[key]
        for rel in feed["files"]:
            raw = (site.output_dir / rel).read_bytes()
            if rel.endswith(".json"):
                assert seed_id in [i["id"] for i in json.loads(raw)["items"]], rel
            else:
                parsed = feedparser.parse(raw)
                assert seed_id in [e.id for e in parsed.entries], rel
    assert (site.output_dir / "tags" / "最新ニュース.atom.xml").exists()
    assert by_name[("tag", "最新ニュース")]["urls"]["atom"] == (
        "/feeds/tags/%E6%9C%80%E6%96%B0%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9.atom.xml"
    )
    opml = (site.output_dir / "index.opml").read_text("utf-8")
    assert "最新ニュース" in opml


def test_every_published_file_is_valid(site: Any) -> None:
    write_two_posts(site)
    site.write_post("2025-11-16-anthropic-investment.md", SEED, dedent=False)
    build_site(site.config(), T1)
    files = snapshot(site.output_dir)
    assert files
    for rel, (data, _) in files.items():
        if rel.endswith(".gz"):
            assert gzip.decompress(data) == files[rel[:-3]][0], rel
        elif rel.endswith((".atom.xml", ".rss.xml")):
            parsed = feedparser.parse(data)
            assert parsed.bozo == 0, (rel, parsed.get("bozo_exception"))
            etree.fromstring(data)
        elif rel.endswith(".opml"):
            etree.fromstring(data)
        elif rel.endswith((".html", ".css", ".js")):
            assert data.startswith((b"<!doctype html>", b"/*", b"//")), rel  # test_pages.py
        elif rel == "ids.json":  # the id map (feedsmith.core.identity), not a feed
            assert json.loads(data)["version"] == 1
        elif rel != "index.json":
            feed = json.loads(data)
            assert feed["version"] == "https://jsonfeed.org/version/1.1"
            assert feed["title"] and isinstance(feed["items"], list)
    published = {rel for rel in files if not rel.endswith(".gz")}
    sidecars = {rel[:-3] for rel in files if rel.endswith(".gz")}
    assert sidecars == published - {"index.json"}


def test_manifest_structure(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    build_site(config, T1)
    data = manifest(site)
    assert set(data) == {"generated", "feeds", "files", "gone"}
    assert data["generated"] == "2025-12-01T09:00:00Z"  # whole seconds, UTC
    assert [(f["kind"], f["slug"]) for f in data["feeds"]] == [
        ("all", "all"),
        ("category", "life"),
        ("category", "tech"),
        ("tag", "cooking"),
        ("tag", "python"),
        ("tag", "web"),
    ]
    for feed in data["feeds"]:
        assert set(feed) == {"kind", "name", "slug", "entries", "updated", "urls", "files", "page"}
        assert feed["page"] == feed["urls"]["atom"].removesuffix(".atom.xml") + ".html"
        assert feed["page"].removeprefix("/feeds/") in data["files"]
        assert set(feed["urls"]) == {"atom", "rss", "json"}
        for fmt, url in feed["urls"].items():
            rel = url.removeprefix("/feeds/")
            assert rel in feed["files"] and rel.endswith(EXTENSIONS[fmt])
        for rel, info in feed["files"].items():
            raw = (site.output_dir / rel).read_bytes()
            assert info == {
                "sha256": hashlib.sha256(raw).hexdigest(),
                "bytes": len(raw),
                "changed": "2025-12-01T09:00:00Z",
            }
    alls = data["feeds"][0]
    assert alls["entries"] == 2 and alls["updated"] == "2025-10-02T00:00:00Z"
    assert "index.opml" in data["files"]


def test_formats_and_max_entries_follow_the_config(site: Any) -> None:
    write_two_posts(site)
    config = site.config(feed={"formats": ["atom"], "max_entries": 1})
    build_site(config, T1)
    data = manifest(site)
    assert all(list(f["urls"]) == ["atom"] for f in data["feeds"])
    assert data["feeds"][0]["entries"] == 1
    names = {p.name for p in site.output_dir.rglob("*.json*")}
    assert names == {"index.json", "ids.json", "ids.json.gz"}  # no JSON Feed


def test_invalid_posts_are_skipped_and_reported(site: Any) -> None:
    write_two_posts(site)
    site.write_post("broken.md", "---\ntitle: [unclosed\n---\nbody\n", dedent=False)
    calls: list[tuple[int, int]] = []
    report = build_site(site.config(), T1, progress=lambda d, t: calls.append((d, t)))
    assert report.posts == 2 and report.skipped == 1
    assert any(p.severity == "error" and "broken.md" in p.path for p in report.problems)
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)
    assert report.summary().startswith(
        "2 posts, 18 feeds written, 0 unchanged, 0 removed, 1 problems"
    )


def test_site_builder_is_reusable_and_creates_the_state_dir(site: Any) -> None:
    write_two_posts(site)
    config = site.config()
    builder = SiteBuilder(config)
    assert not config.state_dir.exists()
    builder.build(T1)
    assert (config.state_dir / "state.json").is_file()
    assert builder.build(T2).feeds_written == 0


def test_empty_site_still_publishes_the_site_feed(site: Any) -> None:
    report = build_site(site.config(), T1)
    assert report.posts == 0
    assert feedparser.parse((site.output_dir / "all.atom.xml").read_bytes()).bozo == 0


def test_state_save_failure_is_reported_as_published(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsmith.pipeline import site as site_stage

    write_two_posts(site)

    def fail(path: Path, state: Any) -> bool:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(site_stage, "save_state", fail)
    with pytest.raises(BuildError) as info:
        build_site(site.config(), T1)
    assert info.value.stage == "save state" and info.value.published
    assert (site.output_dir / "all.atom.xml").is_file()
    monkeypatch.undo()
    # The next build verifies against the disk and rewrites nothing.
    assert build_site(site.config(), T2).feeds_written == 0


def test_build_pauses_the_garbage_collector_only_while_it_runs(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from feedsmith.core import groups

    write_two_posts(site)
    seen: list[bool] = []
    real = groups.group_posts

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module.site, "group_posts", spying)
    assert gc.isenabled()
    build_site(site.config(), T1)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        text = post("More", "2025-10-05", tags=["x"], category="Tech", body="More.")
        site.write_post("2025-10-05-more.md", text, dedent=False)
        build_site(site.config(), T2)
        assert not gc.isenabled()  # a caller's choice is left as it was
    finally:
        gc.enable()
