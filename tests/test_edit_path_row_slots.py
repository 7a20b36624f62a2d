"""A saved document row is taken by a new process only when the document shows the same posts,
in the same order, each with the key the row's file remembers (``docrows``): matched by the
posts' slots (their addresses, checked once), never by reading every shown post's id again."""

from __future__ import annotations

import dataclasses

from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Post
from feedsmith.pipeline.docrows import DocRows, Row, post_key, post_keys
from feedsmith.pipeline.signatures import post_line
from test_cache import make_post

SIG_KEY = "tag:t0"


def row_for(ids: list[int]) -> Row:
    return Row(
        "sig",
        "tag",
        "t0",
        "t0",
        "t0",
        None,
        ids,
        {"atom": "tags/t0.atom.xml"},
        None,
        None,
        {"atom": "/feeds/tags/t0.atom.xml"},
        ["tags/t0.atom.xml"],
        [],
        None,
    )


def rows_remembering(posts: list[Post], ids: list[int]) -> DocRows:
    return DocRows({SIG_KEY: row_for(ids)}, [[p.id, post_key(p, post_line(p))] for p in posts])


def group_of(*posts: Post) -> FeedGroup:
    return FeedGroup("tag", "t0", "t0", "t0", tuple(posts))


def checked(rows: DocRows, *groups: FeedGroup) -> DocRows:
    rows.check(post_keys(list(groups), post_line))
    return rows


def test_the_same_posts_in_the_same_order_take_the_row() -> None:
    posts = [make_post(i) for i in range(3)]
    group = group_of(*posts)
    rows = checked(rows_remembering(posts, [0, 1, 2]), group)
    memo = rows.memo(SIG_KEY, group, group.posts)
    assert memo is not None and memo.signature == "sig" and memo.shown == group.posts


def test_another_order_or_another_post_misses() -> None:
    posts = [make_post(i) for i in range(3)]
    group = group_of(*posts)
    assert (
        checked(rows_remembering(posts, [1, 0, 2]), group).memo(SIG_KEY, group, group.posts) is None
    )
    other = group_of(posts[0], posts[1], make_post(7))
    assert (
        checked(rows_remembering(posts, [0, 1, 2]), other).memo(SIG_KEY, other, other.posts) is None
    )


def test_a_changed_post_misses() -> None:
    posts = [make_post(i) for i in range(3)]
    edited = dataclasses.replace(posts[1], content_hash="edited")
    group = group_of(posts[0], edited, posts[2])
    rows = checked(rows_remembering(posts, [0, 1, 2]), group)
    assert rows.memo(SIG_KEY, group, group.posts) is None


def test_two_posts_with_one_id_and_different_lines_vouch_for_no_row() -> None:
    posts = [make_post(i) for i in range(3)]
    twin = dataclasses.replace(posts[1], content_hash="a twin")
    group = group_of(*posts)
    rows = checked(rows_remembering(posts, [0, 1, 2]), group, group_of(twin))
    assert rows.memo(SIG_KEY, group, group.posts) is None


def test_a_post_the_check_did_not_see_misses() -> None:
    posts = [make_post(i) for i in range(3)]
    group = group_of(*posts)
    rows = checked(rows_remembering(posts, [0, 1, 2]), group)
    copy = group_of(posts[0], dataclasses.replace(posts[1]), posts[2])  # equal, not the same
    assert rows.memo(SIG_KEY, copy, copy.posts) is None
