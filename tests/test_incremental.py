"""Incremental builds: the parse index, dirty tracking, the fast path and the process pool
must never change what is published — only how much work it takes."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from feedsmith import pipeline as build
from feedsmith.config import load_config
from feedsmith.core import documents
from feedsmith.core.config import Config
from feedsmith.core.state import dumps_state
from feedsmith.pipeline import SiteBuilder, records
from feedsmith.pipeline import index as index_stage
from feedsmith.pipeline import listing as listing_stage
from feedsmith.pipeline import site as site_stage
from feedsmith.pipeline.cache import CACHE_FILE, FORMAT_VERSION, MAGIC
from feedsmith.pipeline.statefile import journal_path, load_state

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
#: File mtimes are set explicitly, well in the past, so no entry is "racy" and the index's
#: stat-only path is what gets exercised (racy files are tested on their own below).
OLD_MTIME = 1_600_000_000 * 10**9


def post_text(
    title: str,
    day: int,
    *,
    tags: list[str],
    categories: list[str],
    body: str,
    draft: bool = False,
) -> str:
    lines = [
        "---",
        f"title: {json.dumps(title)}",
        f"date: 2025-12-{day:02d} 10:00:00 +0000",
        f"categories: {json.dumps(categories, ensure_ascii=False)}",
        f"tags: {json.dumps(tags, ensure_ascii=False)}",
    ]
    if draft:
        lines.append("draft: true")
    lines += ["---", "", body, ""]
    return "\n".join(lines)


def write(path: Path, text: str, mtime_ns: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def files_of(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def mtimes_of(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def with_dirs(config: Config, root: Path) -> Config:
    """The same site built into other output/state folders (a reference build)."""
    import dataclasses

    return dataclasses.replace(config, output_dir=root / "feeds", state_dir=root / "state")


def small_site(site: Any, count: int = 4) -> Config:
    for i in range(count):
        write(
            site.posts_dir / f"2025-12-0{i + 1}-p{i}.md",
            post_text(
                f"Post {i}",
                i + 1,
                tags=["AI", "ニュース"] if i % 2 else ["ai", "python"],
                categories=["Tech"],
                body=f"Body {i} with **bold** text.",
            ),
            OLD_MTIME + i,
        )
    return site.config()


# -- the parse index -----------------------------------------------------------------------------


def test_unchanged_files_are_not_read_again_by_a_new_process(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    SiteBuilder(config).build(NOW)
    reads: list[str] = []
    real = listing_stage.read_bytes
    monkeypatch.setattr(
        listing_stage, "read_bytes", lambda src, n: reads.append(src.rel) or real(src, n)
    )
    fresh = SiteBuilder(config)  # like a new process: only the cache on disk
    report = fresh.build(NOW)
    assert reads == [] and fresh.last_parsed == 0
    assert report.files_written == ()


def test_a_build_from_another_working_directory_reuses_the_cache_and_renames_paths(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    write(site.posts_dir / "broken.md", "---\ntitle: [unclosed\n---\nx\n", OLD_MTIME)
    monkeypatch.chdir(site.root)
    first = SiteBuilder(config).build(NOW)
    (site.root / "elsewhere").mkdir()
    monkeypatch.chdir(site.root / "elsewhere")
    fresh = SiteBuilder(config)
    report = fresh.build(NOW)
    assert fresh.last_parsed == 0  # nothing parsed again: only the problems' paths differ
    [before] = [p.path for p in first.problems if p.severity == "error"]
    [after] = [p.path for p in report.problems if p.severity == "error"]
    assert before == "posts/broken.md" and after != before and after.endswith("/posts/broken.md")
    reference = SiteBuilder(with_dirs(config, site.root / "ref"), persist_cache=False)
    assert reference.build(NOW).problems == report.problems


def test_touched_file_is_read_but_not_reparsed(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    before = mtimes_of(site.output_dir)
    target = site.posts_dir / "2025-12-02-p1.md"
    os.utime(target, ns=(OLD_MTIME + 99, OLD_MTIME + 99))
    parsed: list[str] = []
    real = index_stage.parse_post
    monkeypatch.setattr(
        index_stage,
        "parse_post",
        lambda data, rel, shown, cfg: parsed.append(rel) or real(data, rel, shown, cfg),
    )
    report = builder.build(NOW + timedelta(minutes=5))
    assert parsed == [] and report.files_written == ()
    assert mtimes_of(site.output_dir) == before


def test_edit_reparses_only_that_file(site: Any) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    write(
        site.posts_dir / "2025-12-02-p1.md",
        post_text("Post 1 edited", 2, tags=["AI"], categories=["Tech"], body="New body."),
        OLD_MTIME + 100,
    )
    builder.build(NOW + timedelta(minutes=5))
    assert builder.last_parsed == 1


def test_racy_same_size_edit_in_the_same_mtime_tick_is_still_seen(site: Any) -> None:
    path = site.posts_dir / "2025-12-01-racy.md"
    text = post_text("Racy", 1, tags=["x"], categories=["C"], body="aaaa")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")  # mtime = now: the entry will be racy
    config = site.config()
    builder = SiteBuilder(config)
    builder.build(NOW)
    st_before = path.stat()
    path.write_text(text.replace("aaaa", "bbbb"), "utf-8")  # same size...
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))  # ...same mtime
    builder.build(NOW + timedelta(minutes=1))
    assert "bbbb" in (site.output_dir / "all.json").read_text("utf-8")


def test_deleted_and_renamed_files_drop_out_of_the_index(site: Any) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    (site.posts_dir / "2025-12-01-p0.md").unlink()
    (site.posts_dir / "2025-12-02-p1.md").rename(site.posts_dir / "2025-12-02-moved.md")
    builder.build(NOW + timedelta(minutes=1))
    assert builder.index is not None
    assert sorted(builder.index) == [
        "2025-12-02-moved.md",
        "2025-12-03-p2.md",
        "2025-12-04-p3.md",
    ]


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "empty", "wrong version", "wrong fingerprint", "wrong payload"],
)
def test_corrupt_cache_is_ignored_and_feeds_stay_identical(site: Any, damage: str) -> None:
    config = small_site(site)
    SiteBuilder(config).build(NOW)
    expected = files_of(site.output_dir)
    cache = config.state_dir / CACHE_FILE
    raw = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"\x00not a pickle at all\xff" * 50)
    elif damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        cache.write_bytes(b"")
    else:
        reader = records.unpacker()
        reader.feed(raw)
        magic, version, fp, layout, chunks = reader.unpack()
        assert (magic, version) == (MAGIC, FORMAT_VERSION)
        rows = raw[reader.tell() :]
        if damage == "wrong version":
            header = [MAGIC, FORMAT_VERSION + 1, fp, layout, chunks]
        elif damage == "wrong fingerprint":
            header = [MAGIC, FORMAT_VERSION, "other", layout, chunks]
        else:
            header, rows = [MAGIC, FORMAT_VERSION, fp, layout, 1], records.packb([["a.md", 42]])
        cache.write_bytes(records.packb(header) + rows)
    # And a change made while the cache was broken must still show up.
    write(
        site.posts_dir / "2025-12-05-new.md",
        post_text("New", 5, tags=["AI"], categories=["Tech"], body="Fresh."),
        OLD_MTIME + 50,
    )
    builder = SiteBuilder(config)
    builder.build(NOW)
    assert builder.last_parsed == 5  # everything parsed again
    reference = with_dirs(config, site.root / "ref")
    SiteBuilder(reference, persist_cache=False).build(NOW)
    assert files_of(site.output_dir).keys() == files_of(reference.output_dir).keys()
    got, want = files_of(site.output_dir), files_of(reference.output_dir)
    assert {k: v for k, v in got.items() if k != "index.json"} == {
        k: v for k, v in want.items() if k != "index.json"
    }
    assert got != expected  # the new post is in


# -- dirty tracking and the fast path ------------------------------------------------------------


def test_only_feeds_containing_the_edited_post_are_rendered(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    before = mtimes_of(site.output_dir)
    rendered: list[str] = []
    real = documents.render_group
    monkeypatch.setattr(
        documents,
        "render_group",
        lambda g, c, f=None, **kw: rendered.append(g.slug) or real(g, c, f, **kw),
    )
    write(
        site.posts_dir / "2025-12-01-p0.md",
        post_text("Post 0", 1, tags=["ai", "python"], categories=["Tech"], body="Changed!"),
        OLD_MTIME + 200,
    )
    report = builder.build(NOW + timedelta(minutes=1))
    assert sorted(rendered) == ["ai", "all", "python", "tech"]
    after = mtimes_of(site.output_dir)
    untouched = {rel for rel in before if rel.startswith("tags/ニュース")}
    assert untouched and all(before[rel] == after[rel] for rel in untouched)
    assert "tags/ニュース.atom.xml" not in report.files_written


@pytest.mark.parametrize("pool", [True, False])
def test_after_a_build_an_edit_serialises_only_the_edited_entry(
    site: Any, monkeypatch: pytest.MonkeyPatch, pool: bool
) -> None:
    config = small_site(site, count=6)
    reference = with_dirs(config, site.root / "reference")  # same history, no entry cache
    SiteBuilder(reference, persist_cache=False, pool=False).build(NOW)
    builder = SiteBuilder(config, pool=pool)
    builder.build(NOW)  # with the pool, the entries come back from the workers, packed
    builder.pool.wanted = False
    made: list[str] = []
    real = documents._entry_fragments

    def counting(post: Any, cfg: Any, formats: Any) -> Any:
        made.append(post.title)
        return real(post, cfg, formats)

    monkeypatch.setattr(documents, "_entry_fragments", counting)
    write(
        site.posts_dir / "2025-12-01-p0.md",
        post_text("Post 0", 1, tags=["ai", "python"], categories=["Tech"], body="Changed!"),
        OLD_MTIME + 200,
    )
    builder.build(NOW + timedelta(minutes=1))
    assert made == ["Post 0"]  # in four feeds, serialised once; the other entries reused
    SiteBuilder(reference, persist_cache=False, pool=False).build(NOW + timedelta(minutes=1))
    assert files_of(config.output_dir) == files_of(reference.output_dir)


def test_nothing_changed_in_the_service_skips_the_scan(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    first = builder.build(NOW)

    def no_scan(*args: Any) -> Any:
        raise AssertionError("full scan on a no-change build")

    monkeypatch.setattr(listing_stage, "find_sources", no_scan)
    report = builder.build(NOW + timedelta(minutes=5))
    assert report.files_written == () and report.feeds_written == 0
    assert report.feeds_unchanged == first.feeds_written and report.posts == first.posts


def test_a_new_process_takes_the_fast_path_when_nothing_changed(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    bad = site.write_post("2025-12-09-bad.md", "---\ntitle: [unclosed\n---\nb\n", dedent=False)
    os.utime(bad, ns=(OLD_MTIME, OLD_MTIME))  # not "racy": its stat can be trusted
    first = build.build_site(config, NOW)
    assert first.problems

    def no_scan(*args: Any) -> Any:
        raise AssertionError("full build in a new process with nothing changed")

    monkeypatch.setattr(index_stage, "load_index", no_scan)
    monkeypatch.setattr(site_stage, "group_posts", no_scan)
    again = build.build_site(site.config(), NOW + timedelta(minutes=5))
    assert again.files_written == () and again.feeds_written == 0
    assert again.feeds_unchanged == first.feeds_written and again.posts == first.posts
    assert again.problems == first.problems  # the CLI reports (and exits) the same way
    assert (again.skipped, again.excluded) == (first.skipped, first.excluded)


@pytest.mark.parametrize("change", ["edit", "config", "deleted feed", "cwd"])
def test_a_new_process_builds_in_full_when_anything_changed(
    site: Any, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site)
    build.build_site(config, NOW)
    expected = files_of(site.output_dir)
    if change == "edit":
        path = site.posts_dir / "2025-12-01-p0.md"
        write(path, post_text("Edited", 1, tags=[], categories=[], body="x"), OLD_MTIME + 50)
    elif change == "config":
        config = site.config(site={**site.settings["site"], "title": "Renamed"})
    elif change == "deleted feed":
        (site.output_dir / "tags/python.rss.xml").unlink()
    else:
        monkeypatch.chdir(site.posts_dir)
    report = build.build_site(config, NOW + timedelta(minutes=5))
    assert build.SiteBuilder(config, watch=False).fast.load() is not None
    if change == "deleted feed":
        assert "tags/python.rss.xml" in report.files_written
        repaired = files_of(site.output_dir)
        del repaired["index.json"], expected["index.json"]  # "generated" moves: a file was written
        assert repaired == expected
    elif change == "cwd":
        assert report.files_written == ()
    else:
        assert report.feeds_written > 0


def test_deleted_output_is_noticed_by_the_fast_path(site: Any) -> None:
    config = small_site(site)
    builder = SiteBuilder(config)
    builder.build(NOW)
    expected = files_of(site.output_dir)
    shutil.rmtree(site.output_dir)
    builder.build(NOW + timedelta(minutes=5))
    assert files_of(site.output_dir).keys() == expected.keys()


def test_scheduled_post_appears_when_its_time_comes(site: Any) -> None:
    config = small_site(site)
    write(
        site.posts_dir / "2026-02-01-later.md",
        "---\ntitle: Later\ndate: 2026-02-01 00:00:00 +0000\ntags: [AI]\n---\n\nSoon.\n",
        OLD_MTIME + 7,
    )
    builder = SiteBuilder(config)
    assert builder.build(NOW).next_publish is not None
    assert "Later" not in (site.output_dir / "all.json").read_text("utf-8")
    builder.build(datetime(2026, 2, 1, 0, 5, tzinfo=UTC))
    assert "Later" in (site.output_dir / "all.json").read_text("utf-8")


# -- the process pool ----------------------------------------------------------------------------


def test_failed_build_with_pool_rendering_leaves_no_staged_files_and_old_output(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_site(site, count=6)
    SiteBuilder(config, pool=False).build(NOW)
    before = files_of(config.output_dir)
    text = post_text("New", 20, tags=["a"], categories=["Tech"], body="New post.")
    write(site.posts_dir / "2025-12-20-new.md", text, OLD_MTIME)
    from feedsmith.publish import output

    real = output._plan_file
    calls = {"n": 0}

    def failing(*args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:  # workers have staged several groups' files by now
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(output, "_plan_file", failing)
    with pytest.raises(build.BuildError, match="disk full"):
        SiteBuilder(config, pool=True).build(NOW + timedelta(hours=1))
    leftovers = [p for p in config.output_dir.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert files_of(config.output_dir) == before


def test_pool_and_single_process_builds_are_byte_identical(site: Any) -> None:
    config = small_site(site, count=6)
    write(site.posts_dir / "broken.md", "---\ntitle: [unclosed\n---\nx\n", OLD_MTIME)
    with_pool = with_dirs(config, site.root / "pool")
    without = with_dirs(config, site.root / "single")
    report_pool = SiteBuilder(with_pool, pool=True).build(NOW)
    report_single = SiteBuilder(without, pool=False).build(NOW)
    assert files_of(with_pool.output_dir) == files_of(without.output_dir)
    assert report_pool.problems == report_single.problems


# -- random histories ----------------------------------------------------------------------------

TAGS = ["AI", "ai", "ＡＩ", "python", "ニュース", "web"]
CATEGORIES = ["Tech", "tech", "Life", "投資"]
SLOTS = [f"p{i}" for i in range(6)]


class IncrementalMatchesCold(RuleBasedStateMachine):
    """One long-lived builder through random edits; after every step its output must equal a
    build that starts from nothing but the previous state (no parse cache, no signatures, no
    memo, every feed rendered) — bytes of every file, ``index.json`` and ``.gz`` included.

    Why the previous ``state.json`` is copied: ``updated`` times and the manifest's ``changed``
    legitimately depend on history. Its ``groups`` signatures are dropped so the reference
    renders every feed. The reference writes into its own folder, which holds the previous
    reference output (equal to the incremental one, checked the step before), so the
    manifest's ``generated`` — "last build that changed any output" — is comparable too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.tmp: Path | None = None

    @initialize(tmp=st.just(None))
    def setup(self, tmp: None) -> None:
        import tempfile

        self.tmp = Path(tempfile.mkdtemp(prefix="feedsmith-incr-"))
        self.posts = self.tmp / "posts"
        self.posts.mkdir()
        cfg_path = self.tmp / "config.yaml"
        cfg_path.write_text(
            "site:\n  title: Incr\n  url: https://incr.example.com\n"
            "posts_dir: posts\noutput_dir: feeds\nstate_dir: state\ntimezone: UTC\n"
            "feed:\n  max_entries: 3\n",
            "utf-8",
        )
        self.config = load_config(cfg_path)
        self.reference = with_dirs(self.config, self.tmp / "ref")
        self.builder = SiteBuilder(self.config)
        self.now = NOW
        self.mtime = OLD_MTIME
        self.live: dict[str, str] = {}  # file name -> slot
        self.prev_state: bytes | None = None

    def teardown(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _write(self, name: str, slot: int, data: st.DataObject) -> None:
        text = post_text(
            data.draw(st.sampled_from(["Alpha", "Beta", "ガンマ", "Delta"])),
            slot + 1 + data.draw(st.integers(0, 2)),
            tags=data.draw(st.lists(st.sampled_from(TAGS), max_size=3)),
            categories=data.draw(st.lists(st.sampled_from(CATEGORIES), max_size=2)),
            body=data.draw(st.sampled_from(["one", "two **b**", "三", "[l](x.html)"])),
            draft=data.draw(st.booleans()) and data.draw(st.booleans()),
        )
        self.mtime += 10**9
        write(self.posts / name, text, self.mtime)

    @rule(slot=st.integers(0, len(SLOTS) - 1), data=st.data())
    def add_or_edit(self, slot: int, data: st.DataObject) -> None:
        name = next((n for n, s in self.live.items() if s == SLOTS[slot]), None)
        name = name or f"2025-12-{slot + 1:02d}-{SLOTS[slot]}.md"
        self._write(name, slot, data)
        self.live[name] = SLOTS[slot]

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.live)))
        (self.posts / name).unlink()
        del self.live[name]

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.live)))
        prefix = data.draw(st.sampled_from(["a", "b"]))
        new = f"moved/{prefix}-{Path(name).name.split('-', 1)[-1]}"
        if new in self.live or new == name:
            return
        (self.posts / new).parent.mkdir(exist_ok=True)
        (self.posts / name).rename(self.posts / new)
        self.live[new] = self.live.pop(name)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data())
    def touch(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.live)))
        self.mtime += 10**9
        os.utime(self.posts / name, ns=(self.mtime, self.mtime))

    @precondition(lambda self: bool(self.live) and self.builder.watching)
    @rule(data=st.data())
    def rewrite_keeping_size_and_mtime(self, data: st.DataObject) -> None:
        """A write a stat cannot see (same size, same mtime): only the watcher tells."""
        path = self.posts / data.draw(st.sampled_from(sorted(self.live)))
        before = path.stat()
        text = path.read_bytes()
        if b" 10:00:00 " in text:
            text = text.replace(b" 10:00:00 ", b" 11:00:00 ")
        else:
            text = text.replace(b" 11:00:00 ", b" 10:00:00 ")
        path.write_bytes(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    @precondition(lambda self: self.builder.watching)
    @rule(data=st.data())
    def damage_output(self, data: st.DataObject) -> None:
        """Someone deletes or overwrites a published file: the next build repairs it, even
        when no post changed. The reference's copy gets the same damage (its build repairs it
        too, which makes the manifest's ``generated`` comparable)."""
        out = self.config.output_dir
        files = sorted(p for p in out.rglob("*") if p.is_file()) if out.exists() else []
        if not files:
            return
        rel = data.draw(st.sampled_from(files)).relative_to(out)
        delete = data.draw(st.booleans())
        for path in (out / rel, self.reference.output_dir / rel):
            if delete:
                path.unlink(missing_ok=True)
            elif path.parent.exists():
                path.write_bytes(b"damaged")

    @rule()
    def nothing(self) -> None:
        pass

    @invariant()
    def incremental_equals_cold(self) -> None:
        if self.tmp is None:
            return
        self.now += timedelta(hours=1)
        state_path = self.config.state_dir / "state.json"
        ref_state = self.reference.state_dir / "state.json"
        ref_state.parent.mkdir(parents=True, exist_ok=True)
        if state_path.exists():
            # the state as read (state.json and its journal), not the base file alone
            prev = json.loads(dumps_state(load_state(state_path)))
            prev["groups"] = {}
            ref_state.write_text(json.dumps(prev), "utf-8")
            journal_path(ref_state).unlink(missing_ok=True)  # the reference's last journal
        before = files_of(self.config.output_dir) if self.config.output_dir.exists() else {}
        report = self.builder.build(self.now)
        SiteBuilder(self.reference, persist_cache=False, pool=False, watch=False).build(self.now)
        got = files_of(self.config.output_dir)
        want = files_of(self.reference.output_dir)
        assert got.keys() == want.keys()
        for rel in got:
            assert got[rel] == want[rel], rel
        if got == before:
            assert report.files_written == () and report.files_removed == ()


# 15 random histories of 12 steps per run (each run draws new ones; FEEDSMITH_INCREMENTAL_
# EXAMPLES raises it for a long soak): enough to find a divergence, at ~half a minute.
IncrementalMatchesCold.TestCase.settings = settings(
    max_examples=int(os.environ.get("FEEDSMITH_INCREMENTAL_EXAMPLES", "15")),
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIncrementalMatchesCold = IncrementalMatchesCold.TestCase
