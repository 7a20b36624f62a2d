"""The edit path: after one edited post, a builder that keeps running does the work of that post
only — the group memo holds for every document not showing it, and its entry is serialised
once (every format at once) however many feeds and archive pages show it. Counters, not time."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core import documents
from feedsmith.pipeline import SiteBuilder

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
OLD_MTIME = 1_600_000_000 * 10**9  # well in the past: no file is "racy"
TAGS = ("red", "green", "blue")


def post_text(i: int, body: str) -> str:
    front = {
        "title": f"Post {i}",
        "date": f"2025-11-{i + 1:02d} 10:00:00 +0000",
        "categories": ["Tech" if i % 2 else "Life"],
        "tags": [TAGS[i % 3]],
    }
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", body, ""]
    return "\n".join(lines)


def write_post(site: Any, i: int, body: str, mtime_ns: int) -> None:
    path: Path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
    path.write_text(post_text(i, body), "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def blog(site: Any, count: int = 24) -> Any:
    """``count`` posts, three a page, so feeds have archive pages too."""
    for i in range(count):
        write_post(site, i, f"Body {i}.", OLD_MTIME + i)
    return site.config(feed={"max_entries": 3, "archive_page_size": 3})


def documents_showing(builder: SiteBuilder, title: str) -> set[str]:
    """The keys of every document (subscription or archive page) the last build showed the
    post titled ``title`` in."""
    memos = builder.planner._groups
    return {key for key, memo in memos.items() if any(p.title == title for p in memo.shown)}


@pytest.mark.parametrize("watch", [True, False])
def test_after_one_edit_the_memo_holds_for_every_document_not_showing_the_post(
    site: Any, watch: bool
) -> None:
    config = blog(site)
    builder = SiteBuilder(config, pool=False, watch=watch)
    builder.build(NOW)
    total = builder.planner.memo_held + builder.planner.memo_missed
    assert builder.planner.memo_held == 0  # a first build has nothing to hold
    # The oldest post sits on the archive pages of its feeds, not in their subscription docs.
    for i, edited in ((23, "Post 23"), (0, "Post 0")):
        showing = documents_showing(builder, edited)
        write_post(site, i, "Changed!", OLD_MTIME + 1000 + i)
        builder.build(NOW + timedelta(minutes=1 + i))
        assert builder.planner.memo_missed == len(showing), edited
        assert builder.planner.memo_held == total - len(showing)


def test_a_full_scan_in_a_running_builder_keeps_every_memo(site: Any) -> None:
    """A builder that lost track of the disk (after a failed build, or every full pass) scans
    everything again, yet unchanged posts are the objects they were: nothing misses."""
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    builder._lose_track()
    builder.build(NOW + timedelta(minutes=1))  # nothing changed, but no fast path either
    assert builder.planner.memo_missed == 0
    assert builder.planner.memo_held > 0


def test_an_edit_serialises_only_the_edited_entry_once_in_every_format(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    made: list[tuple[str, str, tuple[str, ...]]] = []
    real = documents._entry_fragments

    def counting(post: Any, cfg: Any, formats: Any) -> Any:
        made.append((post.title, cfg.feed.content, tuple(formats)))
        return real(post, cfg, formats)

    monkeypatch.setattr(documents, "_entry_fragments", counting)
    showing = documents_showing(builder, "Post 22")
    assert len(showing) >= 3  # the site feed's, its category's and its tag's documents
    write_post(site, 22, "Changed!", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=1))
    # Once per variant it is shown in: full in the subscription documents, summary on the
    # archive pages (feed.archive_content), each in every format at once.
    formats = tuple(config.feed.formats)
    assert sorted(made) == sorted(set(made))
    assert {title for title, _, _ in made} == {"Post 22"}
    assert {fmts for _, _, fmts in made} == {formats}
    assert ("Post 22", "full", formats) in made


def test_an_edit_that_changes_nothing_shown_renders_nothing(site: Any) -> None:
    """Bytes rewritten as they were (an editor's save): read again, and every memo holds."""
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    write_post(site, 5, "Body 5.", OLD_MTIME + 3000)
    builder.build(NOW + timedelta(minutes=1))
    assert builder.planner.memo_missed == 0
    assert builder.last_rendered == 0


def test_a_running_builder_publishes_what_a_new_one_does_as_posts_come_and_change(
    site: Any, tmp_path: Path
) -> None:
    """Memos (group, documents, pages) are a shortcut only: added posts move archive pages,
    edits change entries, and the output is byte for byte a from-scratch build's."""
    config = blog(site, count=7)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    steps = [(7, "Body 7."), (3, "Edited three."), (8, "Body 8."), (9, "Body 9."), (0, "Zero!")]
    for n, (i, body) in enumerate(steps, 1):
        write_post(site, i, body, OLD_MTIME + 5000 + n)
        now = NOW + timedelta(minutes=n)
        builder.build(now)
        reference = dataclasses.replace(
            config, output_dir=tmp_path / f"ref{n}" / "feeds", state_dir=tmp_path / f"ref{n}" / "s"
        )
        shutil.copytree(config.state_dir, reference.state_dir)  # same change history
        (reference.state_dir / "parse-cache.msgpack").unlink(missing_ok=True)
        SiteBuilder(reference, pool=False, watch=False, persist_cache=False).build(now)
        assert files_of(config.output_dir) == files_of(reference.output_dir), n


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "index.json"
    }
