"""A new process's planning after an edit: a group none of whose posts changed, with as many
posts as when the documents' rows were saved, takes its documents' rows without matching their
posts one by one (``DocRows.clean``); every other group is matched post by post. Whatever
changed, the output is byte for byte what a build without rows writes, and a published file
deleted or edited by hand is still found and written again. Counters and bytes, not time."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.config import Config
from feedsmith.pipeline import docrows
from feedsmith.pipeline.docrows import ROWS_FILE, DocRows
from test_edit_path import OLD_MTIME, write_post
from test_edit_path_fresh_rows import NOW, _twin_sites, fresh_build, tree


def spy_rows(monkeypatch: pytest.MonkeyPatch) -> list[DocRows]:
    """Every ``DocRows`` a planning loads, kept for the test to look at."""
    loaded: list[DocRows] = []
    real = docrows.load

    def load(path: Path, fingerprint: str) -> DocRows:
        rows = real(path, fingerprint)
        loaded.append(rows)
        return rows

    monkeypatch.setattr(docrows, "load", load)
    return loaded


def rebuild_both(configs: list[Config], minutes: int) -> Any:
    """The first site builds with its rows, the second with none (everything worked out from
    scratch, the reference); both trees must be the same bytes."""
    kept = fresh_build(configs[0], NOW + timedelta(minutes=minutes))
    (configs[1].state_dir / ROWS_FILE).unlink(missing_ok=True)
    fresh_build(configs[1], NOW + timedelta(minutes=minutes))
    assert tree(configs[0].output_dir) == tree(configs[1].output_dir)
    return kept


def write_front(site: Any, i: int, front: dict[str, Any], body: str, mtime_ns: int) -> None:
    path: Path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", body, ""]
    path.write_text("\n".join(lines), "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_edit_matches_post_by_post_only_the_groups_showing_the_post(
    make_site: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = spy_rows(monkeypatch)
    sites, configs = _twin_sites(make_site, "rows", "none")
    for s in sites:  # post 23: category Tech, tag blue (see test_edit_path.post_text)
        write_post(s, 23, "Edited!", OLD_MTIME + 1000)
    loaded.clear()
    kept = rebuild_both(configs, 1)
    rows = loaded[0]
    names = {name.split("\x00")[1] for name in rows.clean}
    assert {"life", "red", "green"} <= names
    assert not names & {"all", "tech", "blue"}
    assert kept.planner.rows_held > kept.planner.memo_missed > 0


def test_a_clean_groups_rows_are_taken_without_the_posts_slots(
    make_site: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every group clean (nothing a group shows changed) no slot is ever made."""
    sites, configs = _twin_sites(make_site, "rows", "none")
    asked: list[int] = []
    real = DocRows._slots

    def slots(self: DocRows) -> dict[int, int] | None:
        asked.append(1)
        return real(self)

    monkeypatch.setattr(DocRows, "_slots", slots)
    # A post touched (same bytes, new mtime): the fast path cannot answer, so the planning
    # runs, and no group shows anything that changed.
    for s in sites:
        path = s.posts_dir / "2025-11-24-p23.md"
        os.utime(path, ns=(OLD_MTIME + 5000, OLD_MTIME + 5000))
    kept = rebuild_both(configs, 1)
    assert kept.planner.memo_missed == 0
    assert kept.planner.rows_held == kept.planner.memo_held > 0
    assert asked == []


