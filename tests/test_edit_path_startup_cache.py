"""Saving the parse cache after a few entries changed packs only their chunks and copies the
others from the file it loaded; the file reads back exactly as a full save's would. Checked by
counting chunks packed and by comparing what loads back, not by time."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from feedsmith.pipeline import cache
from feedsmith.pipeline.cache import Chunks, Entry, load_index, save_index
from test_cache import assert_same, make_index

FP = "fingerprint"


@pytest.fixture
def packed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Entries per chunk packed (not copied), in order, with chunks of 3."""
    monkeypatch.setattr(cache, "CHUNK", 3)
    sizes: list[int] = []
    real = cache._pack_chunk

    def counting(packer: object, members: list[tuple[str, Entry]]) -> bytes:
        sizes.append(len(members))
        return real(packer, members)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "_pack_chunk", counting)
    return sizes


def edited(entry: Entry, n: int) -> Entry:
    return dataclasses.replace(entry, size=entry.size + n, sha256=f"edited{n}")


def full_save(tmp_path: Path, index: dict[str, Entry]) -> bytes:
    path = tmp_path / "full" / cache.CACHE_FILE
    save_index(path, FP, index)
    return path.read_bytes()


def saved_and_loaded(tmp_path: Path) -> tuple[Path, Chunks, dict[str, Entry]]:
    """A 9-entry cache saved in full, then loaded with its chunks recorded."""
    path = tmp_path / "state" / cache.CACHE_FILE
    save_index(path, FP, make_index(8))
    chunks = Chunks()
    return path, chunks, load_index(path, FP, chunks)


def test_an_edit_packs_one_chunk_and_the_file_is_what_a_full_save_writes(
    tmp_path: Path, packed: list[int]
) -> None:
    path, chunks, index = saved_and_loaded(tmp_path)
    assert len(index) == 9 and len(chunks.spans) == 3  # 3 + 3 + 3
    rel = list(index)[4]
    index[rel] = edited(index[rel], 1)  # in place: the dict keeps its order
    packed.clear()
    save_index(path, FP, index, chunks)
    assert packed == [3]  # only the middle chunk
    again = load_index(path, FP)
    assert again == index
    assert_same(again, index)
    assert path.read_bytes() == full_save(tmp_path, index)
    # The chunks now describe the new file: a second edit packs its own chunk only.
    packed.clear()
    index[list(index)[7]] = edited(index[list(index)[7]], 2)
    save_index(path, FP, index, chunks)
    assert packed == [3]  # the last chunk: the middle one is copied from the new file
    assert load_index(path, FP) == index


def test_an_added_entry_packs_the_chunks_from_where_it_went(
    tmp_path: Path, packed: list[int]
) -> None:
    path = tmp_path / "state" / cache.CACHE_FILE
    full = make_index(8)
    rels = list(full)
    missing = rels[4]
    save_index(path, FP, {r: e for r, e in full.items() if r != missing})
    chunks = Chunks()
    index = load_index(path, FP, chunks)
    index = {r: (full[r] if r == missing else index[r]) for r in rels}  # back in its place
    packed.clear()
    save_index(path, FP, index, chunks)
    assert len(index) == 9
    assert packed == [3, 3]  # the first chunk is as it was; the rest moved
    assert load_index(path, FP) == index


def test_a_file_replaced_since_loading_is_never_copied_from(
    tmp_path: Path, packed: list[int]
) -> None:
    path, chunks, index = saved_and_loaded(tmp_path)
    other = make_index(5)  # another process saved another index meanwhile
    save_index(path, FP, other)
    os.utime(path, ns=(1, 1))
    packed.clear()
    save_index(path, FP, index, chunks)
    assert packed == [3, 3, 3]
    assert load_index(path, FP) == index


def test_a_missing_or_corrupt_cache_leaves_nothing_to_copy(tmp_path: Path) -> None:
    path = tmp_path / "state" / cache.CACHE_FILE
    chunks = Chunks(file=(1, 2, 3), spans=[(0, 1, [])])
    assert load_index(path, FP, chunks) == {}
    assert (chunks.file, chunks.spans) == (None, [])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x93garbage")
    assert load_index(path, FP, chunks) == {}
    assert chunks.spans == []
