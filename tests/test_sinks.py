"""A build's change set and the sinks that consume it: the local writer, then any others.

The sinks here are written in the test (a recorder, one that fails until told not to): the
contract is what a bucket publisher or a WebSub notifier will rely on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.layout import MANIFEST
from feedsmith.core.state import BuildState
from feedsmith.pipeline import BuildReport, SiteBuilder, build_site
from feedsmith.publish.changes import ChangeSet, Sink, changes_from_manifest, published_changes
from feedsmith.publish.output import LocalWriter, discard_planned, plan_publish

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)


def post(title: str, date: str, tags: list[str]) -> str:
    return (
        f"---\ntitle: {json.dumps(title)}\ndate: {date}\ncategories: [Tech]\n"
        f"tags: {json.dumps(tags)}\n---\n\n{title} body.\n"
    )


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[ChangeSet] = []
        self.bytes_seen: list[dict[str, bytes]] = []

    def consume(self, changes: ChangeSet) -> None:
        self.seen.append(changes)
        # What a bucket publisher does: read the published bytes of what changed.
        self.bytes_seen.append({rel: changes.read(rel) for rel in changes.written})


class FailsUntilFixed:
    name = "flaky"

    def __init__(self) -> None:
        self.broken = True
        self.delivered: list[ChangeSet] = []

    def consume(self, changes: ChangeSet) -> None:
        if self.broken:
            raise ConnectionError("bucket unreachable")
        self.delivered.append(changes)


@pytest.fixture
def blog(site: Any) -> Any:
    site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["python"]), dedent=False)
    site.write_post("2025-10-02-beta.md", post("Beta", "2025-10-02", ["web"]), dedent=False)
    return site


def build_twice(blog: Any, sink: Sink, between: Callable[[], object] = lambda: None) -> BuildReport:
    """Two builds five minutes apart with ``sink`` attached, ``between`` run in the middle."""
    builder = SiteBuilder(blog.config(), watch=False, sinks=[sink])
    builder.build(T1)
    between()
    return builder.build(T1 + timedelta(minutes=5))


def test_a_sink_gets_every_changed_file_and_reads_the_published_bytes(blog: Any) -> None:
    recorder = Recorder()
    report = build_site(blog.config(), T1, sinks=[recorder])
    (changes,) = recorder.seen
    assert report.sink_errors == []
    on_disk = {
        p.relative_to(blog.output_dir).as_posix()
        for p in blog.output_dir.rglob("*")
        if p.is_file() and p.suffix != ".gz" and p.name != MANIFEST
    }
    assert set(changes.written) == on_disk == set(changes.files)
    assert changes.removed == () and changes.manifest_changed
    assert changes.manifest == (blog.output_dir / MANIFEST).read_bytes()
    for rel, data in recorder.bytes_seen[0].items():
        assert data == (blog.output_dir / rel).read_bytes()
        assert changes.files[rel].size == len(data)
    kinds = sorted((f.kind, f.slug) for f in changes.feeds_changed)
    assert kinds == [("all", "all"), ("category", "tech"), ("tag", "python"), ("tag", "web")]
    assert "tags/web.atom.xml" in changes.feed_files_changed


def test_after_a_no_change_build_a_sink_still_gets_the_whole_tree_with_nothing_written(
    blog: Any,
) -> None:
    recorder = Recorder()
    build_twice(blog, recorder)
    first, second = recorder.seen
    assert second.written == () and second.removed == () and not second.changed
    assert second.files == first.files and second.manifest == first.manifest


def test_one_edit_lists_only_the_feeds_that_show_the_post(blog: Any) -> None:
    recorder = Recorder()
    edited = post("Alpha, edited", "2025-10-01", ["python"])
    build_twice(
        blog, recorder, lambda: blog.write_post("2025-10-01-alpha.md", edited, dedent=False)
    )
    changed = {(f.kind, f.slug) for f in recorder.seen[-1].feeds_changed}
    assert changed == {("all", "all"), ("category", "tech"), ("tag", "python")}


def test_a_removed_tag_is_in_removed_and_gone(blog: Any) -> None:
    recorder = Recorder()
    build_twice(blog, recorder, (blog.posts_dir / "2025-10-02-beta.md").unlink)
    last = recorder.seen[-1]
    assert {"tags/web.atom.xml", "tags/web.rss.xml", "tags/web.json"} <= set(last.removed)
    assert "tags/web.atom.xml" in last.gone and "tags/web.atom.xml" not in last.files


def test_a_failing_sink_is_reported_and_the_others_and_the_local_feeds_are_unaffected(
    blog: Any,
) -> None:
    flaky, recorder = FailsUntilFixed(), Recorder()
    report = build_site(blog.config(), T1, sinks=[flaky, recorder])
    assert report.ok and report.feeds_written > 0
    assert report.sink_errors == [("flaky", "ConnectionError: bucket unreachable")]
    assert (blog.output_dir / "all.atom.xml").is_file() and len(recorder.seen) == 1


def test_a_sink_that_failed_catches_up_on_the_next_build_even_with_nothing_changed(
    blog: Any,
) -> None:
    flaky = FailsUntilFixed()
    report = build_twice(blog, flaky, lambda: setattr(flaky, "broken", False))
    assert report.sink_errors == [] and report.feeds_written == 0
    (delivered,) = flaky.delivered
    assert "all.atom.xml" in delivered.files and delivered.written == ()


def test_the_change_set_a_manifest_describes_is_the_one_the_build_made(blog: Any) -> None:
    recorder = Recorder()
    build_site(blog.config(), T1, sinks=[recorder])
    made = recorder.seen[0]
    again = published_changes(blog.output_dir)
    assert again is not None
    assert again.files == made.files and again.gone == made.gone
    assert again.generated == made.generated
    assert [(f.kind, f.slug, f.urls) for f in again.feeds] == [
        (f.kind, f.slug, f.urls) for f in made.feeds
    ]
    assert changes_from_manifest(blog.output_dir, made.manifest).files == made.files


def test_the_local_writer_makes_nothing_visible_until_it_consumes_the_change_set(
    tmp_path: Path,
) -> None:
    out = tmp_path / "feeds"
    planned = plan_publish(out, {"all.atom.xml": b"<feed/>"}, [], BuildState(), T1)
    assert not (out / "all.atom.xml").exists() and not (out / MANIFEST).exists()
    assert set(planned.changes.staged) == {"all.atom.xml", "all.atom.xml.gz"}
    LocalWriter().consume(planned.changes)
    assert (out / "all.atom.xml").read_bytes() == b"<feed/>"
    assert (out / MANIFEST).read_bytes() == planned.changes.manifest
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp file left


def test_a_planned_publish_that_is_discarded_leaves_no_trace(tmp_path: Path) -> None:
    out = tmp_path / "feeds"
    planned = plan_publish(out, {"all.atom.xml": b"<feed/>"}, [], BuildState(), T1)
    discard_planned(planned)
    assert list(out.iterdir()) == []
