"""The id map's shortcut (``identity._all_own``: every post at its own record, edits whose new
content key no record holds) gives exactly what the full matching gives, for any map and any
set of posts: generated blogs, edits, renames, copies, swaps and deletions included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core import identity
from feedsmith.core.identity import Record, assign
from feedsmith.core.model import ParseOutcome, Post

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def make_post(source: str, slug: str, day: int, key: str | None) -> Post:
    date = BASE + timedelta(days=day)
    return Post(
        source=source,
        id=f"tag:example.com,{date:%Y-%m-%d}:{slug}",
        slug=slug,
        title=slug,
        url=f"https://example.com/{slug}/",
        date=date,
        updated=date,
        updated_explicit=False,
        categories=(),
        tags=(),
        authors=(),
        summary="",
        content_html="",
        content_hash=key or "",
        identity_key=key,
    )


NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])
KEYS = st.sampled_from(["k1", "k2", "k3", "k4", "k5", "", None])
post_spec = st.tuples(NAMES, NAMES, st.integers(0, 3), KEYS)
record_spec = st.tuples(NAMES, NAMES, st.integers(0, 3), KEYS, st.booleans())


def scenario(
    posts: list[tuple[str, str, int, str | None]],
    records: list[tuple[str, str, int, str | None, bool]],
) -> tuple[list[ParseOutcome], dict[str, Record], set[str]]:
    outcomes = []
    seen: set[str] = set()
    for name, slug, day, key in posts:
        source = f"{name}.md"
        if source in seen:
            continue
        seen.add(source)
        outcomes.append(ParseOutcome(make_post(source, slug, day, key), [], None, source))
    known: dict[str, Record] = {}
    for name, slug, day, key, same_id in records:
        post = make_post(f"{name}.md", slug, day, key)
        record_id = post.id if same_id else post.id + "-old"
        day_text = f"{BASE + timedelta(days=day):%F}"
        known[f"{name}.md"] = Record(record_id, key or None, day_text, slug)
    return outcomes, known, set(seen)


def summary(result: identity.Assigned) -> list[object]:
    return [
        (o.post.source, o.post.id) if o.post else (o.display_path, [p.reason for p in o.problems])
        for o in result.outcomes
    ] + [[p.reason for p in result.held]]


@settings(max_examples=400, deadline=None)
@given(st.lists(post_spec, max_size=6), st.lists(record_spec, max_size=6))
def test_the_shortcut_gives_what_the_full_matching_gives(
    posts: list[tuple[str, str, int, str | None]],
    records: list[tuple[str, str, int, str | None, bool]],
) -> None:
    outcomes, known, present = scenario(posts, records)
    fast = assign(outcomes, known, present, memo={})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(identity, "_all_own", lambda *_: False)
        full = assign(outcomes, known, present, memo={})
    assert summary(fast) == summary(full)


def test_an_edit_takes_the_shortcut_and_a_copy_of_another_posts_text_does_not() -> None:
    posts = [("a", "a", 0, "k1"), ("b", "b", 1, "k2")]
    records = [("a", "a", 0, "k1", True), ("b", "b", 1, "k2", True)]
    outcomes, known, _ = scenario(posts, records)
    assert identity._all_own(outcomes, known)
    edited, _, _ = scenario([("a", "a", 0, "k9"), ("b", "b", 1, "k2")], [])
    assert identity._all_own(edited, known)
    copied, _, _ = scenario([("a", "a", 0, "k2"), ("b", "b", 1, "k5")], [])
    assert not identity._all_own(copied, known)  # a's new text is b's old: a swap, maybe
    renamed, _, _ = scenario([("c", "a", 0, "k1"), ("b", "b", 1, "k2")], [])
    assert not identity._all_own(renamed, known)
