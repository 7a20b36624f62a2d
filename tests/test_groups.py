"""Grouping, name merging and slugs, tested on hand-made Posts (no parsing involved)."""

from __future__ import annotations

import dataclasses
import random
import sys
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.groups import FeedGroup, group_posts
from feedsmith.core.model import Author, Post
from feedsmith.core.naming import MAX_SLUG_BYTES, is_safe_slug, normalize_name, slugify
from feedsmith.core.regrouping import record_grouping, regroup

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
        "default_author": True,  # the site default: no author feed unless a test names one
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


# --- The grouping rules against a literal implementation -------------------------------------
# group_posts takes shortcuts for speed (posting lists per spelling, counts from list lengths,
# copies without dataclasses.replace); these tests pin it to the rules as written, on inputs
# built to hit the cases the shortcuts must hand back to the literal rules: a post naming a key
# twice, names with an empty key, spellings tied on the count, equal dates and equal ids, the
# same post object passed twice.


def _literal_distinct(names: tuple[str, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in names:
        key = normalize_name(name)
        if key and key not in seen:
            seen.add(key)
            out.append((name, key))
    return out


def literal_groups(posts: list[Post]) -> dict[tuple[str, str], tuple[str, list[Post]]]:
    """(kind, key) -> (display name, posts newest first), straight from the rules."""
    chronological = sorted(sorted(posts, key=lambda p: p.id), key=lambda p: p.date)
    counts: dict[str, dict[str, dict[str, int]]] = {"category": {}, "tag": {}, "author": {}}
    members: dict[str, dict[str, list[Post]]] = {"category": {}, "tag": {}, "author": {}}
    for post in chronological:  # so a count dict's order is first-seen, oldest first
        authors = () if post.default_author else tuple(a.name for a in post.authors)
        for kind, names in (("category", post.categories), ("tag", post.tags), ("author", authors)):
            for name, key in _literal_distinct(names):
                spellings = counts[kind].setdefault(key, {})
                spellings[name] = spellings.get(name, 0) + 1
                members[kind].setdefault(key, []).append(post)
    display = {
        kind: {key: max(s.items(), key=lambda item: item[1])[0] for key, s in by_key.items()}
        for kind, by_key in counts.items()
    }

    def spelled(post: Post) -> Post:
        cats = tuple(display["category"][k] for _, k in _literal_distinct(post.categories))
        tags = tuple(display["tag"][k] for _, k in _literal_distinct(post.tags))
        if cats == post.categories and tags == post.tags:
            return post
        return dataclasses.replace(post, categories=cats, tags=tags)

    def newest_first(items: list[Post]) -> list[Post]:
        ordered = sorted(sorted(items, key=lambda p: p.id), key=lambda p: p.date, reverse=True)
        return [spelled(p) for p in ordered]

    result = {("all", "all"): ("all", newest_first(posts))}
    for kind, by_key in members.items():
        for key, items in by_key.items():
            result[(kind, key)] = (display[kind][key], newest_first(items))
    return result


ODD_NAMES = [
    "AI",
    "ai",
    "Ai",
    "ＡＩ",
    " ai ",
    "",
    "   ",
    "+++",
    "C++",
    "c++",
    "C#",
    "Rust",
    "rust",
    "ǰ",
    "ǰ",
    "café",
    "cafe\u0301",
    "Machine  Learning",
    "machine learning",
]
ZONES = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]

post_specs = st.lists(
    st.tuples(
        st.integers(0, 3),  # day: many equal dates
        st.sampled_from(ZONES),  # the same instant in other zones compares equal
        st.integers(0, 4),  # id: equal ids too
        st.lists(st.sampled_from(ODD_NAMES[:10]), max_size=3),
        st.lists(st.sampled_from(ODD_NAMES), max_size=5),
        st.lists(st.sampled_from(ODD_NAMES[:10]), max_size=2),  # authors: never re-spelled
    ),
    max_size=25,
)


def build_posts(specs: list[Any], repeats: list[int]) -> list[Post]:
    posts = [
        make_post(
            n,
            date=(BASE + timedelta(days=day)).astimezone(zone),
            id=f"id{ident}",
            categories=tuple(cats),
            tags=tuple(tags),
            authors=tuple(Author(name) for name in authors) or (Author("Writer"),),
            default_author=not authors,
            extra={"n": n},
        )
        for n, (day, zone, ident, cats, tags, authors) in enumerate(specs)
    ]
    # The same object passed twice (the build never does, but the result must not break).
    return posts + [posts[i % len(posts)] for i in repeats] if posts else posts


@given(post_specs, st.lists(st.integers(0, 30), max_size=2), st.randoms())
@settings(max_examples=300, deadline=None)
def test_groups_follow_the_literal_rules(specs: list[Any], repeats: list[int], rnd: Any) -> None:
    posts = build_posts(specs, repeats)
    rnd.shuffle(posts)
    groups, _ = group_posts(posts, {})
    got = {(g.kind, g.key): (g.name, list(g.posts)) for g in groups}
    want = literal_groups(posts)
    assert got == want
    for key, (_, expected) in want.items():
        assert [p.extra for p in got[key][1]] == [p.extra for p in expected]
        assert all(type(p) is Post for p in got[key][1])


def test_post_naming_a_key_twice_is_grouped_and_counted_once() -> None:
    posts = [
        make_post(1, tags=("ai", "AI", "ai")),  # counts as one "ai"
        make_post(2, tags=("AI",)),
        make_post(3, tags=("AI", "x")),
    ]
    groups, _ = group_posts(posts, {})
    ai = by_kind(groups, "tag")["ai"]
    assert ai.name == "AI"
    assert [p.id for p in ai.posts] == [posts[2].id, posts[1].id, posts[0].id]
    assert ai.posts[2].tags == ("AI",)


def test_names_with_nothing_in_them_are_dropped() -> None:
    groups, _ = group_posts([make_post(1, tags=("   ", "x", ""), categories=(" ",))], {})
    assert [(g.kind, g.key) for g in groups] == [("all", "all"), ("tag", "x")]
    assert groups[0].posts[0].tags == ("x",)
    assert groups[0].posts[0].categories == ()


def test_a_respelled_post_is_one_object_in_all_its_groups() -> None:
    post = make_post(1, tags=("ai", "x"), categories=("News",))
    groups, _ = group_posts([post, make_post(2, tags=("AI",)), make_post(3, tags=("AI",))], {})
    copies = {id(p) for g in groups for p in g.posts if p.source == post.source}
    assert len(copies) == 1
    (copy,) = (p for p in groups[0].posts if p.source == post.source)
    assert copy == dataclasses.replace(post, tags=("AI", "x"))
    assert copy.extra is post.extra
    assert post.tags == ("ai", "x")  # the input is left alone


def test_unchanged_posts_are_returned_as_given() -> None:
    posts = [make_post(1, tags=("x",)), make_post(2, tags=("y",))]
    groups, _ = group_posts(posts, {})
    assert {id(p) for p in groups[0].posts} == {id(p) for p in posts}


# --- Slug shortcuts against the per-character definition -------------------------------------


def test_every_alnum_character_is_a_letter_or_a_number() -> None:
    # naming.py treats an isalnum() string as all slug characters (categories L, N, M).
    wrong = [
        hex(c)
        for c in range(sys.maxunicode + 1)
        if chr(c).isalnum() and unicodedata.category(chr(c))[0] not in "LN"
    ]
    assert wrong == []


def _literal_bare_slug(text: str) -> str:
    out: list[str] = []
    dash = False
    for ch in text:
        if unicodedata.category(ch)[0] in "LNM":
            out.append(ch)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def _literal_is_safe_slug(slug: str) -> bool:
    return (
        bool(slug)
        and slug == slug.strip("-")
        and len(slug.encode("utf-8")) <= MAX_SLUG_BYTES + 24
        and unicodedata.normalize("NFKC", slug) == slug
        and all(ch == "-" or unicodedata.category(ch)[0] in "LNM" for ch in slug)
    )


slug_text = st.text(
    st.one_of(
        st.characters(max_codepoint=127),
        st.sampled_from("長ニュース-ガ\u3099\u0301é²①Ⅻ_ ."),
        st.characters(exclude_categories=("Cs",)),  # lone surrogates cannot be encoded at all
    ),
    max_size=20,
)


@given(slug_text)
@settings(max_examples=500, deadline=None)
def test_slug_shortcuts_match_the_per_character_rules(text: str) -> None:
    key = normalize_name(text)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", key).casefold())
    bare = _literal_bare_slug(folded)
    assert slugify(text) == bare or not bare or len(bare) > 80 or len(bare.encode()) > 180
    assert is_safe_slug(text) == _literal_is_safe_slug(text)
    assert is_safe_slug(bare) == _literal_is_safe_slug(bare)


def test_group_posts_memo_reuses_respelled_copies_only_for_the_same_post() -> None:
    posts = [
        make_post(1, tags=("Python",)),
        make_post(2, tags=("Python",)),
        make_post(3, tags=("python", "Web")),  # re-spelled to "Python": copied
    ]
    memo: dict[int, Any] = {}
    first, _ = group_posts(posts, {}, remember=memo)
    copy = by_kind(first, "tag")["python"].posts[0]
    assert copy is not posts[2] and copy.tags == ("Python", "Web")
    # Same input objects: the very same copy comes back; results equal the plain call's.
    again: dict[int, Any] = {}
    second, _ = group_posts(posts, {}, memo=memo, remember=again)
    assert second == group_posts(posts, {})[0]
    assert by_kind(second, "tag")["python"].posts[0] is copy
    # Once "python" wins the count, the held copy no longer has the right spellings.
    more = [*posts, make_post(4, tags=("python",)), make_post(5, tags=("python",))]
    third, _ = group_posts(more, {}, memo=again)
    assert third == group_posts(more, {})[0]
    assert all(p.tags[0] == "python" for p in by_kind(third, "tag")["python"].posts)


# -- regroup: the service's delta must equal group_posts ---------------------------------------

DELTA_NAMES = ["AI", "ai", "ＡＩ", "Rust", "rust", "C++", "c++", "Web", "café", "cafe\u0301"]

delta_specs = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(ZONES),
        st.lists(st.sampled_from(DELTA_NAMES[:6]), max_size=2),
        st.lists(st.sampled_from(DELTA_NAMES), max_size=3),
    ),
    min_size=1,
    max_size=20,
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["edit", "add", "remove", "retitle", "retitle", "retitle"]),
        st.integers(0, 100),
        st.integers(0, 3),
        st.lists(st.sampled_from(DELTA_NAMES[:6]), max_size=2),
        st.lists(st.sampled_from(DELTA_NAMES), max_size=3),
    ),
    min_size=1,
    max_size=4,
)


