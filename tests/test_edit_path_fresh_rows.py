"""A new process (``feedsmith build``) after one edited post works out only the documents showing
that post: the others are taken from the rows the last process left in ``state_dir``
(:mod:`feedsmith.pipeline.docrows`). A missing, stale, torn, damaged or foreign rows file only
costs time: the output is byte for byte what a build without it writes. Counters, not time."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.config import Config
from feedsmith.pipeline import SiteBuilder, docrows
from feedsmith.pipeline.docrows import ROWS_FILE
from feedsmith.pipeline.listing import intact, records_intact
from feedsmith.pipeline.memo import published_rows, rows_intact
from feedsmith.pipeline.quick import STATE_FILE
from feedsmith.pipeline.statefile import load_state
from test_edit_path import OLD_MTIME, blog, documents_showing, write_post

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def fresh_build(config: Config, at: datetime) -> SiteBuilder:
    """What ``feedsmith build`` does: a builder of its own, one build."""
    builder = SiteBuilder(config, pool=False, watch=False)
    builder.build(at)
    return builder


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_a_new_process_after_an_edit_works_out_only_the_documents_showing_the_post(
    site: Any,
) -> None:
    config = blog(site)
    builder = fresh_build(config, NOW)
    total = builder.planner.memo_missed
    assert builder.planner.memo_held == 0 and total > 10
    assert (config.state_dir / ROWS_FILE).is_file()
    # The newest post is in the subscription documents; the oldest on the archive pages only.
    for n, (i, title) in enumerate(((23, "Post 23"), (0, "Post 0"), (23, "Post 23"))):
        showing = documents_showing(builder, title)
        write_post(site, i, f"Changed {n}!", OLD_MTIME + 1000 + n)
        builder = fresh_build(config, NOW + timedelta(minutes=1 + n))
        assert builder.last_rendered > 0
        assert builder.planner.memo_missed == len(showing), title
        assert builder.planner.rows_held == builder.planner.memo_held == total - len(showing)


def test_a_post_whose_time_changed_within_its_second_misses(site: Any) -> None:
    """A post's line has whole seconds; the rows remember the exact ``updated`` too, which the
    OPML's signature uses as it is."""
    config = blog(site)
    path = site.posts_dir / "2025-11-06-p5.md"
    fresh_build(config, NOW)
    text = path.read_text("utf-8").replace("10:00:00 +0000", "10:00:00.25 +0000")
    path.write_text(text, "utf-8")
    builder = fresh_build(config, NOW + timedelta(minutes=1))
    showing = documents_showing(builder, "Post 5")
    assert showing and builder.planner.memo_missed == len(showing)


def _missing(path: Path) -> None:
    path.unlink()


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot json at all")


