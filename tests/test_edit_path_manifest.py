"""The edit path's publish step is proportional to the edit: a running builder serialises again
only the manifest entries of feeds whose files changed (the rest of ``index.json`` is the bytes
it was), and the manifest is always byte-for-byte what a full render gives. Counters, not time;
each test also shows the work is done when due."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from feedsmith.core.layout import MANIFEST
from feedsmith.pipeline.statefile import load_state
from feedsmith.publish.changes import FeedInfo, changes_from_manifest
from feedsmith.publish.manifest import ManifestMemo, render_manifest
from test_edit_path_lean import NOW, OLD_MTIME, built, write_post


def full_render(output_dir: Path, state_dir: Path) -> tuple[bytes, bytes]:
    """The manifest on disk, and the one a render without any memo makes of the same build."""
    on_disk = (output_dir / MANIFEST).read_bytes()
    published = changes_from_manifest(output_dir, on_disk)
    state = load_state(state_dir / "state.json")
    again = render_manifest(
        published.generated, published.feeds, state.files, published.gone, published.media
    )
    return on_disk, again


def test_an_edit_reserialises_only_the_feeds_it_changed(site: Any) -> None:
    config, builder = built(site, count=12)
    memo = builder.manifest_memo
    feeds = memo.serialised + memo.reused
    assert memo.serialised == feeds  # the first build serialises everything
    for n in range(1, 4):
        write_post(site, 11, f"Changed {n}!", OLD_MTIME + 1000 + n)
        report = builder.build(NOW + timedelta(minutes=n))
        assert report.feeds_written > 0
        # all, red/green/blue's one, Tech/Life's one: three feeds show post 11
        assert memo.serialised == 3, (memo.serialised, memo.reused)
        assert memo.reused == feeds - 3
        on_disk, again = full_render(site.output_dir, config.state_dir)
        assert on_disk == again
        assert b"Changed" not in on_disk  # a manifest lists files, not their text


def test_a_new_post_and_a_deletion_keep_the_manifest_exact(site: Any) -> None:
    """Feeds appear and disappear, archive pages are added: the memo never shows a stale line."""
    config, builder = built(site, count=12)
    write_post(site, 20, "New.", OLD_MTIME + 5000, title="A new one")
    builder.build(NOW + timedelta(minutes=1))
    assert (
        full_render(site.output_dir, config.state_dir)[0]
        == full_render(site.output_dir, config.state_dir)[1]
    )
    for path in sorted(site.posts_dir.glob("*-p1.md")):
        path.unlink()
    builder.build(NOW + timedelta(minutes=2))
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again
    assert builder.manifest_memo.serialised > 0


def records_for(feeds: list[FeedInfo]) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for i, feed in enumerate(feeds):
        for rel in (*feed.files, *feed.archives):
            records[rel] = {
                "sha256": f"{i:064x}",
                "bytes": 10 + i,
                "changed": "2026-01-01T00:00:00Z",
            }
    records["index.opml"] = {"sha256": "0" * 64, "bytes": 3, "changed": "2026-01-01T00:00:00Z"}
    return records


def some_feeds() -> list[FeedInfo]:
    return [
        FeedInfo(
            kind="tag",
            name=name,
            slug=name.lower(),
            entries=2,
            updated="2026-01-01T00:00:00Z",
            urls={"atom": f"/feeds/tags/{name}.atom.xml"},
            files=(f"tags/{name}.atom.xml",),
            archives=(f"archive/tags/{name}/1.atom.xml",),
            page=f"tags/{name}.html",
        )
        for name in ("日本語", "Red", "green")
    ]


def test_the_memo_renders_what_a_full_render_renders() -> None:
    feeds = some_feeds()
    records = records_for(feeds)
    memo = ManifestMemo()
    gone = {"tags/old.atom.xml": "2025-12-01T00:00:00Z"}
    first = render_manifest("2026-01-02T00:00:00Z", feeds, records, gone, None, memo)
    assert first == render_manifest("2026-01-02T00:00:00Z", feeds, records, gone)
    assert (memo.serialised, memo.reused) == (3, 0)

    # A record replaced (a file re-rendered), a feed's info changed: those two only, again.
    records = dict(records)
    records["tags/Red.atom.xml"] = dict(records["tags/Red.atom.xml"], bytes=99)
    feeds[2] = dataclasses.replace(feeds[2], entries=3)
    second = render_manifest("2026-01-03T00:00:00Z", feeds, records, {}, None, memo)
    assert second == render_manifest("2026-01-03T00:00:00Z", feeds, records, {})
    assert (memo.serialised, memo.reused) == (2, 1)
    assert b'"bytes":99' in second and b'"entries":3' in second

    # Nothing changed: nothing serialised; a feed dropped is simply not listed.
    third = render_manifest("2026-01-03T00:00:00Z", feeds[1:], records, {}, None, memo)
    assert third == render_manifest("2026-01-03T00:00:00Z", feeds[1:], records, {})
    assert (memo.serialised, memo.reused) == (0, 2)
    assert "日本語".encode() in third  # its files are now top-level files: still listed

    # A top-level file's record replaced (index.opml rendered again): listed anew.
    records["index.opml"] = dict(records["index.opml"], bytes=4)
    fourth = render_manifest("2026-01-03T00:00:00Z", feeds[1:], records, {}, None, memo)
    assert fourth == render_manifest("2026-01-03T00:00:00Z", feeds[1:], records, {})
    assert b'"index.opml":{"bytes":4' in fourth
