"""state: honest ``updated`` times and a state file that survives crashes and corruption."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.model import Post
from feedsmith.core.state import BuildState, apply_updates, dumps_state, json_bytes
from feedsmith.pipeline.statefile import load_state, save_state

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


# -- the cheap paths of apply_updates must be invisible -------------------------------------------


def reference_apply_updates(
    posts: list[Post], state: BuildState, now: datetime
) -> tuple[list[Post], dict[str, dict[str, str]]]:
    """The plain algorithm ``apply_updates`` must stay equal to: re-parse, re-format, replace."""
    out: list[Post] = []
    entries: dict[str, dict[str, str]] = {}
    fresh = []
    for post in posts:
        prev = state.entries.get(post.id)
        given = False
        if prev is None:
            changed, given = post.date, True
        elif prev["hash"] == post.content_hash:
            changed = datetime.fromisoformat(prev["changed"])
            if changed.tzinfo is None:
                changed = post.date
        else:
            changed, given = now, True
        changed = max(changed, post.date)
        entries[post.id] = {"hash": post.content_hash, "changed": changed.isoformat()}
        if given and not post.updated_explicit:
            fresh.append((changed, post.id, len(out), prev is not None and changed == now))
        if not post.updated_explicit and post.updated != changed:
            post = dataclasses.replace(post, updated=changed)
        out.append(post)

    # a time given now moves by whole seconds off every second another entry holds: back from
    # now (not before the post's date), else forward
    def second(d: datetime) -> int:
        return math.floor(d.timestamp())

    placed = {i for _, _, i, _ in fresh}
    taken = {second(p.updated) for i, p in enumerate(out) if i not in placed}
    for changed, post_id, i, from_now in sorted(fresh, key=lambda f: f[:3]):
        n = len(out) + 1
        back = [changed - timedelta(seconds=k) for k in range(n)] if from_now else []
        ahead = [changed + timedelta(seconds=k) for k in range(n)]
        t = next(
            c for c in [c for c in back if c >= posts[i].date] + ahead if second(c) not in taken
        )
        taken.add(second(t))
        entries[post_id] = {"hash": entries[post_id]["hash"], "changed": t.isoformat()}
        if t != changed:
            updated = posts[i].updated
            out[i] = posts[i] if updated == t else dataclasses.replace(posts[i], updated=t)
    return out, entries


def assert_same_updates(posts: list[Post], state: BuildState, now: datetime) -> None:
    got_posts, got = apply_updates(posts, state, now)
    want_posts, want = reference_apply_updates(posts, state, now)
    assert got == want
    assert dumps_state(BuildState(entries=got)) == dumps_state(BuildState(entries=want))
    assert [set(e) for e in got.values()] == [set(e) for e in want.values()]
    for original, a, b in zip(posts, got_posts, want_posts, strict=True):
        assert (a is original) == (b is original)  # unchanged posts are passed through as is
        assert vars(a) == vars(b) and a.extra is b.extra
        assert a.updated.tzinfo == b.updated.tzinfo
        assert a.updated.utcoffset() == b.updated.utcoffset()


#: Ways a remembered time may be spelled: isoformat's own, and others fromisoformat reads.
SPELLINGS = [
    lambda d: d.isoformat(),
    lambda d: d.isoformat(sep=" "),
    lambda d: d.isoformat(timespec="microseconds"),
    lambda d: d.isoformat(timespec="milliseconds"),
    lambda d: d.isoformat(timespec="minutes"),
    lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    lambda d: d.isoformat()[:-3] + d.isoformat()[-2:],  # +0900
    lambda d: d.astimezone(UTC).isoformat().replace("+00:00", "-00:00"),
    lambda d: d.replace(tzinfo=None).isoformat(),  # naive
    lambda d: d.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
    lambda d: d.astimezone(timezone(timedelta(seconds=-3601))).isoformat(),
]


@pytest.mark.parametrize("spelling", range(len(SPELLINGS)))
def test_remembered_times_in_any_spelling_are_written_as_isoformat_writes_them(
    spelling: int,
) -> None:
    post = make_post()
    for when in (PUBLISHED + timedelta(days=3, microseconds=250), PUBLISHED + timedelta(days=3)):
        changed = SPELLINGS[spelling](when)
        state = BuildState(entries={post.id: {"hash": "h1", "changed": changed}})
        assert_same_updates([post], state, T2)


def test_odd_previous_entries_are_rebuilt_not_reused() -> None:
    post = make_post()
    written = (PUBLISHED + timedelta(days=1)).isoformat()
    for prev in (
        {"hash": "h1", "changed": written, "note": "kept by someone"},
        {"changed": written, "hash": "h1"},
        {"hash": "h1", "changed": "2025-11-17T20:35:04+05:60"},
    ):
        assert_same_updates([post], BuildState(entries={post.id: prev}), T2)


def test_entries_of_vanished_posts_are_never_inspected() -> None:
    post = make_post()
    written = (PUBLISHED + timedelta(days=1)).isoformat()
    junk: dict[str, Any] = {
        "tag:gone,1": "not an entry",
        "tag:gone,2": {"hash": "x"},
        "tag:gone,3": {"hash": "x", "changed": f"{written}\n{written}"},
        post.id: {"hash": "h1", "changed": written},
    }
    assert_same_updates([post], BuildState(entries=junk), T2)


ZONES = [UTC, JST, timezone(timedelta(hours=-3, minutes=-30)), ZoneInfo("Europe/Berlin")]


@st.composite
def posts_and_state(draw: st.DrawFn) -> tuple[list[Post], BuildState]:
    posts: list[Post] = []
    entries: dict[str, Any] = {}
    moments = st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
    )
    for i in range(draw(st.integers(0, 6))):
        date = draw(moments).astimezone(draw(st.sampled_from(ZONES)))
        explicit = draw(st.booleans())
        updated = draw(moments) if explicit else date
        if not explicit and draw(st.booleans()):  # a post object from an earlier build
            updated = draw(moments)
        post = dataclasses.replace(
            make_post(draw(st.sampled_from(["h1", "h2"])), post_id=f"p{i}", date=date),
            updated=updated,
            updated_explicit=explicit,
        )
        posts.append(post)
        if draw(st.booleans()):
            spell = draw(st.sampled_from(SPELLINGS))
            entry = {"hash": draw(st.sampled_from(["h1", "h2"])), "changed": spell(draw(moments))}
            if draw(st.integers(0, 9)) == 0:
                entry = {"changed": entry["changed"], "hash": entry["hash"], "x": "y"}
            entries[post.id] = entry
    if draw(st.booleans()):
        entries["vanished"] = {"hash": "h1", "changed": "garbage"}
    return posts, BuildState(entries=entries)


@settings(max_examples=300, deadline=None)
@given(posts_and_state(), st.sampled_from([T1, T2, datetime(2030, 1, 1, tzinfo=UTC)]))
def test_apply_updates_equals_the_plain_algorithm(
    case: tuple[list[Post], BuildState], now: datetime
) -> None:
    posts, state = case
    assert_same_updates(posts, state, now)
    # ...and again on its own output, as the next build would see it.
    _, entries = apply_updates(posts, state, now)
    assert_same_updates(posts, BuildState(entries=entries), now + timedelta(days=1))


def test_a_post_whose_updated_moves_is_copied_like_dataclasses_replace() -> None:
    post = dataclasses.replace(make_post("h2"), extra={"layout": "post"})
    state = BuildState(entries={post.id: {"hash": "h1", "changed": T1.isoformat()}})
    [moved], _ = apply_updates([post], state, T2)
    assert moved is not post and moved.updated == T2 and post.updated == PUBLISHED
    assert vars(moved) == vars(dataclasses.replace(post, updated=T2))
    assert moved.extra is post.extra


# -- json_bytes: orjson must write exactly what the json module would --------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(st.characters(exclude_categories=("Cs",))),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(st.characters(exclude_categories=("Cs",))), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_json_bytes_equal_the_json_modules_compact_sorted_output(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert json_bytes(value) == (expected + "\n").encode("utf-8")


def test_json_bytes_falls_back_to_json_for_what_orjson_refuses() -> None:
    value = {"big": 2**70, "b": [1]}
    assert json_bytes(value) == b'{"b":[1],"big":1180591620717411303424}\n'


def test_apply_updates_memo_hands_back_the_same_objects_and_equal_results() -> None:
    posts = [
        make_post(f"h{i}", post_id=f"p{i}", date=PUBLISHED + timedelta(days=i)) for i in range(4)
    ]
    # p0 and p3 were edited once before: their updated moves to T1, so the result is a copy.
    seen = {"hash": "old", "changed": PUBLISHED.isoformat()}
    before = BuildState(entries={"p0": seen, "p3": seen})
    first_memo: dict[int, Any] = {}
    out1, entries1 = apply_updates(posts, before, T1, remember=first_memo)
    assert out1[0] is not posts[0] and out1[0].updated == T1
    state = BuildState(entries=dict(entries1))
    state.entries["p2"] = dict(entries1["p2"])  # rewritten by someone else: an equal new object
    edited = dataclasses.replace(posts[1], content_hash="h1-new")  # a new object, new text
    new_posts = [posts[0], edited, posts[2], posts[3]]
    second_memo: dict[int, Any] = {}
    out2, entries2 = apply_updates(new_posts, state, T2, memo=first_memo, remember=second_memo)
    plain_out, plain_entries = apply_updates(new_posts, state, T2)
    assert out2 == plain_out and entries2 == plain_entries
    assert out2[0] is out1[0] and out2[3] is out1[3]  # untouched: the very same objects
    assert plain_out[0] is not out1[0]
    assert out2[1].updated == T2  # the edit is seen
    assert entries2["p2"] is state.entries["p2"] and entries2["p2"] is not entries1["p2"]
