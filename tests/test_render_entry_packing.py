"""Packed entries: what a long-lived builder keeps of every shown entry, and what crosses to
the pool's workers. They must give back exactly what was packed, and cost one compression
per entry — its formats together, not one stream each."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.config import config_from_mapping
from feedsmith.core import documents
from feedsmith.core.render import entries
from feedsmith.core.render.entries import PackedEntryCache, pack_entry, unpack_entry
from test_feeds import make_post  # the same hand-made post as the reference tests

_fragment = st.one_of(st.text(max_size=300), st.binary(max_size=300))


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(["atom", "rss", "json", "x"]), _fragment))
def test_a_packed_entry_unpacks_to_the_same_fragments_in_the_same_order(
    frags: dict[str, bytes | str],
) -> None:
    back = unpack_entry(pack_entry(frags))
    assert back == frags
    assert list(back) == list(frags)
    assert [type(v) for v in back.values()] == [type(v) for v in frags.values()]


def _real_fragments(tmp_path: Path) -> dict[str, bytes | str]:
    (tmp_path / "posts").mkdir(exist_ok=True)
    config = config_from_mapping(
        {
            "site": {"title": "T", "url": "https://b.example", "author": "A", "language": "ja"},
            "posts_dir": "posts",
        },
        tmp_path / "config.yaml",
    )
    words = [hashlib.sha256(str(i).encode()).hexdigest()[: 3 + i % 7] for i in range(400)]
    body = "".join(f"<p>{' '.join(words[i : i + 20])} 日本語</p>" for i in range(0, 400, 20))
    post = make_post(1, content_html=body)
    return documents.entry_fragments(post, config, ("atom", "rss", "json"))


def test_an_entry_is_compressed_once_for_all_its_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frags = _real_fragments(tmp_path)
    calls: list[int] = []
    real = entries.zlib_ng.compress

    def counting(data: Any, level: int = -1) -> bytes:
        calls.append(len(data))
        return real(data, level)

    monkeypatch.setattr(entries.zlib_ng, "compress", counting)
    packed = pack_entry(frags)
    assert len(calls) == 1
    assert unpack_entry(packed) == frags


def test_formats_packed_together_take_far_fewer_bytes_than_packed_apart(tmp_path: Path) -> None:
    # The three formats repeat the same title, link, dates and content.
    frags = _real_fragments(tmp_path)
    apart = sum(len(pack_entry({fmt: frag})[1]) for fmt, frag in frags.items())
    together = len(pack_entry(frags)[1])
    assert together < 0.75 * apart


def test_entries_of_the_same_formats_share_one_layout_object(tmp_path: Path) -> None:
    a = pack_entry({"atom": b"<entry>a</entry>", "json": '{"id": "a"}'})
    b = pack_entry({"atom": b"<entry>bb</entry>", "json": '{"id": "bb"}'})
    assert a[0] is b[0]


def test_the_packed_cache_gives_back_what_was_put() -> None:
    cache = PackedEntryCache(2)
    cache.put("k", {"atom": b"<entry/>", "json": "{}"})
    assert cache.get("k") == {"atom": b"<entry/>", "json": "{}"}
    assert unpack_entry(cache.get_packed("k") or ((), b"")) == {"atom": b"<entry/>", "json": "{}"}