#: Authors by post number (and, for an edit, by its day): none named, variants, two at once.
AUTHOR_SETS: list[tuple[str, ...]] = [(), ("Ann",), ("ＡＮＮ", "Bob"), ("bob",)]


def with_authors(names: tuple[str, ...]) -> dict[str, Any]:
    if not names:
        return {"authors": (Author("Writer"),), "default_author": True}
    return {"authors": tuple(Author(name) for name in names), "default_author": False}


def delta_post(n: int, day: int, zone: Any, cats: list[str], tags: list[str]) -> Post:
    date = (BASE + timedelta(days=day, minutes=n % 3)).astimezone(zone)
    authors = with_authors(AUTHOR_SETS[n % len(AUTHOR_SETS)])
    return make_post(n, date=date, categories=tuple(cats), tags=tuple(tags), **authors)


@given(delta_specs, st.lists(operations, min_size=1, max_size=3))
@settings(max_examples=300, deadline=None)
def test_regroup_equals_group_posts_after_edits(specs: list[Any], rounds: list[Any]) -> None:
    posts = [delta_post(n, *spec) for n, spec in enumerate(specs)]
    memo: dict[int, Any] = {}
    groups, registry = group_posts(posts, {}, remember=memo)
    last = record_grouping(posts, groups, registry, memo)
    serial = len(posts)
    for ops in rounds:
        posts = list(posts)
        for op, index, day, cats, tags in ops:
            if op == "add":
                posts.append(delta_post(serial, day, UTC, cats, tags))
                serial += 1
            elif posts and op == "remove":
                posts.pop(index % len(posts))
            elif posts and op == "edit":  # same post, new names and date: a new object
                i = index % len(posts)
                date = BASE + timedelta(days=day, hours=1)
                posts[i] = dataclasses.replace(
                    posts[i],
                    date=date,
                    categories=tuple(cats),
                    tags=tuple(tags),
                    **with_authors(AUTHOR_SETS[day % len(AUTHOR_SETS)]),
                )
            elif posts:  # a text edit: same names and date
                i = index % len(posts)
                posts[i] = dataclasses.replace(posts[i], title="Retitled", content_hash="new")
        result = regroup(last, posts, last.registry)
        expected, expected_registry = group_posts(posts, last.registry)
        if result is None:
            memo = {}
            groups, registry = group_posts(posts, last.registry, remember=memo)
            last = record_grouping(posts, groups, registry, memo)
            continue
        groups, registry, last = result
        assert groups == expected and registry == expected_registry
        for got, want in zip(groups, expected, strict=True):
            assert [p.categories for p in got.posts] == [p.categories for p in want.posts]
            assert [p.tags for p in got.posts] == [p.tags for p in want.posts]


