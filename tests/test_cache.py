"""cache: the persisted parse index loads back equal to what was saved, or not at all."""

from __future__ import annotations

import gc
import os
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedsmith.core.model import Author, ParseOutcome, Post, Problem
from feedsmith.pipeline import cache, records
from feedsmith.pipeline.cache import (
    FORMAT_VERSION,
    MAGIC,
    Entry,
    load_index,
    make_entry,
    save_index,
)

FP = "fingerprint"
TOKYO = ZoneInfo("Asia/Tokyo")
MINUS_FIVE = timezone(timedelta(hours=-5), "EST")
NY = ZoneInfo("America/New_York")


def make_post(i: int, **changes: Any) -> Post:
    date = datetime(2025, 11, 1 + i % 28, 20, 35, 4, tzinfo=TOKYO)
    fields: dict[str, Any] = {
        "source": f"2025/p{i}.md",
        "id": f"tag:blog.example.com,2025-11-01:/p{i}",
        "slug": f"p{i}",
        "title": f"Post {i} — ニュース",
        "url": f"https://blog.example.com/p{i}.html",
        "date": date,
        "updated": date,
        "updated_explicit": False,
        "categories": ("Tech",),
        "tags": ("AI", "ニュース", f"t{i % 3}"),
        "authors": (Author("Ann", "ann@example.com"), Author(f"Bob {i % 2}")),
        "summary": f"Summary {i}",
        "content_html": f"<p>Body {i}</p>",
        "content_hash": f"h{i}",
        "lang": "ja",
        "extra": {"layout": "post", "n": i, "flag": True, "nested": {"k": [1, 2.5, None]}},
    }
    fields.update(changes)
    return Post(**fields)


def make_index(count: int = 7) -> dict[str, Entry]:
    """Entries covering what the index holds: posts in several time zones, explicit updates,
    ``extra`` values of every JSON type, posts without HTML, problems, and excluded files."""
    index: dict[str, Entry] = {}
    for i in range(count):
        rel = f"2025/p{i}.md"
        shown = f"posts/{rel}"
        changes: dict[str, Any] = {}
        if i % 3 == 1:
            changes["date"] = datetime(2025, 3, 9, 1, 59, 59, 999999, tzinfo=MINUS_FIVE)
            changes["updated"] = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
            changes["updated_explicit"] = True
        if i % 4 == 3:
            changes.update(content_html="", lang=None, image="https://x.example/i.png", extra={})
        if i % 5 == 4:  # the second 01:30 of the night the clocks go back
            changes["date"] = changes["updated"] = datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=NY)
        post = make_post(i, **changes)
        problems = [Problem(shown, 3, "warning", "decoded as Shift_JIS")] if i % 2 else []
        outcome = ParseOutcome(post, problems, None, shown)
        index[rel] = make_entry(100 + i, 1_600_000_000 * 10**9 + i, f"sha{i}", shown, outcome, i)
    skipped = ParseOutcome(None, [Problem("posts/draft.md", None, "info", "draft")], "draft")
    index["draft.md"] = make_entry(5, 6, "sha-draft", "posts/draft.md", skipped, 7)
    return index


def header_length(raw: bytes) -> int:
    reader = records.unpacker()
    reader.feed(raw)
    reader.unpack()
    return reader.tell()


def assert_same(loaded: Any, saved: Any, where: str = "index") -> None:
    """Equal field by field, including what ``==`` skips (``Post.extra``) and what it glosses
    over (types, and the time zone of equal instants)."""
    assert type(loaded) is type(saved), where
    if isinstance(saved, datetime):
        assert loaded == saved and loaded.tzinfo == saved.tzinfo, where
        assert type(loaded.tzinfo) is type(saved.tzinfo), where
        assert loaded.utcoffset() == saved.utcoffset() and loaded.fold == saved.fold, where
    elif hasattr(saved, "__dict__"):
        for name in vars(saved):  # a loaded entry reads its HTML blob on first use
            getattr(loaded, name, None)
        assert sorted(vars(loaded)) == sorted(vars(saved)), where
        for name, value in vars(saved).items():
            assert_same(getattr(loaded, name), value, f"{where}.{name}")
    elif isinstance(saved, dict):
        assert list(loaded) == list(saved), where
        for key, value in saved.items():
            assert_same(loaded[key], value, f"{where}[{key!r}]")
    elif isinstance(saved, list | tuple):
        assert len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(loaded, saved, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert loaded == saved, where


def test_saved_index_loads_back_identical(tmp_path: Path) -> None:
    index = make_index()
    path = tmp_path / "state" / cache.CACHE_FILE
    save_index(path, FP, index)
    loaded = load_index(path, FP)
    assert loaded == index
    assert_same(loaded, index)


def test_an_index_larger_than_one_chunk_loads_back_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "CHUNK", 3)
    for count in (0, 2, 5, 8):  # none, less than a chunk, a partial last chunk, exact chunks
        index = make_index(count)
        path = tmp_path / f"cache-{count}.pickle"
        save_index(path, FP, index)
        assert_same(load_index(path, FP), index)


