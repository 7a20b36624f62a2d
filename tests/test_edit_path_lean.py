"""The edit path does only the work of the edit: a running builder knows its output tree from
the watcher (no walk of it), leaves the feed pages alone when a post's body changes but nothing
a page lists, and records an edited post's id-map record by appending a line to the log rather
than rewriting the map. Counters, not time; each test also shows the work is done when due."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.layout import ID_MAP
from feedsmith.pipeline import SiteBuilder
from feedsmith.pipeline import idbook as idbook_module
from feedsmith.pipeline.idbook import JOURNAL, IdBook
from feedsmith.pipeline.statefile import load_state
from feedsmith.publish import output
from feedsmith.publish.owned import listed_owned, scan_owned

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
OLD_MTIME = 1_600_000_000 * 10**9  # well in the past: no file is "racy"


def write_post(site: Any, i: int, body: str, mtime_ns: int, title: str | None = None) -> Path:
    front = {
        "title": title or f"Post {i}",
        "date": f"2025-11-{i + 1:02d} 10:00:00 +0000",
        "summary": f"About post {i}.",
        "categories": ["Tech" if i % 2 else "Life"],
        "tags": [("red", "green", "blue")[i % 3]],
    }
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", body, ""]
    path: Path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
    path.write_text("\n".join(lines), "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def blog(site: Any, count: int = 12) -> Any:
    for i in range(count):
        write_post(site, i, f"Body {i}.", OLD_MTIME + i)
    return site.config(feed={"max_entries": 3, "archive_page_size": 3})


def built(site: Any, count: int = 12) -> tuple[Any, SiteBuilder]:
    """:func:`blog`'s config and a single-process builder that has built it once at ``NOW``."""
    config = blog(site, count)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    return config, builder