@pytest.mark.parametrize(
    "change",
    ["category moved", "tag dropped", "post deleted", "post added"],
)
def test_a_group_that_lost_or_gained_a_post_is_matched_post_by_post(
    make_site: Callable[[str], Any], change: str
) -> None:
    """A group that lost a post (moved elsewhere, dropped, deleted) has fewer posts than its
    saved count; one that gained one has a stale post: neither is clean, and the archive
    pages cut anew from it are what a build without rows writes."""
    sites, configs = _twin_sites(make_site, "rows", "none")
    for s in sites:
        front = {"title": "Post 3", "date": "2025-11-04 10:00:00 +0000"}
        if change == "category moved":
            write_front(s, 3, {**front, "categories": ["Life"], "tags": ["red"]}, "x", OLD_MTIME)
        elif change == "tag dropped":
            write_front(s, 3, {**front, "categories": ["Tech"]}, "Body 3.", OLD_MTIME + 3)
        elif change == "post deleted":
            (s.posts_dir / "2025-11-04-p3.md").unlink()
        else:
            write_front(s, 30, {**front, "title": "New", "categories": ["Tech"]}, "n", OLD_MTIME)
    rebuild_both(configs, 1)
    for s in sites:  # and back again
        write_post(s, 3, "Body 3.", OLD_MTIME + 3)
        (s.posts_dir / "2025-11-31-p30.md").unlink(missing_ok=True)
    rebuild_both(configs, 2)


def test_a_date_moved_within_its_second_reorders_its_groups_as_without_rows(
    make_site: Callable[[str], Any],
) -> None:
    """Two posts in the same second, ``updated`` given: moving one's date within that second
    leaves its line (whole seconds) and ``updated`` as they were, yet may swap the two in
    their groups. Its key has the exact date, so it is stale and its groups are matched."""
    sites, configs = _twin_sites(make_site, "rows", "none")
    same = {"categories": ["Tech"], "tags": ["red"], "updated": "2025-12-01 00:00:00 +0000"}
    for s in sites:
        write_front(s, 5, {"title": "A", "date": "2025-11-07 10:00:00.5 +0000", **same}, "a", 1)
        write_front(s, 6, {"title": "B", "date": "2025-11-07 10:00:00.25 +0000", **same}, "b", 1)
    rebuild_both(configs, 1)
    for s in sites:
        write_front(s, 5, {"title": "A", "date": "2025-11-07 10:00:00.1 +0000", **same}, "a", 2)
    rebuild_both(configs, 2)


@pytest.mark.parametrize("damage", ["deleted", "edited", "gz deleted", "archive page edited"])
def test_a_file_damaged_by_hand_is_written_again_by_a_new_process_after_an_edit(
    make_site: Callable[[str], Any], damage: str
) -> None:
    """The damaged file belongs to a clean group (its rows taken whole): the disk check of
    every kept file still finds it."""
    sites, configs = _twin_sites(make_site, "rows", "none")
    out = configs[0].output_dir
    archive = sorted(p for p in (out / "archive").rglob("*.gz") if "categories" in p.parts)
    target = {
        "deleted": out / "categories" / "life.atom.xml",
        "edited": out / "tags" / "red.json",
        "gz deleted": out / "tags" / "green.rss.xml.gz",
        "archive page edited": archive[0],
    }[damage]
    assert target.is_file()
    want = target.read_bytes()
    for s in sites:
        write_post(s, 23, "Edited!", OLD_MTIME + 1000)
    if damage.endswith("deleted"):
        target.unlink()
    else:
        target.write_bytes(b"edited by hand" + want[14:])
    rebuild_both(configs, 1)
    assert target.read_bytes() == want


def test_a_real_new_process_after_an_edit_writes_a_hand_edited_file_again(site: Any) -> None:
    """The same through ``python -m feedsmith build``, each a process of its own."""
    import subprocess
    import sys

    from test_edit_path import blog

    blog(site)

    def build() -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        subprocess.run(
            [sys.executable, "-m", "feedsmith", "-c", str(site.config_path), "build"],
            check=True,
            env=env,
            capture_output=True,
            timeout=300,
        )

    build()
    assert (site.root / ".feedsmith" / ROWS_FILE).is_file()
    target = site.output_dir / "categories" / "life.json"
    want = target.read_bytes()
    write_post(site, 23, "Edited!", OLD_MTIME + 1000)
    target.write_bytes(b"edited by hand" + want[14:])
    build()
    assert target.read_bytes() == want
    write_post(site, 21, "Edited too!", OLD_MTIME + 2000)
    target.unlink()
    build()
    assert target.read_bytes() == want
