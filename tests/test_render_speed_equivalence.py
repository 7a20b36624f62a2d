"""The fast paths of the renderers against plain references: JSON items through orjson, the date
formatters, and whole documents from render_group with text the JSON encoder must escape."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedsmith.config import config_from_mapping
from feedsmith.core import documents
from feedsmith.core.config import Config
from feedsmith.core.groups import group_posts
from feedsmith.core.model import Author, Post
from feedsmith.core.render import common, jsonfeed
from feedsmith.core.render.entries import EntryCache, PackedEntryCache
from test_feeds import make_post  # the same hand-made post as the reference tests

BASE = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def reference_item_bytes(item: dict[str, Any]) -> bytes | type[Exception]:
    """What render_json writes for one item inside ``items``: json.dumps(indent=2), two levels
    in, UTF-8 (or the kind of error it ends in)."""
    try:
        text = json.dumps(item, ensure_ascii=False, indent=2, allow_nan=False)
        return text.replace("\n", "\n    ").encode("utf-8")
    except ValueError as exc:  # UnicodeEncodeError is a ValueError too
        return type(exc)


def fast_item_bytes(item: dict[str, Any]) -> bytes | type[Exception]:
    try:
        return jsonfeed._json_item_bytes(item)
    except ValueError as exc:
        return type(exc)


# Everything the JSON encoder escapes or could spell differently: controls, quotes,
# backslashes, DEL, line/paragraph separators, non-BMP, U+FFFE/FFFF, and lone surrogates.
_ANY_TEXT = st.text(
    alphabet=st.characters(codec=None, categories=None)
    | st.sampled_from(list('\x00\x01\x1f\x7f"\\/\n\r\t\b\f\u2028\u2029\ufffe\uffff😀日é\ud800')),
    max_size=16,
)
_READING_TIME = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**64 + 2)
    | st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e-7, 1e16, 1e22, 5e-324, 0.1, 2.5, -0.0, 123456789.123, 1.5e300])
)


@st.composite
def _json_posts(draw: st.DrawFn) -> Post:
    authors = tuple(
        Author(
            draw(_ANY_TEXT),
            email=draw(st.none() | _ANY_TEXT),
            uri=draw(st.none() | _ANY_TEXT),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    return make_post(
        1,
        id=draw(_ANY_TEXT),
        url=draw(_ANY_TEXT),
        title=draw(_ANY_TEXT),
        summary=draw(_ANY_TEXT),
        content_html=draw(_ANY_TEXT),
        image=draw(st.none() | _ANY_TEXT),
        lang=draw(st.none() | _ANY_TEXT),
        authors=authors,
        categories=tuple(draw(st.lists(_ANY_TEXT, max_size=2))),
        tags=tuple(draw(st.lists(_ANY_TEXT, max_size=3))),
        extra={"reading_time": draw(_READING_TIME)},
        date=draw(st.datetimes(timezones=st.just(UTC))),
    )


@given(post=_json_posts(), full=st.booleans())
@settings(deadline=None, max_examples=400)
@example(post=make_post(1, extra={"reading_time": 1e-7}), full=True)  # orjson: 1e-7
@example(post=make_post(1, extra={"reading_time": 2**64}), full=True)  # beyond orjson
@example(post=make_post(1, title="lone \ud800 surrogate"), full=True)  # orjson refuses
@example(post=make_post(1, title="\x00\x1f\x7f\u2028"), full=False)
def test_json_item_bytes_match_json_dumps(post: Post, full: bool) -> None:
    item = jsonfeed._json_item(post, full)
    assert fast_item_bytes(item) == reference_item_bytes(item)


def test_orjson_spells_the_item_values_like_the_json_module() -> None:
    """The premise of the orjson path, checked directly on the values an item can hold."""
    every_char = "".join(chr(c) for c in range(0x80)) + "\u2028\u2029\ufffe\uffff😀日é"
    assert orjson.dumps(every_char) == json.dumps(every_char, ensure_ascii=False).encode()
    for number in (0, -1, 2**63 - 1, -(2**63), 2**64 - 1):
        assert orjson.dumps(number) == str(number).encode()
    value = {"a": [], "b": {}, "c": [1, {"d": "e"}], "f": "g"}
    assert orjson.dumps(value, option=orjson.OPT_INDENT_2) == json.dumps(value, indent=2).encode()


_TZ = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_TZ))
@settings(deadline=None, max_examples=500)
@example(datetime(5, 1, 2, 3, 4, 5, 999999, tzinfo=UTC))
@example(datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-9))))
def test_date_formatters_match_their_field_by_field_definition(dt: datetime) -> None:
    u = dt.astimezone(UTC)
    iso = f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"
    rfc = (
        f"{DAYS[u.weekday()]}, {u.day:02d} {MONTHS[u.month - 1]} {u.year:04d} "
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d} +0000"
    )
    assert common.rfc3339(dt) == iso
    assert common.rfc822(dt) == rfc
    feed_date = common.feed_date(dt)
    assert feed_date.isoformat() == iso  # what feedgen asks for Atom
    assert feed_date.strftime(common.RFC2822_FORMAT) == rfc  # … and for RSS


def _config(tmp_path: Path, **feed: Any) -> Config:
    (tmp_path / "posts").mkdir(exist_ok=True)
    raw: dict[str, Any] = {
        "site": {"title": "T", "url": "https://b.example", "author": "A", "language": "ja"},
        "posts_dir": "posts",
    }
    if feed:
        raw["feed"] = feed
    return config_from_mapping(raw, tmp_path / "config.yaml")


@given(posts=st.lists(_json_posts(), max_size=4), content=st.sampled_from(["full", "summary"]))
@settings(deadline=None, max_examples=150)
def test_json_documents_from_items_match_render_json(
    tmp_path_factory: pytest.TempPathFactory, posts: list[Post], content: str
) -> None:
    """JSON Feed documents spliced from orjson items equal render_json's (json module) bytes,
    with any text: render_group's JSON path never goes through lxml, so no text is off-limits
    (errors, such as a lone surrogate, must be the same kind)."""
    config = _config(tmp_path_factory.mktemp("site"), content=content, formats=["json"])
    posts = [
        make_post(n, **{f: getattr(p, f) for f in ("title", "summary", "content_html", "extra")})
        for n, p in enumerate(posts, start=1)
    ]
    for group in group_posts(posts, {})[0]:
        try:
            expected: bytes | type[Exception] = documents.render_json(group, config)
        except ValueError as exc:
            expected = type(exc)
        cache = EntryCache()
        keys = [p.id for p in group.posts[: config.feed.max_entries]]
        try:
            got: bytes | type[Exception] = documents.render_group(group, config)["json"]
            # Again from cached fragments, packed and unpacked as a builder keeps them.
            documents.render_group(group, config, cache=cache, keys=keys)
            packed = PackedEntryCache()
            for key in keys:
                frags = cache.get(key)
                assert frags is not None
                packed.put(key, frags)
            again = documents.render_group(group, config, cache=packed, keys=keys)["json"]
            assert again == got
        except ValueError as exc:
            got = type(exc)
        assert got == expected
        if isinstance(got, bytes):
            json.loads(got)


def test_a_float_reading_time_orjson_would_spell_differently_stays_repr(tmp_path: Path) -> None:
    config = _config(tmp_path)
    posts = [make_post(1, extra={"reading_time": 1e-7}), make_post(2, extra={"reading_time": 2.5})]
    group = group_posts(posts, {})[0][0]
    data = documents.render_group(group, config)["json"]
    assert data == documents.render_json(group, config)
    assert b'"reading_time": 1e-07' in data and b'"reading_time": 2.5' in data
    assert not math.isnan(json.loads(data)["items"][0]["_feedsmith"]["reading_time"])


def test_entry_fragments_are_utf8_bytes_in_every_format(tmp_path: Path) -> None:
    """Fragments are bytes (JSON too), so splicing and packing never encode text again."""
    frags = documents._entry_fragments(make_post(1), _config(tmp_path), ("atom", "rss", "json"))
    assert sorted(frags) == ["atom", "json", "rss"]
    assert all(isinstance(f, bytes) for f in frags.values())


def test_json_document_still_splices_text_items_from_older_caches(tmp_path: Path) -> None:
    config = _config(tmp_path, formats=["json"])
    group = group_posts([make_post(1), make_post(2)], {})[0][0]
    items = [jsonfeed._json_item_bytes(jsonfeed._json_item(p, True)).decode() for p in group.posts]
    assert jsonfeed._json_document(
        group, config, documents.doc_links(group, config, "json"), items
    ) == documents.render_json(group, config)