def test_regroup_takes_the_delta_for_a_text_edit_and_an_added_post() -> None:
    posts = [
        make_post(1, categories=("Tech",), tags=("AI", "Web")),
        make_post(2, categories=("Tech",), tags=("ai",)),
        make_post(3, categories=("Life",), tags=("AI",)),
    ]
    memo: dict[int, Any] = {}
    groups, registry = group_posts(posts, {}, remember=memo)
    last = record_grouping(posts, groups, registry, memo)
    edited = [dataclasses.replace(posts[0], title="New"), posts[1], posts[2]]
    edited.append(make_post(4, categories=("tech",), tags=("web",)))
    result = regroup(last, edited, registry)
    assert result is not None
    new_groups, new_registry, _ = result
    assert new_groups == group_posts(edited, registry)[0] and new_registry == registry
    life = by_kind(new_groups, "category")["life"]
    assert life is by_kind(groups, "category")["life"]  # untouched: the very same group
    assert regroup(last, edited, registry) is None  # a delta taken spends its base
    last = record_grouping(posts, groups, registry, memo)
    # A brand-new name needs a slug: that is group_posts' job.
    assert regroup(last, [*posts, make_post(5, tags=("Brand new",))], registry) is None
    assert regroup(last, posts, dict(registry)) is None  # not the registry it returned
