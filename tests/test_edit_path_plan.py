"""A running builder's edit plans and publishes in proportion to the edit: a feed group that is
the very object the last build published, with no file touched since, is kept whole (its
documents not looked at one by one); a feed the edit touched has only the archive page holding
the edited post worked out again; the publish finds strays among the paths the watcher named,
not by set operations over every owned file. Counters, not time; each test also shows the work
is done when due, and that the output is the bytes a fresh build makes."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.layout import MANIFEST
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish import output
from test_edit_path_lean import NOW, OLD_MTIME, blog, built, noted_calls, write_post
from test_edit_path_manifest import full_render

SHOWING_29 = {("all", "all"), ("tag", "blue"), ("category", "Tech")}  # post 29's feeds


def tree(output_dir: Path) -> dict[str, bytes]:
    """Every published file but the manifest (whose ``changed`` times are the history's)."""
    return {
        str(p.relative_to(output_dir)): p.read_bytes()
        for p in sorted(output_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def fresh_tree(site: Any, now: Any) -> dict[str, bytes]:
    """The same posts built by a new one-off builder into an empty folder of its own, from a
    copy of the state (entries' change times are history): every file rendered anew."""
    shutil.copytree(site.root / ".feedsmith", site.root / ".fresh", dirs_exist_ok=True)
    config = site.config(
        feed={"max_entries": 3, "archive_page_size": 3},
        output_dir="fresh",
        state_dir=".fresh",
    )
    SiteBuilder(config, pool=False, watch=False).build(now)
    return tree(config.output_dir)


def showing(builder: SiteBuilder, name: str) -> int:
    """The documents the last plan made that show the post whose file is named ``name``."""
    return sum(
        any(post.source.endswith(f"-{name}.md") for post in doc.shown)
        for plan in builder.planner._docs.values()
        for doc in plan.docs
    )


def groups_of(builder: SiteBuilder) -> int:
    return len(builder.planner._docs)


def test_an_edit_keeps_the_untouched_groups_whole(site: Any) -> None:
    config = blog(site, count=30)  # 3 entries a page: every feed has archive pages
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    planner = builder.planner
    total = groups_of(builder)
    assert planner.groups_carried == 0  # the first build has nothing to carry
    all_docs = planner.docs_looked
    assert all_docs > total  # archive pages are documents too
    for n in range(1, 4):
        write_post(site, 29, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert planner.groups_carried == total - len(SHOWING_29)
        docs_showing = sum(
            len(plan.docs)
            for (kind, _), plan in planner._docs.items()
            if (kind, plan.group.name if kind != "all" else "all") in SHOWING_29
        )
        assert planner.docs_looked == docs_showing < all_docs
        # of those, only the documents that show post 29 (a subscription document, and the
        # newest archive page of the feeds where it filled one) are worked out again
        assert planner.memo_missed == showing(builder, "p29") == 5
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=3))


def test_an_edit_on_an_archive_page_works_out_that_page_alone(site: Any) -> None:
    _config, builder = built(site, count=30)
    planner = builder.planner
    write_post(site, 1, "An old post, changed.", OLD_MTIME + 1000)  # on page 1 of its feeds
    builder.build(NOW + timedelta(minutes=1))
    assert planner.groups_carried == groups_of(builder) - 3  # all, green, Tech
    assert planner.memo_missed == showing(builder, "p1") == 3  # page 1 of each
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=1))


def test_a_touched_file_of_an_untouched_group_is_looked_at_and_put_back(site: Any) -> None:
    _config, builder = built(site, count=30)
    planner = builder.planner
    red = site.output_dir / "tags" / "red.atom.xml"
    good = red.read_bytes()
    red.write_bytes(b"<feed>someone else's</feed>")
    write_post(site, 29, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert planner.groups_carried == groups_of(builder) - len(SHOWING_29) - 1  # red too
    assert red.read_bytes() == good


def test_a_builder_whose_last_build_failed_looks_at_every_document(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The groups are taken whole only while the state is what the last plan published."""
    _config, builder = built(site, count=30)
    planner = builder.planner
    write_post(site, 29, "Changed!", OLD_MTIME + 1000)
    real = output.render_manifest

    def failing(*args: Any, **kwargs: Any) -> bytes:
        raise OSError("disk full")

    monkeypatch.setattr(output, "render_manifest", failing)
    with pytest.raises(Exception, match="disk full"):
        builder.build(NOW + timedelta(minutes=1))
    monkeypatch.setattr(output, "render_manifest", real)
    write_post(site, 28, "Changed too!", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))
    assert planner.groups_carried == 0
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=2))


def count_stale_passes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each publish's stale-file pass: True when it looked only at the watcher's paths."""
    return noted_calls(
        monkeypatch,
        output,
        "stale_owned",
        lambda *a, **kw: bool(kw.get("none_dropped")) and kw.get("source") is not None,
    )


def test_an_edit_finds_strays_among_the_named_paths_only(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes = count_stale_passes(monkeypatch)
    config, builder = built(site, count=30)
    assert passes == [False]  # a first build walks the tree: every owned file is looked at
    for n in range(1, 3):
        write_post(site, 29, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
    assert passes == [False, True, True]
    # Strays the watcher named are still found: an owned-looking file, and a plain copy of
    # an archive page (stored as its .gz alone).
    stray = site.output_dir / "tags" / "nobody.atom.xml"
    stray.write_bytes(b"<feed/>")
    page = next((site.output_dir / "archive").rglob("*.atom.xml.gz"))
    plain = page.with_name(page.name[:-3])
    plain.write_bytes(b"<feed/>")
    write_post(site, 29, "Changed again!", OLD_MTIME + 2000)
    report = builder.build(NOW + timedelta(minutes=5))
    assert passes[-1] is True
    assert not stray.exists() and not plain.exists()
    assert "tags/nobody.atom.xml" in report.files_removed
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=5))
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_an_edit_that_unpublishes_a_feed_takes_the_whole_stale_pass(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files no longer published (a tag no post has any more) need every owned file."""
    passes = count_stale_passes(monkeypatch)
    config, builder = built(site, count=30)
    path = write_post(site, 20, "Tagged anew.", OLD_MTIME + 1000)  # i % 3 == 2: "blue"
    path.write_text(path.read_text("utf-8").replace('["blue"]', '["lonely"]'), "utf-8")
    builder.build(NOW + timedelta(minutes=1))
    lonely = site.output_dir / "tags" / "lonely.atom.xml"
    assert lonely.exists()
    write_post(site, 20, "Back to blue.", OLD_MTIME + 2000)
    report = builder.build(NOW + timedelta(minutes=2))
    assert passes[-1] is False
    assert not lonely.exists()
    assert "tags/lonely.atom.xml" in report.files_removed
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=2))
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_a_title_edit_lists_the_manifest_exactly_on_the_short_path(site: Any) -> None:
    """A title edit re-renders feed pages too (the manifest's top-level ``files``): the
    short listing must still be a full render's bytes."""
    config, builder = built(site, count=30)
    for n, title in enumerate(("A new title", "Another title"), start=1):
        write_post(site, 29, "Same body.", OLD_MTIME + 1000 + n, title=title)
        report = builder.build(NOW + timedelta(minutes=n))
        assert "tags/blue.html" in report.files_written
        on_disk, again = full_render(site.output_dir, config.state_dir)
        assert on_disk == again
    assert builder.manifest_memo.serialised == 3  # all, blue, Tech: the others as they were
