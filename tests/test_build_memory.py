"""What a cold build holds, counted rather than timed: the largest process's peak grew ~20 KB
a post (2.2 GB at 100,000 posts), partly from copies nobody needed — every archive page's own
copy of a post's summary-only entry key, and every serialised entry kept to the end of a build
that never builds again."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from feedsmith.core.documents import SUMMARY_KEY, fragment_key
from feedsmith.core.groups import group_posts
from feedsmith.core.paging import Paging
from feedsmith.core.render.entries import PackedEntryCache, pack_entry
from feedsmith.pipeline import SiteBuilder
from feedsmith.pipeline.cache import lazy
from feedsmith.pipeline.entryspill import SpilledEntries
from feedsmith.pipeline.signatures import post_line
from test_build_pool_entries import _site
from test_feeds import make_post
from test_incremental import NOW, files_of, with_dirs


def test_a_posts_summary_entry_key_is_one_string_for_all_its_archive_pages(site: Any) -> None:
    config = site.config()
    post = make_post(1, tags=("ニュース", "python"))
    groups, _ = group_posts([post], {})
    assert len(groups) >= 3  # the site feed, its category's and its tags'
    pages = [dataclasses.replace(g, paging=Paging(1, 0, 2)) for g in groups]
    line = post_line(post)
    keys = [fragment_key(line, page, config) for page in pages]
    assert keys[0] == SUMMARY_KEY + line
    # Not equal strings: the very same one, whichever page (and however many) asked.
    assert all(key is keys[0] for key in keys)


@pytest.mark.slow
def test_a_one_shot_cold_pool_build_lets_go_of_its_entries_and_writes_the_same_bytes(
    site: Any, tmp_path: Any
) -> None:
    config = _site(site, 12)
    once = SiteBuilder(config, pool=True, persist_cache=False, watch=False)
    once.build(NOW)
    # Every entry was serialised in the pool and spliced into its feeds, then dropped after
    # the last feed showing it was handed to a worker: none is held after the build.
    assert once.last_rendered > 0
    assert len(once.planner.entries) == 0

    # A builder that builds again (the service) keeps them, and both write the same bytes.
    kept_config = with_dirs(config, tmp_path / "kept")
    kept = SiteBuilder(kept_config, pool=True, persist_cache=False, watch=True)
    try:
        kept.build(NOW)
        assert len(kept.planner.entries) > 0
    finally:
        kept.close()
    assert files_of(config.output_dir) == files_of(kept_config.output_dir)


def test_spilled_entries_hold_only_where_each_entry_lies_and_read_it_back_whole(
    tmp_path: Any,
) -> None:
    held = PackedEntryCache()
    held.put("kept", {"atom": "<entry>kept</entry>"})
    store = SpilledEntries(tmp_path / "state", held)
    rng = random.Random(5)
    entries = {
        # Incompressible bytes, so that the spilled bytes pass a flush of the buffer or two.
        f"post {i}": pack_entry(
            {"atom": f"<entry>{i} ニュース</entry>", "json": rng.randbytes(900)}
        )
        for i in range(3000)
    }
    for key, packed in entries.items():
        store.put_packed(key, packed)
    assert store.spilled == len(entries) and store.spilled_bytes > 1 << 20
    for key, packed in entries.items():
        assert store.get_packed(key) == packed
    # In memory: the index (layout, offset, length), no entry's bytes.
    assert store.in_memory() == 0
    assert not any(isinstance(v, bytes) for where in store._index.values() for v in where)
    # The builder's own entries are served from where they are.
    assert "kept" in store and store.get_packed("kept") == held.get_packed("kept")
    store.discard("post 7")
    assert "post 7" not in store and store.get_packed("post 7") is None
    assert len(store) == len(entries)  # 2,999 spilled + 1 held
    store.close()
    # The file had no name from the start: nothing is left in the state folder.
    assert list((tmp_path / "state").iterdir()) == []


@pytest.mark.slow
def test_a_one_shot_cold_build_saves_its_parse_index_first_and_holds_no_post_html(
    site: Any, tmp_path: Any
) -> None:
    config = _site(site, 14)
    once = SiteBuilder(config, pool=True, watch=False)
    once.build(NOW)
    # The entries serialised ahead went to the temp file, not to memory.
    assert once.last_spilled > 0 and len(once.planner.entries) == 0
    # The parse index was saved before rendering and every post's HTML let go of: read back
    # from the cache file for each task that needed it, and not kept.
    index = once.parse.index
    assert index is not None and len(index) == 14
    assert all(lazy(entry) for entry in index.values())
    assert not list(config.state_dir.glob("*.feedsmith-tmp"))

    # The service keeps the HTML in hand (its next edits re-render here) and writes the same.
    kept_config = with_dirs(config, tmp_path / "kept")
    kept = SiteBuilder(kept_config, pool=True, watch=True)
    try:
        kept.build(NOW)
        assert kept.last_spilled == 0
        assert kept.index is not None and not any(map(lazy, kept.parse.index.values()))
    finally:
        kept.close()
    assert files_of(config.output_dir) == files_of(kept_config.output_dir)

    # The early save is the cache a next process loads: nothing is parsed again, and the HTML
    # read back from it renders the same bytes.
    again = SiteBuilder(config, pool=True, watch=False)
    again.build(NOW)
    assert again.last_parsed == 0
    assert files_of(config.output_dir) == files_of(kept_config.output_dir)
