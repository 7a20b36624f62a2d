"""The last whole-site passes of a running builder's edit are gone: the manifest copies the
parts of the feeds the edit did not touch and patches an archive section member by member,
the outcomes list is patched at the edited file's place, OPML works out only the groups that
are new objects, and regrouping and the id rows update their maps in place instead of copying
10,000 entries. Counters, not time; each test also shows the whole work is done when due, and
that the output is the bytes a fresh build (or a render without any memo) makes."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from feedsmith.pipeline import SiteBuilder
from test_edit_path_lean import NOW, OLD_MTIME, blog, built, write_post
from test_edit_path_manifest import full_render
from test_edit_path_plan import fresh_tree, tree

SHOWING_29 = 3  # all, tag blue, category Tech


def write_tagged(site: Any, i: int, tag: str, mtime_ns: int) -> Path:
    """A post of its own tag (a feed that appears with it and goes with it)."""
    front = {"title": f"Post {i}", "date": f"2025-12-{i - 29:02d} 10:00:00 +0000"}
    front |= {"categories": ["Life"], "tags": [tag]}
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", "Hi.", ""]
    path: Path = site.posts_dir / f"2025-12-{i - 29:02d}-p{i}.md"
    path.write_text("\n".join(lines), "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def exact_manifest(site: Any, config: Any) -> None:
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_an_edit_looks_at_the_manifest_feeds_and_archive_files_it_touched(site: Any) -> None:
    config = blog(site, count=30)  # 3 entries a page: every feed has archive pages
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    memo = builder.manifest_memo
    feeds = len(memo.feed_list)
    archive_files = memo.archives_serialised
    assert memo.feeds_looked == feeds and archive_files > 0  # the first build lists them all
    formats = len(config.feed.formats)
    for n in range(1, 4):
        write_post(site, 29, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert memo.feeds_looked == SHOWING_29 < feeds
        if n > 1:  # the sections were cut into members by the first edit
            # one archive page (the newest, holding post 29) in every format, in two feeds
            assert memo.archives_serialised == 2 * formats
        exact_manifest(site, config)
    assert b"Changed 3!" in (site.output_dir / "all.atom.xml").read_bytes()

    write_post(site, 1, "An old post, changed.", OLD_MTIME + 2000)  # page 1 of its feeds
    builder.build(NOW + timedelta(minutes=5))
    assert memo.feeds_looked == 3
    exact_manifest(site, config)
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=5))


def test_new_and_removed_feeds_and_pages_keep_the_manifest_exact(site: Any) -> None:
    config, builder = built(site, count=30)
    memo = builder.manifest_memo
    feeds = len(memo.feed_list)
    new = write_tagged(site, 30, "violet", OLD_MTIME + 3000)  # a feed and archive pages come
    builder.build(NOW + timedelta(minutes=1))
    assert len(memo.feed_list) == feeds + 1
    assert memo.feeds_looked == feeds + 1  # other paths: every feed looked at
    exact_manifest(site, config)
    write_post(site, 29, "Changed!", OLD_MTIME + 4000)
    builder.build(NOW + timedelta(minutes=2))
    assert memo.feeds_looked == SHOWING_29
    exact_manifest(site, config)
    new.unlink()  # the feed goes
    builder.build(NOW + timedelta(minutes=3))
    assert len(memo.feed_list) == feeds
    exact_manifest(site, config)
    write_post(site, 28, "Changed too!", OLD_MTIME + 5000)
    builder.build(NOW + timedelta(minutes=4))
    assert memo.feeds_looked == 3  # all, tag green, category Life
    exact_manifest(site, config)
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=4))


def test_an_edit_patches_the_outcomes_at_its_place(site: Any) -> None:
    _config, builder = built(site, count=30)
    assert builder.parse.last_patched is None  # a full pass: no last list
    write_post(site, 12, "Edited twelve.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert builder.parse.last_patched == 1
    new = write_tagged(site, 30, "violet", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))
    assert builder.parse.last_patched is None  # a file came: the list made whole
    new.unlink()
    builder.build(NOW + timedelta(minutes=3))
    assert builder.parse.last_patched is None  # a file went
    write_post(site, 3, "Edited three.", OLD_MTIME + 3000)
    builder.build(NOW + timedelta(minutes=4))
    assert builder.parse.last_patched == 1
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=4))


def test_opml_after_an_edit_works_out_the_changed_groups_only(site: Any) -> None:
    _config, builder = built(site, count=30)
    outlines = builder.planner._outlines
    groups = outlines.looked
    assert groups == len(outlines.groups) > SHOWING_29
    opml = (site.output_dir / "index.opml").read_bytes()
    write_post(site, 29, "Changed!", OLD_MTIME + 1000)  # a new `updated`: a new dateModified
    builder.build(NOW + timedelta(minutes=1))
    assert outlines.looked == SHOWING_29
    assert (site.output_dir / "index.opml").read_bytes() != opml
    write_tagged(site, 30, "violet", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))
    assert outlines.looked == groups + 1  # a group more: every place worked out
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=2))


def test_regrouping_and_the_id_rows_update_their_maps_in_place(site: Any) -> None:
    _config, builder = built(site, count=30)
    grouping, rows = builder._grouping, builder.ids._rows
    assert grouping is not None
    outputs, made = grouping.outputs, builder.ids.rows_made
    for n in range(1, 3):
        write_post(site, 20, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert builder._grouping is not grouping and grouping.spent  # a delta was taken
        grouping = builder._grouping
        assert grouping is not None and grouping.outputs is outputs  # not a copy
        assert builder.ids._rows is rows and builder.ids.rows_made == made + n
    write_tagged(site, 30, "violet", OLD_MTIME + 3000)  # a new name: the full rules
    builder.build(NOW + timedelta(minutes=5))
    assert builder._grouping is not None and builder._grouping.outputs is not outputs
    assert tree(site.output_dir) == fresh_tree(site, NOW + timedelta(minutes=5))
