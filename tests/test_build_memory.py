"""What a cold build holds, counted rather than timed: the largest process's peak grew ~20 KB
a post (2.2 GB at 100,000 posts), partly from copies nobody needed — every archive page's own
copy of a post's summary-only entry key, and every serialised entry kept to the end of a build
that never builds again."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from feedsmith.core.documents import SUMMARY_KEY, fragment_key
from feedsmith.core.groups import group_posts
from feedsmith.core.paging import Paging
from feedsmith.pipeline import SiteBuilder
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
