"""The service's change oracle: inotify suspects instead of a stat of every file, and a full
scan whenever the events cannot be trusted to be complete."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.pipeline import SiteBuilder, watch
from feedsmith.pipeline import listing as listing_stage
from feedsmith.pipeline import site as site_stage
from feedsmith.pipeline.watch import Watcher, filesystem_type
from test_incremental import NOW, OLD_MTIME, files_of, post_text, small_site, write

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or Watcher.open() is None, reason="needs inotify"
)


def is_md(name: str) -> bool:
    return name.endswith(".md")


@pytest.fixture
def watcher() -> Any:
    found = Watcher.open()
    assert found is not None
    yield found
    found.close()


def test_watcher_reports_writes_touches_renames_and_deletes_as_suspects(
    tmp_path: Path, watcher: Watcher
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("a.md", "b.md", "c.md", "sub/d.md"):
        (tmp_path / name).write_text("x")
    assert watcher.arm("posts", str(tmp_path), is_md)
    assert watcher.take("posts") == set()
    (tmp_path / "a.md").write_text("changed")
    os.utime(tmp_path / "b.md", ns=(OLD_MTIME, OLD_MTIME))
    (tmp_path / "c.md").rename(tmp_path / "e.md")
    (tmp_path / "sub/d.md").unlink()
    (tmp_path / "notes.txt").write_text("not a post")
    (tmp_path / ".hidden.md").write_text("hidden")
    assert watcher.take("posts") == {"a.md", "b.md", "c.md", "e.md", "sub/d.md"}
    assert watcher.take("posts") == set()  # each event is reported once


def test_a_new_or_removed_folder_makes_the_tree_unknown_until_armed_again(
    tmp_path: Path, watcher: Watcher
) -> None:
    assert watcher.arm("posts", str(tmp_path), is_md)
    (tmp_path / "2026").mkdir()
    (tmp_path / "2026/x.md").write_text("x")  # not watched yet: that's why it is unknown
    assert watcher.take("posts") is None
    assert watcher.take("posts") is None
    assert watcher.arm("posts", str(tmp_path), is_md)
    (tmp_path / "2026/x.md").write_text("y")
    assert watcher.take("posts") == {"2026/x.md"}
    (tmp_path / "2026/x.md").unlink()
    (tmp_path / "2026").rmdir()
    assert watcher.take("posts") is None


def test_queue_overflow_and_a_vanished_root_make_every_tree_unknown(
    tmp_path: Path, watcher: Watcher
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert watcher.arm("one", str(tmp_path / "a"), is_md)
    assert watcher.arm("two", str(tmp_path / "b"), is_md)
    watcher._event(-1, watch.IN_Q_OVERFLOW, "")  # what the kernel sends when it drops events
    assert watcher.take("one") is None and watcher.take("two") is None
    assert watcher.arm("one", str(tmp_path / "a"), is_md)
    os.rmdir(tmp_path / "a")
    assert watcher.take("one") is None


def test_a_symlinked_root_is_watched_through_to_its_folder(
    tmp_path: Path, watcher: Watcher
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert watcher.arm("posts", str(tmp_path / "link"), is_md)
    (real / "a.md").write_text("x")
    assert watcher.take("posts") == {"a.md"}


def test_a_folder_in_two_trees_reports_to_both(tmp_path: Path, watcher: Watcher) -> None:
    (tmp_path / "feeds").mkdir()
    assert watcher.arm("posts", str(tmp_path), lambda name: True)
    assert watcher.arm("output", str(tmp_path / "feeds"), lambda name: True)
    (tmp_path / "feeds/all.atom.xml").write_text("x")
    assert watcher.take("output") == {"all.atom.xml"}
    assert watcher.take("posts") == {"feeds/all.atom.xml"}
    assert watcher.arm("posts", str(tmp_path), lambda name: True)  # re-arming one tree...
    (tmp_path / "feeds/all.rss.xml").write_text("x")
    assert watcher.take("output") == {"all.rss.xml"}  # ...leaves the other's watch alone


def test_only_local_file_systems_are_watched(
    tmp_path: Path, watcher: Watcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert filesystem_type(str(tmp_path)) in watch.LOCAL_FILESYSTEMS
    monkeypatch.setattr(watch, "filesystem_type", lambda path: "nfs4")
    assert not watcher.arm("posts", str(tmp_path), is_md)
    (tmp_path / "a.md").write_text("x")
    assert watcher.take("posts") is None


def test_mountinfo_escapes_are_decoded() -> None:
    assert watch._unescape(r"/mnt/my\040blog") == "/mnt/my blog"
    assert watch._unescape("/plain") == "/plain"


# -- the builder with a watcher ------------------------------------------------------------------


def test_service_edit_looks_at_the_edited_file_only(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    assert builder.watching

    def no_stat_pass(*args: Any) -> Any:
        raise AssertionError("stat of every post while watching")

    monkeypatch.setattr(site_stage, "quick_keys", no_stat_pass)
    monkeypatch.setattr(listing_stage, "quick_keys", no_stat_pass)
    monkeypatch.setattr(listing_stage, "find_sources", no_stat_pass)
    path = site.posts_dir / "2025-12-01-p0.md"
    text = post_text("Edited", 1, tags=["ai"], categories=["Tech"], body="New body.")
    write(path, text, OLD_MTIME + 100)
    report = builder.build(NOW + timedelta(minutes=5))
    assert builder.last_parsed == 1 and report.feeds_written > 0
    assert b"Edited" in (site.output_dir / "all.atom.xml").read_bytes()
    # A post added in a new folder: the watcher cannot vouch for it, so a full scan runs.
    monkeypatch.undo()
    write(site.posts_dir / "2026/2025-12-09-new.md", post_text("New", 9, **NO_NAMES), OLD_MTIME)
    builder.build(NOW + timedelta(minutes=10))
    assert b"New" in (site.output_dir / "all.atom.xml").read_bytes()


NO_NAMES: dict[str, Any] = {"tags": [], "categories": [], "body": "b"}


def test_service_repairs_a_damaged_feed_when_no_post_changed(site: Any) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    expected = files_of(site.output_dir)
    first = builder.build(NOW + timedelta(minutes=1))  # the fast path: nothing to do
    assert first.files_written == ()
    (site.output_dir / "all.rss.xml").write_bytes(b"oops")
    (site.output_dir / "tags/python.atom.xml.gz").unlink()
    report = builder.build(NOW + timedelta(minutes=2))
    assert set(report.files_written) >= {"all.rss.xml", "tags/python.atom.xml.gz"}
    assert files_of(site.output_dir) == {
        **expected,
        "index.json": files_of(site.output_dir)["index.json"],
    }
    again = builder.build(NOW + timedelta(minutes=3))
    assert again.files_written == ()


def test_without_inotify_the_service_scans_as_before(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch.Watcher, "open", classmethod(lambda cls: None))
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    assert not builder.watching
    write(
        site.posts_dir / "2025-12-01-p0.md",
        post_text("Edited", 1, tags=[], categories=[], body="x"),
        OLD_MTIME + 100,
    )
    builder.build(NOW + timedelta(minutes=5))
    assert b"Edited" in (site.output_dir / "all.atom.xml").read_bytes()


def test_watching_builder_freezes_survivors_and_a_full_pass_collects_first(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    calls: list[str] = []
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)  # the first build is a full pass: collect what earlier builds froze
    assert calls == ["unfreeze", "collect", "freeze"] and gc.isenabled()
    calls.clear()
    write(
        site.posts_dir / "2025-12-01-p0.md",
        post_text("Edited", 1, tags=[], categories=[], body="x"),
        OLD_MTIME + 100,
    )
    builder.build(NOW + timedelta(minutes=5))
    assert calls == ["freeze"]
    calls.clear()
    SiteBuilder(config, watch=False).build(NOW + timedelta(minutes=6))  # one-off: leaves gc be
    assert calls == []
