"""Saves through a real `feedsmith serve`: live without waiting for a tick, never a false 410."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from test_serve_e2e import eventually, feed_titles, http, post_text, run_serve

pytestmark = pytest.mark.slow

ONLY = "[Solo]"  # a tag only the rewritten post carries


def _builds(served: Any) -> int:
    return served.log_text().count("build ok (posts changed)")


def _seen(served: Any) -> list[int]:
    """The post count of each build the watcher asked for, in order."""
    return [
        int(n) for n in re.findall(r"build ok \(posts changed\): (\d+) posts", served.log_text())
    ]


def test_an_in_place_rewrite_caught_half_way_never_leaves_a_feed(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    path = site.write_post("2025-11-02-solo.md", post_text("Solo v1", 2, ONLY))
    # Interval far away: every build below is one the watcher asked for.
    with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
        feeds = [
            served.url(f"/feeds/{rel}")
            for rel in ("all.atom.xml", "tags/solo.atom.xml", "tags/solo.rss.xml", "tags/solo.json")
        ]
        seen: list[tuple[int, bool]] = []
        stop = threading.Event()

        def poll() -> None:
            etags: dict[str, str] = {}
            while not stop.is_set():
                for url in feeds:
                    headers = {"If-None-Match": etags[url]} if url in etags else {}
                    code, head, body = http(url, headers=headers)
                    if code == 200:
                        etags[url] = head.get("ETag", "")
                        seen.append((code, b"Solo v" in body))
                    else:
                        seen.append((code, True))

        pollers = [threading.Thread(target=poll) for _ in range(2)]
        for t in pollers:
            t.start()
        try:
            before = _builds(served)
            with path.open("r+b") as fh:  # what `>`, many editors and rsync --inplace do
                fh.truncate(0)
                fh.flush()
                os.fsync(fh.fileno())
                # Wait for the event that proves a build read the truncated file: its log line
                # and then the kept post's warning, which the build loop logs right after it.
                eventually(
                    lambda: (
                        _builds(served) > before
                        and "still publishing its last valid version" in served.log_text()
                    ),
                    "a build of the empty file, keeping the last valid version",
                    60,
                )
                assert "Solo v1" in feed_titles(http(feeds[1])[2])
                fh.write(post_text("Solo v2", 2, ONLY).encode())
            eventually(lambda: feed_titles(http(feeds[1])[2]) == ["Solo v2"], "the new version", 60)
        finally:
            stop.set()
            for t in pollers:
                t.join()
        assert seen and {code for code, _ in seen} <= {200, 304}, sorted({c for c, _ in seen})
        assert all(present for _, present in seen)


def test_a_new_post_is_live_without_a_tick_and_editor_droppings_build_nothing(
    site: Any, tmp_path: Path
) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
        feed = served.url("/feeds/all.atom.xml")
        for name in (".2025-11-03-new.md.swp", "2025-11-03-new.md~", ".#2025-11-03-new.md", "4913"):
            (site.posts_dir / name).write_text("x", "utf-8")
        tmp = site.posts_dir / ".2025-11-03-new.md.tmp"
        tmp.write_text(post_text("新しい記事", 3), "utf-8")
        os.replace(tmp, site.posts_dir / "2025-11-03-new.md")  # a rename-into-place save
        eventually(lambda: "新しい記事" in feed_titles(http(feed)[2]), "the new post", 60)
        # The builder logs its line after publishing: wait for it, then count.
        eventually(lambda: _builds(served) >= 1, "the build's log line", 60)
        assert _builds(served) == 1  # the droppings asked for nothing, the save for one build

        (site.posts_dir / "2025-11-03-new.md").unlink()
        eventually(lambda: "新しい記事" not in feed_titles(http(feed)[2]), "the deletion", 60)


def test_a_burst_of_500_new_posts_is_a_few_builds(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
        for i in range(500):  # what a git pull or an rsync of a whole blog does
            (site.posts_dir / f"2025-10-{1 + i % 28:02d}-burst-{i}.md").write_text(
                post_text(f"burst {i}", 1), "utf-8"
            )
        eventually(lambda: served.healthz().get("counts", {}).get("posts") == 501, "501 posts", 120)
        eventually(lambda: _seen(served)[-1:] == [501], "the build of all 501 posts", 120)
        seen = _seen(served)
        # Coalesced: fewer builds than files, each seeing at least what the one before saw, the
        # last one all of them. How few depends on the machine's load, so it is not asserted.
        assert 1 <= len(seen) < 500, served.log_text()
        assert seen == sorted(seen), seen
