"""Grouping, name merging and slugs, tested on hand-made Posts (no parsing involved)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from feedsmith.groups import (
    MAX_SLUG_BYTES,
    FeedGroup,
    group_posts,
    is_safe_slug,
    normalize_name,
    slugify,
)
from feedsmith.model import Author, Post

BASE = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)


def make_post(n: int, **overrides: Any) -> Post:
    date = overrides.pop("date", BASE + timedelta(hours=n))
    fields: dict[str, Any] = {
        "source": f"_posts/p{n}.md",
        "id": f"tag:example.com,2025-11-16:p{n:03d}",
        "slug": f"p{n}",
        "title": f"Post {n}",
        "url": f"https://example.com/p{n}.html",
        "date": date,
        "updated": date,
        "updated_explicit": False,
        "categories": (),
        "tags": (),
        "authors": (Author("Writer"),),
        "summary": f"Summary {n}",
        "content_html": f"<p>Body {n}</p>",
        "content_hash": f"h{n}",
    }
    fields.update(overrides)
    return Post(**fields)


def by_kind(groups: list[FeedGroup], kind: str) -> dict[str, FeedGroup]:
    return {g.key: g for g in groups if g.kind == kind}


def test_normalize_name_merges_case_and_width_and_spaces() -> None:
    assert normalize_name("AI") == normalize_name("ai") == normalize_name("ＡＩ") == "ai"
    assert normalize_name("  Machine \t Learning ") == "machine learning"


def test_slugify_keeps_japanese_and_dashes_other_runs() -> None:
    assert slugify("最新ニュース") == "最新ニュース"
    assert slugify("Machine Learning!") == "machine-learning"
    assert slugify("  C++ / Rust  ") == "c-rust"
    assert slugify("ＡＩ") == "ai"


def test_slugify_keeps_combining_marks_composed() -> None:
    decomposed = "カ\u3099イド"  # ガイド with a combining voiced mark
    assert slugify(decomposed) == "ガイド"
    assert slugify("cafe\u0301") == "café"


def test_slugify_of_symbol_only_name_is_a_stable_hash() -> None:
    plus = slugify("+++")
    assert plus.startswith("h-") and len(plus) == 10
    assert plus == slugify("+++")
    assert slugify("#") != plus
    assert is_safe_slug(plus)


def test_slugify_bounds_long_names_and_keeps_them_distinct() -> None:
    a = slugify("長" * 200 + "A")
    b = slugify("長" * 200 + "B")
    assert a != b
    assert len(a.encode()) <= MAX_SLUG_BYTES and is_safe_slug(a)


def test_slug_is_never_a_dot_segment_or_path() -> None:
    for name in (".", "..", "../etc/passwd", "a/b", "\\", "   "):
        slug = slugify(name)
        assert slug not in (".", "..") and "/" not in slug and "\\" not in slug
        assert is_safe_slug(slug)


def test_tag_feed_merges_case_variants_and_shows_most_used_spelling() -> None:
    posts = [
        make_post(1, tags=("ai",)),
        make_post(2, tags=("AI",)),
        make_post(3, tags=("ＡＩ",)),
        make_post(4, tags=("AI",)),
    ]
    groups, _ = group_posts(posts, {})
    tags = by_kind(groups, "tag")
    assert list(tags) == ["ai"]
    assert tags["ai"].name == "AI"
    assert len(tags["ai"].posts) == 4
    # Entries carry the display spelling too, so they match the feed's title.
    assert all(p.tags == ("AI",) for p in tags["ai"].posts)


def test_spelling_tie_goes_to_the_oldest_post_whatever_the_input_order() -> None:
    posts = [make_post(2, tags=("Rust",)), make_post(1, tags=("rust",))]
    for order in (posts, posts[::-1]):
        groups, _ = group_posts(order, {})
        assert by_kind(groups, "tag")["rust"].name == "rust"


def test_groups_sorted_all_then_categories_then_tags_by_slug() -> None:
    posts = [
        make_post(1, categories=("Zeta", "Alpha"), tags=("b", "a")),
        make_post(2, categories=("投資分析",), tags=("最新ニュース",)),
    ]
    groups, _ = group_posts(posts, {})
    assert [(g.kind, g.slug) for g in groups] == [
        ("all", "all"),
        ("category", "alpha"),
        ("category", "zeta"),
        ("category", "投資分析"),
        ("tag", "a"),
        ("tag", "b"),
        ("tag", "最新ニュース"),
    ]


def test_categories_and_tags_are_separate_namespaces() -> None:
    groups, registry = group_posts([make_post(1, categories=("News",), tags=("news",))], {})
    assert by_kind(groups, "category")["news"].slug == "news"
    assert by_kind(groups, "tag")["news"].slug == "news"
    assert registry == {"category:news": "news", "tag:news": "news"}


def test_posts_newest_first_with_id_tie_break_whatever_the_input_order() -> None:
    same = BASE + timedelta(days=3)
    posts = [
        make_post(1, tags=("x",)),
        make_post(5, tags=("x",), date=same),
        make_post(4, tags=("x",), date=same),
        make_post(2, tags=("x",)),
    ]
    expected = [posts[2].id, posts[1].id, posts[3].id, posts[0].id]
    rng = random.Random(7)
    for _ in range(5):
        shuffled = posts[:]
        rng.shuffle(shuffled)
        groups, _ = group_posts(shuffled, {})
        assert [p.id for p in groups[0].posts] == expected
        assert [p.id for p in by_kind(groups, "tag")["x"].posts] == expected


def test_empty_input_still_gives_the_site_group() -> None:
    groups, registry = group_posts([], {})
    assert [(g.kind, g.slug, g.posts) for g in groups] == [("all", "all", ())]
    assert registry == {}


def test_colliding_names_get_distinct_slugs_deterministically() -> None:
    posts = [make_post(1, tags=("C++",)), make_post(2, tags=("C#",))]
    first, reg1 = group_posts(posts, {})
    second, reg2 = group_posts(posts[::-1], {})
    assert reg1 == reg2
    slugs = {g.name: g.slug for g in first if g.kind == "tag"}
    assert slugs == {g.name: g.slug for g in second if g.kind == "tag"}
    assert len(set(slugs.values())) == 2
    # Sorted by normalized name, "c#" is assigned first and gets the bare slug.
    assert slugs["C#"] == "c"
    assert slugs["C++"].startswith("c-") and len(slugs["C++"]) == 10


def test_symbol_only_tags_get_hash_slugs() -> None:
    groups, _ = group_posts([make_post(1, tags=("+++", "#"))], {})
    slugs = [g.slug for g in groups if g.kind == "tag"]
    assert len(set(slugs)) == 2
    assert all(s.startswith("h-") and is_safe_slug(s) for s in slugs)


def test_slug_stays_when_a_colliding_name_appears_later() -> None:
    _, registry = group_posts([make_post(1, tags=("C++",))], {})
    assert registry == {"tag:c++": "c"}
    groups, registry = group_posts(
        [make_post(1, tags=("C++",)), make_post(2, tags=("C#",))], registry
    )
    slugs = {g.name: g.slug for g in groups if g.kind == "tag"}
    assert slugs["C++"] == "c"  # kept, although "c#" sorts first
    assert slugs["C#"].startswith("c-")
    assert registry["tag:c++"] == "c"


def test_vanished_name_keeps_its_slug_reserved() -> None:
    _, registry = group_posts([make_post(1, tags=("C++",))], {})
    groups, registry = group_posts([make_post(2, tags=("C#",))], registry)
    # Subscribers of tags/c.* (C++) must not start receiving C# posts.
    assert by_kind(groups, "tag")["c#"].slug != "c"
    assert registry["tag:c++"] == "c"
    groups, _ = group_posts([make_post(3, tags=("c++",))], registry)
    assert by_kind(groups, "tag")["c++"].slug == "c"


def test_unsafe_registry_values_are_reassigned() -> None:
    bad = {"tag:x": "../x", "tag:y": "", "category:z": 5, "tag:w": "a/b"}
    groups, registry = group_posts(
        [make_post(1, tags=("x", "y", "w"), categories=("z",))],
        bad,  # type: ignore[arg-type]
    )
    assert registry == {"tag:x": "x", "tag:y": "y", "tag:w": "w", "category:z": "z"}
    assert all(is_safe_slug(g.slug) for g in groups)


def test_registry_input_is_not_mutated() -> None:
    registry = {"tag:c++": "c"}
    group_posts([make_post(1, tags=("C#",))], registry)
    assert registry == {"tag:c++": "c"}


def test_collision_suffix_keeps_long_slugs_within_file_name_limits() -> None:
    # A registry that already holds the bare and the hashed slug forces the fallbacks.
    long = "長" * 200
    bare = slugify(long)
    hashed = f"{bare}-{slugify(long).rsplit('-', 1)[1]}"
    registry = {"tag:x1": bare, "tag:x2": hashed}
    groups, _ = group_posts([make_post(1, tags=(long,))], registry)
    slug = by_kind(groups, "tag")[normalize_name(long)].slug
    assert slug not in (bare, hashed) and is_safe_slug(slug)
    assert len((slug + ".atom.xml.gz").encode()) <= 255