def test_loaded_posts_share_repeated_names_but_not_mutable_values(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, make_index())
    posts = [e.outcome.post for e in load_index(path, FP).values() if e.outcome.post]
    first, second = posts[0], posts[2]
    assert first.tags[0] is second.tags[0] and first.authors[0] is second.authors[0]
    assert first.extra == second.extra | {"n": first.extra["n"]}
    assert first.extra is not second.extra
    assert first.extra["nested"] is not second.extra["nested"]
    lists = [e.outcome.problems for e in load_index(path, FP).values()]
    assert len({id(problems) for problems in lists}) == len(lists)


class Editor(Author):
    """An Author by another class: the format stores only the classes it knows."""


def test_an_author_of_another_class_is_refused_not_stored_as_a_plain_author(
    tmp_path: Path,
) -> None:
    index = make_index(2)
    posts = [e.outcome.post for e in index.values() if e.outcome.post]
    object.__setattr__(posts[1], "authors", (Editor("Ann", "ann@example.com"), Author("Bob 1")))
    path = tmp_path / cache.CACHE_FILE
    with pytest.raises(TypeError, match="Editor"):
        save_index(path, FP, index)
    assert not path.exists()


def test_unhashable_names_are_stored_as_they_are(tmp_path: Path) -> None:
    index = make_index(2)
    post = index["2025/p0.md"].outcome.post
    assert post is not None
    object.__setattr__(post, "tags", ("AI", ["not", "a", "name"]))
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, index)
    assert_same(load_index(path, FP), index)


@pytest.mark.parametrize("where", ["header", "first chunk", "last chunk", "last byte"])
def test_truncated_cache_is_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setattr(cache, "CHUNK", 3)
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, make_index())
    raw = path.read_bytes()
    header = header_length(raw)
    cut = {"header": header // 2, "first chunk": header + 10, "last chunk": len(raw) - 50}
    path.write_bytes(raw[: cut.get(where, len(raw) - 1)])
    assert load_index(path, FP) == {}


def test_trailing_bytes_after_the_last_chunk_mean_no_cache(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, make_index())
    path.write_bytes(path.read_bytes() + records.packb([]))
    assert load_index(path, FP) == {}


def test_cache_written_for_other_dataclass_fields_is_no_cache(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, make_index())
    raw = path.read_bytes()
    magic, version, fp, layout, chunks = records.unpackb(raw[: header_length(raw)])
    other = [[*layout[0], "added"], *layout[1:]]
    changed = records.packb([magic, version, fp, other, chunks])
    path.write_bytes(changed + raw[header_length(raw) :])
    assert load_index(path, FP) == {}
    path.write_bytes(raw)
    assert load_index(path, FP) == make_index()


def test_cache_of_the_previous_format_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    path.write_bytes(records.packb([MAGIC, 2, FP, cache._LAYOUT, 0]))
    assert FORMAT_VERSION != 2
    assert load_index(path, FP) == {}


class Boom:
    """Unpickling this runs ``os.system``: what a planted pickle does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", [cache.CACHE_FILE, cache.LEGACY_CACHE_FILE])
def test_a_pickle_is_never_loaded(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "ran"
    (tmp_path / name).write_bytes(pickle.dumps((MAGIC, FORMAT_VERSION, FP, Boom(marker))))
    assert load_index(tmp_path / cache.CACHE_FILE, FP) == {}
    assert not marker.exists()
    if name == cache.LEGACY_CACHE_FILE:  # the old file is removed, said once in the log
        assert not (tmp_path / name).exists()
        assert "parse-cache.pickle from an older feedsmith (never loaded)" in caplog.text


def test_loading_and_saving_leave_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    assert gc.isenabled()
    save_index(path, FP, make_index())
    assert load_index(path, FP) and gc.isenabled()
    path.write_bytes(b"garbage")
    assert load_index(path, FP) == {} and gc.isenabled()
    gc.disable()
    try:
        save_index(path, FP, make_index())
        assert load_index(path, FP) and not gc.isenabled()
    finally:
        gc.enable()


def test_a_save_that_fails_leaves_the_previous_cache(tmp_path: Path) -> None:
    path = tmp_path / cache.CACHE_FILE
    save_index(path, FP, make_index())
    before = path.read_bytes()
    index = make_index()
    post = index["2025/p0.md"].outcome.post
    assert post is not None
    post.extra["unstorable"] = lambda: None
    with pytest.raises(TypeError):
        save_index(path, FP, index)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [cache.CACHE_FILE]


def test_stored_html_is_a_zlib_stream_that_reads_back_exactly() -> None:
    """make_entry writes with zlib-ng; entries (and caches of earlier versions, written with the
    stdlib) are read with the stdlib's zlib, so the stream must be plain zlib."""
    import zlib

    html = '<p>本文 &amp; <a href="https://example.com/x">link</a></p>\n' * 50
    post = Post(
        source="a.md", id="tag:x,2025-01-01:a", slug="a", title="t", url="https://x/a",
        date=datetime(2025, 1, 1, tzinfo=UTC), updated=datetime(2025, 1, 1, tzinfo=UTC),
        updated_explicit=False, categories=(), tags=(), authors=(), summary="s",
        content_html=html, content_hash="h",
    )  # fmt: skip
    entry = make_entry(1, 2, "d", "a.md", ParseOutcome(post, [], None, "a.md"), 3)
    assert entry.outcome.post is not None and entry.outcome.post.content_html == ""
    assert entry.html_z is not None and zlib.decompress(entry.html_z) == html.encode()
    assert cache.unpack_html(entry.html_z) == html
