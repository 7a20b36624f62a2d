"""A running builder's edit scans and collects only what the edit touched: the racy and
reads-other-files questions look at the entries that changed, collect patches its last result,
and the output is byte-for-byte what a new builder makes of the same posts. Counters, not
time; each test also shows the full work is done when it is due."""

from __future__ import annotations

import os
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core import collecting, regrouping
from feedsmith.core.collecting import CollectMemo, collect
from feedsmith.core.model import ParseOutcome, Post
from feedsmith.pipeline import SiteBuilder
from test_edit_path_lean import NOW, OLD_MTIME, blog, built, write_post


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def twin(site: Any) -> Any:
    """A second blog holding the same posts (copied now), its own output and state."""
    other = site.root / "twin"
    shutil.copytree(site.posts_dir, other / "posts")
    for src in site.posts_dir.iterdir():  # copytree keeps mtimes only to the microsecond
        os.utime(other / "posts" / src.name, ns=(src.stat().st_mtime_ns,) * 2)
    return site.config(
        feed={"max_entries": 3, "archive_page_size": 3},
        posts_dir=str(other / "posts"),
        output_dir=str(other / "feeds"),
        state_dir=str(other / "state"),
    )


def truly_racy(builder: SiteBuilder) -> tuple[bool, bool]:
    """The two answers as a pass over every entry gives them (the reference)."""
    entries = list((builder.parse.index or {}).values())
    return (
        any(e.racy for e in entries),  # type: ignore[attr-defined]
        any(e.outcome.post is not None and e.outcome.post.reads_others for e in entries),  # type: ignore[attr-defined]
    )


