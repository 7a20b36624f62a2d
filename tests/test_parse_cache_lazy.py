"""A new process loads the parse cache without its posts' HTML: each blob is read (and checked)
only when something asks for it, so a one-post edit reads the blobs of the posts it renders and
no others. A damaged blob costs a re-parse of that post, never a wrong feed or a problem
reported against the user's post. Checked by counting blobs read, not by time."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from feedsmith.pipeline import SiteBuilder, cache, lazyblob
from feedsmith.pipeline.cache import CACHE_FILE, Chunks, html_of, load_index, save_index
from test_cache import FP, make_index
from test_incremental import NOW, OLD_MTIME, files_of, post_text, with_dirs, write


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    fresh = {"read": 0, "copied": 0, "bad": 0}
    monkeypatch.setattr(lazyblob, "counts", fresh)
    return fresh


def build_fresh(config: Any, root: Path) -> Any:
    """One build by a new builder (what a new ``feedsmith build`` process does), and the same
    build with no parse cache into the folders under ``root``: the reference."""
    SiteBuilder(with_dirs(config, root), persist_cache=False).build(NOW)
    return SiteBuilder(config).build(NOW)


def post(i: int, body: str) -> str:
    return post_text(f"Post {i}", i + 1, tags=[], categories=[f"C{i % 3}"], body=body)


def three_shown(site: Any) -> Any:
    """Nine posts in three categories, three entries per feed: the newest (8, in ``C2``) is in
    the site feed (8, 7, 6) and in ``C2``'s (8, 5, 2) only."""
    for i in range(9):
        write(site.posts_dir / f"p{i}.md", post(i, f"Body {i} with **bold** text."), OLD_MTIME + i)
    return site.config(feed={"max_entries": 3})


def edit(site: Any, i: int, body: str, tick: int) -> None:
    write(site.posts_dir / f"p{i}.md", post(i, body), OLD_MTIME + 1000 + tick)


def published(config: Any) -> dict[str, bytes]:
    return {k: v for k, v in files_of(config.output_dir).items() if k != "index.json"}


def test_a_fresh_edit_reads_the_blobs_of_the_posts_it_renders_only(
    site: Any, counts: dict[str, int]
) -> None:
    config = three_shown(site)
    build_fresh(config, site.root / "ref")
    counts.update(read=0, copied=0)
    edit(site, 8, "Edited body.", 1)
    build_fresh(config, site.root / "ref")
    # The edited post is parsed (its HTML in hand); its two feeds are rendered again with the
    # HTML of the other posts they show (7, 6, 5, 2): four blobs read, no other. The save packs
    # the one chunk anew: the four blobs never read are copied as they are, not decoded.
    assert counts == {"read": 4, "copied": 4, "bad": 0}
    assert published(config) == published(with_dirs(config, site.root / "ref"))


def test_a_lost_document_store_reads_the_blobs_of_the_shown_posts_once(
    site: Any, counts: dict[str, int]
) -> None:
    config = three_shown(site)
    build_fresh(config, site.root / "ref")
    expected = published(config)
    for name in os.listdir(config.state_dir):
        if name.startswith("documents"):
            os.remove(config.state_dir / name)
    for path in config.output_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    counts.update(read=0, copied=0)
    build_fresh(config, site.root / "ref")
    assert (
        counts["bad"] == 0 and 0 < counts["read"] <= 9
    )  # at most once each  # each post's HTML read once, in all its feeds
    assert published(config) == expected


def damage_last_blob(path: Path) -> None:
    """Flip a byte of the file's last blob (the last chunk's region ends the file)."""
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_a_damaged_blob_is_parsed_again_and_reports_nothing(
    site: Any, counts: dict[str, int]
) -> None:
    config = three_shown(site)
    build_fresh(config, site.root / "ref")
    damage_last_blob(config.state_dir / CACHE_FILE)  # p8's: the newest, shown in two feeds
    edit(site, 7, "Edited body.", 1)  # re-renders the site feed, which shows p8
    result = build_fresh(config, site.root / "ref")
    assert counts["bad"] == 1
    assert result.problems == []
    assert published(config) == published(with_dirs(config, site.root / "ref"))
    # That entry was left untrusted and its chunk packed anew: the next process parses p8
    # once more, and from then on the cache is whole.
    builder = SiteBuilder(config)
    builder.build(NOW)
    assert builder.last_parsed == 1
    counts.update(read=0, bad=0)
    cache_path = config.state_dir / CACHE_FILE
    index = load_index(cache_path, builder.fingerprint)
    assert all(html_of(entry) for entry in index.values())
    assert counts["bad"] == 0


def test_a_torn_blob_region_means_no_cache(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    save_index(path, FP, make_index(4))
    path.write_bytes(path.read_bytes()[:-1])  # the region now reaches past the end
    assert load_index(path, FP) == {}


def test_unread_blobs_follow_their_chunk_into_the_saved_file(
    tmp_path: Path, counts: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "CHUNK", 3)
    path = tmp_path / CACHE_FILE
    saved = make_index(8)
    save_index(path, FP, saved)
    chunks = Chunks()
    index = load_index(path, FP, chunks)
    assert counts == {"read": 0, "copied": 0, "bad": 0}  # loading reads no blob
    rel = list(index)[4]
    others = [r for r, e in list(index.items())[3:6] if r != rel and cache.lazy(e)]
    assert others and cache.lazy(index[rel])
    unread = sum(cache.lazy(e) for e in index.values())
    index[rel] = dataclasses.replace(index[rel], size=1)  # reads that one blob
    save_index(path, FP, index, chunks)
    # Only its chunk is packed: its others' blobs copied; the other chunks' copied unread.
    assert counts == {"read": 1, "copied": len(others), "bad": 0}
    assert sum(cache.lazy(e) for e in index.values()) == unread - 1 - len(others)
    # The file read at load is gone; the entries not yet read now read from the new file.
    other = tmp_path / "other"
    save_index(other, FP, make_index(2))
    os.replace(other, path)  # another process's save replaces the file by rename
    assert {r: html_of(e) for r, e in index.items()} == {r: html_of(e) for r, e in saved.items()}
    assert counts["bad"] == 0
