"""A running builder's edit looks only at what the edit touched: the manifest compares the
records of the feeds owning a re-rendered file, not every record of the site (an untouched
feed's entry is taken as it was), and is still byte-for-byte a full render. Counters, not time;
each test also shows the work is done when due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from feedsmith.pipeline import SiteBuilder
from feedsmith.pipeline import site as site_module
from feedsmith.publish.owned import scan_owned
from test_edit_path_lean import NOW, OLD_MTIME, blog, write_post
from test_edit_path_manifest import full_render


def test_an_edit_compares_only_the_records_of_the_feeds_it_touched(site: Any) -> None:
    config = blog(site, count=30)  # 3 entries a page: every feed has archive pages
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    memo = builder.manifest_memo
    everything = memo.records_looked
    assert everything > 0  # the first build lists every record
    feeds = memo.serialised + memo.reused
    for n in range(1, 4):
        write_post(site, 29, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        # all, its tag's and its category's feed show post 29: their records only
        assert memo.serialised == 3, (memo.serialised, memo.reused)
        assert memo.reused == feeds - 3
        shown_in = {("all", "all"), ("tag", "blue"), ("category", "Tech")}
        theirs = sum(
            len(info.files) + len(info.archives)
            for info, _ in memo.by_info.values()
            if (info.kind, info.name if info.kind != "all" else "all") in shown_in
        )
        assert memo.records_looked == theirs < everything, (memo.records_looked, everything)
        on_disk, again = full_render(site.output_dir, config.state_dir)
        assert on_disk == again


def test_a_builder_that_read_its_state_again_compares_every_record(site: Any) -> None:
    """The shortcut rests on the kept records being the very objects listed last time: with
    the state read from disk again (here: a new builder), every record is compared."""
    config = blog(site, count=30)
    SiteBuilder(config, pool=False).build(NOW)
    builder = SiteBuilder(config, pool=False)
    write_post(site, 29, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    memo = builder.manifest_memo
    assert memo.records_looked == sum(
        len(info.files) + len(info.archives) for info, _ in memo.by_info.values()
    )
    write_post(site, 29, "Changed again!", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))
    assert memo.records_looked < sum(
        len(info.files) + len(info.archives) for info, _ in memo.by_info.values()
    )
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_a_new_post_and_a_deletion_keep_the_manifest_exact_on_the_short_path(site: Any) -> None:
    """Archive pages appear and feeds vanish while the builder runs: never a stale line."""
    config = blog(site, count=30)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    write_post(site, 29, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    for i in (40, 41, 42, 43):
        write_post(site, i, "New.", OLD_MTIME + 5000 + i, title=f"A new one {i}")
        builder.build(NOW + timedelta(minutes=i))
        on_disk, again = full_render(site.output_dir, config.state_dir)
        assert on_disk == again
    for path in sorted(site.posts_dir.glob("*-p2?.md")):
        path.unlink()
    builder.build(NOW + timedelta(minutes=50))
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_a_running_builder_lists_its_output_from_the_last_publish_not_its_records(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing the next build starts from is what the last publish left: equal to a walk
    of the tree after edits, new posts, deletions and a stray, and no pass over the records."""
    config = blog(site, count=30)
    listed: list[int] = []
    real = site_module.listed_owned

    def counting(base: str, records: Any, suspects: Any) -> set[str]:
        listed.append(len(records))
        return real(base, records, suspects)

    monkeypatch.setattr(site_module, "listed_owned", counting)
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    assert builder.tracker.owned == scan_owned(str(site.output_dir))
    steps = [
        lambda: write_post(site, 29, "Changed!", OLD_MTIME + 1000),
        lambda: write_post(site, 40, "New.", OLD_MTIME + 5000, title="A new one"),
        lambda: [p.unlink() for p in sorted(site.posts_dir.glob("*-p2?.md"))],
        lambda: (
            (site.output_dir / "tags" / "nobody.atom.xml").write_bytes(b"<feed/>"),
            (site.output_dir / "all.rss.xml.gz").unlink(),
        ),
    ]
    for n, step in enumerate(steps, 1):
        step()
        builder.build(NOW + timedelta(minutes=n))
        assert builder.tracker.owned == scan_owned(str(site.output_dir)), n
    assert not (site.output_dir / "tags" / "nobody.atom.xml").exists()
    assert (site.output_dir / "all.rss.xml.gz").exists()
    assert builder.listings_spared == len(steps) == builder.walks_spared
    assert listed == []  # no build listed the records