def noted_calls(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, note: Callable[..., Any]
) -> list[Any]:
    """``owner.name`` still does its work; each call's ``note(*args, **kwargs)`` is recorded."""
    notes: list[Any] = []
    real = getattr(owner, name)

    def noting(*args: Any, **kwargs: Any) -> Any:
        notes.append(note(*args, **kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, noting)
    return notes


def count_walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each walk of the output tree: the folder walked."""
    return noted_calls(monkeypatch, output, "_scan_owned", lambda base: base)


def test_a_running_builder_edits_without_walking_the_output_tree(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = blog(site)
    walks = count_walks(monkeypatch)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    assert len(walks) == 1  # the first build walks it: nothing is known yet
    write_post(site, 11, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert len(walks) == 1
    assert builder.walks_spared == 1
    assert "Changed!" in (site.output_dir / "all.atom.xml").read_text("utf-8")


def test_without_the_walk_a_stray_and_a_deleted_file_are_still_seen(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the walk was for: an owned-looking stray is removed, a deleted feed put back."""
    config = blog(site)
    walks = count_walks(monkeypatch)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    stray = site.output_dir / "tags" / "nobody.atom.xml"
    stray.write_bytes(b"<feed/>")
    (site.output_dir / "tags" / "red.rss.xml.gz").unlink()
    write_post(site, 11, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert len(walks) == 1
    assert not stray.exists()
    assert (site.output_dir / "tags" / "red.rss.xml.gz").exists()


def test_a_one_off_build_still_walks_the_tree(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = blog(site)
    walks = count_walks(monkeypatch)
    SiteBuilder(config, pool=False, watch=False).build(NOW)
    write_post(site, 11, "Changed!", OLD_MTIME + 1000)
    SiteBuilder(config, pool=False, watch=False).build(NOW + timedelta(minutes=1))
    assert len(walks) == 2


def test_a_body_edit_renders_no_feed_page_and_a_title_edit_renders_its_feeds_pages(
    site: Any,
) -> None:
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    pages = builder.planner.pages
    assert pages is not None
    rendered: list[str] = []
    real = pages.render

    def counting(group: Any, shown: Any) -> bytes:
        rendered.append(f"{group.kind}:{group.key}")
        return real(group, shown)

    pages.render = counting  # type: ignore[method-assign]
    before = (site.output_dir / "all.html").read_bytes()
    write_post(site, 11, "A new body, same title and summary.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert builder.last_rendered > 0  # the feeds showing it were rendered
    assert rendered == []
    assert (site.output_dir / "all.html").read_bytes() == before
    write_post(site, 11, "Body.", OLD_MTIME + 2000, title="A new title")
    builder.build(NOW + timedelta(minutes=2))
    assert len(rendered) == 3  # the site's, its category's and its tag's page
    assert "A new title" in (site.output_dir / "all.html").read_text("utf-8")


def test_an_edit_appends_to_the_id_log_which_a_new_builder_reads(site: Any) -> None:
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    ids_path = config.state_dir / ID_MAP
    map_bytes = ids_path.read_bytes()
    writes = builder.ids.map_writes
    for n in range(3):
        write_post(site, 11, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=1 + n))
    assert builder.ids.map_writes == writes  # the map was not rewritten...
    assert builder.ids.journal_writes == 3  # ...a line was appended per edit
    assert ids_path.read_bytes() == map_bytes
    running = builder.ids.known()
    fresh = IdBook(config).known()  # what the next process reads: map plus log
    assert fresh == running
    source = next(src for src in fresh if src.endswith("-p11.md"))
    (config.state_dir / JOURNAL).unlink()
    assert IdBook(config).known()[source].key != fresh[source].key  # the key came from the log


def test_the_log_is_folded_into_the_map_when_it_grows(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idbook_module, "JOURNAL_MAX", 2)
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    writes = builder.ids.map_writes
    for n in range(3):
        write_post(site, 11, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=1 + n))
    assert builder.ids.map_writes == writes + 1
    assert not (config.state_dir / JOURNAL).exists()
    assert IdBook(config).known() == builder.ids.known()


def test_a_log_of_another_map_or_a_torn_line_is_ignored(site: Any) -> None:
    """A crash between writing a new map and removing the old log leaves a log naming the
    old map; a crash mid-append leaves half a line. Neither is applied."""
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    write_post(site, 11, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    log_path = config.state_dir / JOURNAL
    good = log_path.read_bytes()
    with_log = IdBook(config).known()
    log_path.write_bytes(good + b'["posts/x.md","tag:x",')  # torn
    assert IdBook(config).known() == with_log
    _, _, rest = good.partition(b"\n")
    log_path.write_bytes(json.dumps({"map": "0" * 64}).encode() + b"\n" + rest)
    assert IdBook(config).known() != with_log  # the edit's key is not taken from it
    log_path.unlink()
    assert IdBook(config).known() != with_log


def test_a_new_process_after_a_body_edit_renders_no_feed_page_either(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page keys are kept in the state beside the signatures they were made for."""
    from feedsmith.core.pages import PageRenderer

    config = blog(site)
    SiteBuilder(config, pool=False, watch=False).build(NOW)
    rendered: list[str] = []
    real = PageRenderer.render

    def counting(self: PageRenderer, group: Any, shown: Any) -> bytes:
        rendered.append(group.key)
        return real(self, group, shown)

    monkeypatch.setattr(PageRenderer, "render", counting)
    write_post(site, 11, "A new body, same title and summary.", OLD_MTIME + 1000)
    builder = SiteBuilder(config, pool=False, watch=False)
    builder.build(NOW + timedelta(minutes=1))
    assert builder.last_rendered > 0
    assert rendered == []
    write_post(site, 11, "Body.", OLD_MTIME + 2000, title="A new title")
    SiteBuilder(config, pool=False, watch=False).build(NOW + timedelta(minutes=2))
    assert len(rendered) == 3


def test_the_listing_from_records_is_what_a_walk_finds_with_archive_pages(site: Any) -> None:
    """Archive pages are stored as their ``.gz`` alone: the listing made from the last build's
    records must name those, and no plain page (which a later build would then count as a
    file it removed)."""
    config = blog(site)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    base = str(site.output_dir)
    state = load_state(builder.state_path)
    assert any(rel.startswith("archive/") for rel in state.files)
    assert listed_owned(base, state.files, set()) == scan_owned(base)
    write_post(site, 11, "Changed!", OLD_MTIME + 1000)
    report = builder.build(NOW + timedelta(minutes=1))
    assert builder.walks_spared == 1
    assert not [rel for rel in report.files_removed if rel.startswith("archive/")]