def test_an_edit_notes_one_entry_and_patches_the_collected_posts(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    blog(site, count=30)
    twin_config = twin(site)
    config = blog(site, count=30)  # the config file again: twin() wrote the twin's
    builder = SiteBuilder(config, pool=False)
    builder.build(NOW)
    assert builder.parse.last_noted == 30  # the first build notes every entry
    memo = builder.collect_memo
    assert memo.full_passes == 1
    edits = [(29, 1), (7, 2), (29, 3)]
    written = []
    for i, n in edits:
        written.append(write_post(site, i, f"Changed {n}!", OLD_MTIME + 1000 + n).read_bytes())
        report = builder.build(NOW + timedelta(minutes=n))
        assert report.posts == 30
        assert builder.parse.last_noted == 1, builder.parse.last_noted
        assert memo.full_passes == 1 and memo.delta_used == 1
        assert (builder.parse.racy, builder.parse.reads_others) == truly_racy(builder)
    # The same builds with every delta refused: the same bytes.
    monkeypatch.setattr(collecting, "COLLECT_DELTA_LIMIT", -1)
    monkeypatch.setattr(regrouping, "REGROUP_LIMIT", -1)
    other = SiteBuilder(twin_config, pool=False)
    other.build(NOW)
    for (i, n), data in zip(edits, written, strict=True):
        twin_post = twin_config.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
        twin_post.write_bytes(data)
        os.utime(twin_post, ns=(OLD_MTIME + 1000 + n,) * 2)
        other.build(NOW + timedelta(minutes=n))
    assert other.collect_memo.full_passes == 1 + len(edits)
    assert tree(config.output_dir) == tree(twin_config.output_dir)


def test_a_racy_write_is_seen_and_forgotten_only_when_read_again(site: Any) -> None:
    _config, builder = built(site, count=12)
    assert not builder.parse.racy
    write_post(site, 5, "Just now.", time.time_ns())  # mtime within the racy window
    builder.build(NOW + timedelta(minutes=1))
    assert builder.parse.racy and truly_racy(builder)[0]
    write_post(site, 6, "Old enough.", OLD_MTIME + 99)  # another edit: post 5 stays racy
    builder.build(NOW + timedelta(minutes=2))
    assert builder.parse.last_noted == 1
    assert builder.parse.racy and truly_racy(builder)[0]
    path = write_post(site, 5, "Just now.", OLD_MTIME + 98)  # same bytes, an old mtime again
    os.utime(path, ns=(OLD_MTIME + 98, OLD_MTIME + 98))
    builder.build(NOW + timedelta(minutes=3))
    assert not builder.parse.racy and not truly_racy(builder)[0]


def test_a_new_builder_notes_the_loaded_cache(site: Any) -> None:
    config = blog(site, count=12)
    SiteBuilder(config, pool=False).build(NOW)
    builder = SiteBuilder(config, pool=False)
    write_post(site, 3, "Changed!", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    assert builder.parse.last_noted == 12
    assert (builder.parse.racy, builder.parse.reads_others) == truly_racy(builder)


def test_the_full_collect_runs_when_the_delta_could_differ(site: Any) -> None:
    """A new post, a deletion, a post moved into the future, and the clock passing it."""
    _config, builder = built(site, count=12)
    memo = builder.collect_memo
    write_post(site, 20, "New.", OLD_MTIME + 5000, title="A new one")
    assert builder.build(NOW + timedelta(minutes=1)).posts == 13
    assert memo.full_passes == 2
    (site.posts_dir / "2025-11-21-p20.md").unlink()
    assert builder.build(NOW + timedelta(minutes=2)).posts == 12
    assert memo.full_passes == 3
    future = site.posts_dir / "2025-11-05-p4.md"
    text = future.read_text("utf-8").replace("2025-11-05 10:00:00", "2026-01-10 13:00:00")
    future.write_text(text, "utf-8")
    os.utime(future, ns=(OLD_MTIME + 7000, OLD_MTIME + 7000))
    report = builder.build(NOW + timedelta(minutes=3))
    assert report.posts == 11 and memo.full_passes == 4
    # (the build after it gives the held-back post another id: collect's full pass again)
    write_post(site, 7, "Edited.", OLD_MTIME + 8000)
    builder.build(NOW + timedelta(minutes=4))
    passes = memo.full_passes
    write_post(site, 7, "Edited again.", OLD_MTIME + 8001)
    report = builder.build(NOW + timedelta(minutes=5))  # before 13:00: the delta holds
    assert report.posts == 11 and memo.full_passes == passes and memo.delta_used == 1
    report = builder.build(NOW + timedelta(hours=2))  # past it: the full pass publishes it
    assert report.posts == 12 and memo.full_passes == passes + 1


def _post(i: int, ident: str, day: int) -> ParseOutcome:
    from datetime import UTC, datetime

    post = Post.__new__(Post)
    fields = {"id": ident, "date": datetime(2025, 1, day, tzinfo=UTC), "source": f"p{i}.md"}
    object.__setattr__(post, "__dict__", fields)  # what collect reads of a post
    return ParseOutcome(post, [], None, f"posts/p{i}.md")


def _same(a: Any, b: Any) -> None:
    assert [p.id for p in a.posts] == [p.id for p in b.posts]
    assert a.problems == b.problems
    assert (a.files_seen, a.skipped, a.excluded, a.next_publish) == (
        b.files_seen,
        b.skipped,
        b.excluded,
        b.next_publish,
    )


def test_collect_with_a_memo_gives_what_the_full_pass_gives_as_ids_move() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 6, 1, tzinfo=UTC)
    outcomes = [_post(i, f"id{i}", 1 + i % 20) for i in range(10)]
    memo = CollectMemo()
    _same(collect(outcomes, now, memo), collect(outcomes, now))
    steps = [
        (3, "id3b"),  # a new id nobody holds: the delta
        (4, "id5"),  # takes a held id: a duplicate, the full pass
        (4, "id4"),  # gives it back: a duplicate was refused, the full pass
        (6, "id6"),  # same id: the delta
        (2, "id7"),  # a held id again
    ]
    for at, ident in steps:
        outcomes = list(outcomes)
        outcomes[at] = _post(at, ident, 1 + at % 20)
        patched = collect(outcomes, now, memo)
        _same(patched, collect(outcomes, now))
        patched.problems.append(patched.problems[0] if patched.problems else None)  # type: ignore[arg-type]
    assert memo.full_passes == 4  # the first, the two duplicates, the one after the refusal
