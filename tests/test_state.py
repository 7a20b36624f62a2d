"""state: honest ``updated`` times and a state file that survives crashes and corruption."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from feedsmith.model import Post
from feedsmith.state import BuildState, apply_updates, dumps_state, load_state, save_state

JST = timezone(timedelta(hours=9))
PUBLISHED = datetime(2025, 11, 16, 20, 35, 4, tzinfo=JST)
T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 5, 9, 0, tzinfo=UTC)


def make_post(
    content_hash: str = "h1",
    *,
    post_id: str = "tag:blog.example.com,2025-11-16:/p",
    date: datetime = PUBLISHED,
    updated: datetime | None = None,
) -> Post:
    return Post(
        source="2025-11-16-p.md",
        id=post_id,
        slug="p",
        title="P",
        url="https://blog.example.com/p.html",
        date=date,
        updated=updated or date,
        updated_explicit=updated is not None,
        categories=(),
        tags=(),
        authors=(),
        summary="s",
        content_html="<p>s</p>",
        content_hash=content_hash,
    )


def test_first_sight_uses_publish_date() -> None:
    posts, entries = apply_updates([make_post()], BuildState(), T1)
    assert posts[0].updated == PUBLISHED
    assert entries[posts[0].id] == {"hash": "h1", "changed": PUBLISHED.isoformat()}


def test_unchanged_hash_keeps_remembered_time_across_rebuilds() -> None:
    _, entries = apply_updates([make_post()], BuildState(), T1)
    posts, entries = apply_updates([make_post("h2")], BuildState(entries=entries), T1)
    assert posts[0].updated == T1
    again, entries2 = apply_updates([make_post("h2")], BuildState(entries=entries), T2)
    assert again[0].updated == T1
    assert entries2 == entries


def test_text_edit_moves_updated_but_never_published() -> None:
    _, entries = apply_updates([make_post("h1")], BuildState(), T1)
    posts, _ = apply_updates([make_post("h2")], BuildState(entries=entries), T2)
    assert posts[0].updated == T2
    assert posts[0].date == PUBLISHED


def test_explicit_updated_wins_but_hash_is_still_tracked() -> None:
    explicit = datetime(2025, 11, 20, tzinfo=UTC)
    _, entries = apply_updates([make_post("h1")], BuildState(), T1)
    posts, entries = apply_updates(
        [make_post("h2", updated=explicit)], BuildState(entries=entries), T2
    )
    assert posts[0].updated == explicit
    assert entries[posts[0].id]["changed"] == T2.isoformat()


def test_updated_is_never_before_published() -> None:
    state = BuildState(
        entries={make_post().id: {"hash": "h1", "changed": "2020-01-01T00:00:00+00:00"}}
    )
    posts, _ = apply_updates([make_post("h1")], state, T1)
    assert posts[0].updated == PUBLISHED


def test_vanished_posts_are_dropped_from_entries() -> None:
    gone = make_post(post_id="tag:x,2025:/gone")
    _, entries = apply_updates([make_post(), gone], BuildState(), T1)
    _, entries = apply_updates([make_post()], BuildState(entries=entries), T2)
    assert set(entries) == {make_post().id}


def test_apply_updates_does_not_mutate_the_state() -> None:
    state = BuildState()
    apply_updates([make_post()], state, T1)
    assert state.entries == {}


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    state = BuildState(
        entries={"id": {"hash": "h", "changed": T1.isoformat()}},
        slugs={"tag:最新ニュース": "最新ニュース"},
        files={"tags/最新ニュース.atom.xml": {"sha256": "ab", "bytes": 3, "changed": "x"}},
        gone={"tags/old.atom.xml": "2025-12-01T00:00:00Z"},
        generated="2025-12-01T00:00:00Z",
    )
    path = tmp_path / "deep" / "state.json"
    assert save_state(path, state) is True
    assert load_state(path) == state
    assert "最新ニュース" in path.read_text("utf-8")  # readable, not \\u-escaped


def test_saving_identical_state_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, BuildState(slugs={"tag:a": "a"}))
    before = path.stat().st_mtime_ns
    assert save_state(path, BuildState(slugs={"tag:a": "a"})) is False
    assert path.stat().st_mtime_ns == before


def test_state_bytes_are_deterministic() -> None:
    a = BuildState(slugs={"tag:b": "b", "tag:a": "a"})
    b = BuildState(slugs={"tag:a": "a", "tag:b": "b"})
    assert dumps_state(a) == dumps_state(b)


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load_state(tmp_path / "nope.json") == BuildState()


def test_corrupt_state_is_empty_and_logged(tmp_path: Path, caplog) -> None:
    for raw in (b"{not json", b"\xff\xfe", b"[]", json.dumps({"version": 99}).encode()):
        path = tmp_path / "state.json"
        path.write_bytes(raw)
        assert load_state(path) == BuildState()
    bad_entry = {"version": 1, "entries": {"id": {"hash": 1}}}
    path.write_text(json.dumps(bad_entry))
    assert load_state(path) == BuildState()
    assert "corrupt" in caplog.text


def test_save_leaves_no_temp_files(tmp_path: Path) -> None:
    save_state(tmp_path / "state.json", BuildState())
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