def _torn(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _tampered(path: Path) -> None:
    """Valid JSON, the header intact, a row's signature changed: the checksum says no."""
    head, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(head + b"\n" + body.replace(b'"rows":{"', b'"rows":{"x', 1))


def _wrong_shape(path: Path) -> None:
    """A checksum that matches a body of the wrong shape (someone rewrote the file)."""
    import hashlib

    body = b'{"rows":{"all:all":[1,2]},"posts":"no"}'
    head = b'{"version":3,"fingerprint":"%s","sha256":"%s"}' % (
        _fingerprint(path).encode(),
        hashlib.sha256(body).hexdigest().encode(),
    )
    path.write_bytes(head + b"\n" + body)


def _fingerprint(path: Path) -> str:
    import orjson

    return str(orjson.loads(path.read_bytes().partition(b"\n")[0])["fingerprint"])


def _other_fingerprint(path: Path) -> None:
    head, _, body = path.read_bytes().partition(b"\n")
    fp = _fingerprint(path).encode()
    path.write_bytes(head.replace(fp, b"0" * len(fp)) + b"\n" + body)


def _twin_sites(make_site: Callable[[str], Any], *names: str) -> tuple[list[Any], list[Any]]:
    """Sites with the same settings and posts, each built once from nothing."""
    sites = [make_site(name) for name in names]
    configs = []
    for s in sites:
        s.settings = copy.deepcopy(sites[0].settings)
        configs.append(blog(s))
    for config in configs:
        fresh_build(config, NOW)
    return sites, configs


@pytest.mark.parametrize(
    "spoil",
    [_missing, _garbage, _torn, _tampered, _wrong_shape, _other_fingerprint],
    ids=lambda f: f.__name__.strip("_"),
)
def test_unusable_rows_cost_time_not_bytes(
    make_site: Callable[[str], Any], spoil: Callable[[Path], None]
) -> None:
    """Two identical sites edited alike: one keeps its rows, the other's are spoiled before
    each build. The second works everything out again and writes exactly the same files."""
    sites, configs = _twin_sites(make_site, "kept", "spoiled")
    total = None
    for n, i in enumerate((23, 0, 7)):
        for s in sites:
            write_post(s, i, f"Edit {n} of post {i}.", OLD_MTIME + 1000 + n)
        kept = fresh_build(configs[0], NOW + timedelta(minutes=1 + n))
        spoil(configs[1].state_dir / ROWS_FILE)
        spoiled = fresh_build(configs[1], NOW + timedelta(minutes=1 + n))
        total = spoiled.planner.memo_missed + spoiled.planner.memo_held
        assert spoiled.planner.rows_held == 0
        assert spoiled.planner.memo_missed == total
        assert kept.planner.rows_held > total // 2
        assert tree(configs[0].output_dir) == tree(configs[1].output_dir)
        # ... and the spoiled site saved good rows again.
        assert (configs[1].state_dir / ROWS_FILE).is_file()


def test_stale_rows_from_an_older_build_cost_time_not_bytes(
    make_site: Callable[[str], Any],
) -> None:
    """Rows left by a build three edits ago (a service ran since, or a copy put back): only
    documents still as they were then are taken; the output is what a build without rows
    writes."""
    sites, configs = _twin_sites(make_site, "stale", "none")
    old = (configs[0].state_dir / ROWS_FILE).read_bytes()
    for n, i in enumerate((23, 0, 12, 23)):
        for s, config in zip(sites, configs, strict=True):
            write_post(s, i, f"Edit {n} of post {i}.", OLD_MTIME + 1000 + n)
            if n < 3:
                fresh_build(config, NOW + timedelta(minutes=1 + n))
    (configs[0].state_dir / ROWS_FILE).write_bytes(old)
    (configs[1].state_dir / ROWS_FILE).unlink()
    stale = fresh_build(configs[0], NOW + timedelta(hours=1))
    none = fresh_build(configs[1], NOW + timedelta(hours=1))
    assert 0 < stale.planner.rows_held < none.planner.memo_missed
    assert tree(configs[0].output_dir) == tree(configs[1].output_dir)


def test_rows_are_not_saved_again_for_a_few_misses_and_then_cost_those_documents_only(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below :data:`RESAVE_SHARE` of documents missed, the rows file is left as it was: the
    next process misses the edited post's documents again (and only those)."""
    monkeypatch.setattr(docrows, "RESAVE_SHARE", 0.9)
    config = blog(site)
    builder = fresh_build(config, NOW)
    rows = config.state_dir / ROWS_FILE
    saved = rows.read_bytes()
    showing = documents_showing(builder, "Post 23")
    write_post(site, 23, "Changed!", OLD_MTIME + 1000)
    builder = fresh_build(config, NOW + timedelta(minutes=1))
    assert builder.planner.memo_missed == len(showing)
    assert rows.read_bytes() == saved
    builder = fresh_build(config, NOW + timedelta(minutes=2))  # nothing changed: fast path
    write_post(site, 23, "Changed again!", OLD_MTIME + 2000)
    builder = fresh_build(config, NOW + timedelta(minutes=3))
    assert builder.planner.memo_missed == len(showing)
    assert rows.read_bytes() == saved


def test_the_builders_disk_check_and_the_memos_rows_find_each_damaged_file(site: Any) -> None:
    """One check, two inputs: ``listing.records_intact`` (a new process's check of every kept
    document's files, on the state's records) and ``memo.rows_intact`` (the no-change question,
    on the memo's rows) agree with ``listing.intact`` file by file, and each finds every file
    (or ``.gz`` twin) touched or deleted, one by one."""
    config = blog(site)
    fresh_build(config, NOW)
    files = load_state(config.state_dir / STATE_FILE).files
    out = config.output_dir
    rows = published_rows(files)
    assert rows is not None

    def agree() -> bool:
        each = [intact(out, rel, rec) for rel, rec in files.items()]
        whole = records_intact(out, files.items())
        assert whole is rows_intact(out, rows) is all(each)
        return whole

    assert agree()
    names = sorted({*files, *(rel + ".gz" for rel in files)})
    damaged = 0
    for name in names:  # ~190 files
        path = out / name
        if not path.exists():
            continue
        damaged += 1
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
        assert not agree(), name
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        data = path.read_bytes()
        path.unlink()
        assert not agree(), name
        path.write_bytes(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert agree()
    assert damaged > len(files)  # plain files and their twins
    assert intact(out, "all.json", None) is False
    partial = {k: v for k, v in files["all.json"].items() if k != "gz_mtime_ns"}
    assert intact(out, "all.json", partial) is False
    assert records_intact(out, [*files.items(), ("all.json", partial)]) is False
