"""The ``.gz`` sidecars (zlib-ng, see ``staging.gzip_bytes``): deterministic and plain gzip.

Static servers hand the sidecar to any client as ``Content-Encoding: gzip``, and builds decide
whether to rewrite a sidecar by comparing bytes, so both properties matter: every gzip reader
must accept the stream, and the same input must give the same bytes in every process.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.publish.staging import GZIP_LEVEL, gzip_bytes


def feed_like(n: int) -> bytes:
    """Some kilobytes that compress like a real feed: XML markup, Japanese and English text."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">']
    for i in range(n):
        parts.append(
            f"<entry><id>https://example.com/posts/{i}</id><title>記事 {i}: 最新ニュース</title>"
            f'<updated>2025-11-{i % 28 + 1:02d}T09:00:00Z</updated><content type="html">'
            f"&lt;p&gt;本文 {i * 7919 % 1000} は日本語の段落です。Some English text, entry {i}."
            "&lt;/p&gt;</content></entry>"
        )
    parts.append("</feed>\n")
    return "\n".join(parts).encode()


SAMPLES = [b"", b"x", b"hello" * 100, feed_like(3), feed_like(400), os.urandom(50_000)]


@pytest.mark.parametrize("data", SAMPLES, ids=lambda d: f"{len(d)}B")
def test_python_gzip_reads_it_back(data: bytes) -> None:
    assert gzip.decompress(gzip_bytes(data)) == data
    assert zlib.decompress(gzip_bytes(data), wbits=31) == data


def test_header_is_fixed_mtime_zero_no_name() -> None:
    packed = gzip_bytes(feed_like(50))
    magic, method, flags, mtime, _xfl, os_byte = struct.unpack("<HBBIBB", packed[:10])
    assert (magic, method) == (0x8B1F, 8)  # gzip, deflate
    assert flags == 0  # no FNAME, FCOMMENT, FEXTRA, FHCRC: nothing that could vary
    assert mtime == 0
    assert os_byte == 255  # "unknown", whichever platform built it
    data = feed_like(50)
    assert struct.unpack("<II", packed[-8:]) == (zlib.crc32(data), len(data))


@pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip(1) on this machine")
def test_gzip_command_accepts_it(tmp_path: Path) -> None:
    data = feed_like(400)
    path = tmp_path / "all.atom.xml.gz"
    path.write_bytes(gzip_bytes(data))
    subprocess.run(["gzip", "-t", str(path)], check=True)
    out = subprocess.run(["gzip", "-dc", str(path)], check=True, capture_output=True).stdout
    assert out == data


def test_same_bytes_every_time_in_this_process() -> None:
    data = feed_like(400)
    first = gzip_bytes(data)
    # Other work in between (different sizes, so the allocator hands out dirtied memory)
    # must not change what the compressor picks.
    for other in (os.urandom(70_000), feed_like(900), b"a" * 200_000):
        gzip_bytes(other)
        assert gzip_bytes(data) == first


def test_same_bytes_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """A pool worker, another build or another day: a new process must agree byte for byte."""
    samples = [feed_like(3), feed_like(400), b"hello" * 100]
    for i, data in enumerate(samples):
        (tmp_path / f"{i}.bin").write_bytes(data)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from feedsmith.publish.staging import gzip_bytes\n"
        "for p in sys.argv[1:]:\n"
        "    print(gzip_bytes(Path(p).read_bytes()).hex())\n"
    )
    args = [str(tmp_path / f"{i}.bin") for i in range(len(samples))]
    out = subprocess.run(
        [sys.executable, "-c", script, *args], check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == [gzip_bytes(d).hex() for d in samples]


def test_level_is_fixed_and_smaller_than_input() -> None:
    assert 1 <= GZIP_LEVEL <= 9
    data = feed_like(400)
    assert len(gzip_bytes(data)) < len(data) // 4  # feeds compress well at this level


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=20_000))
def test_round_trip_and_determinism_for_any_bytes(data: bytes) -> None:
    packed = gzip_bytes(data)
    assert packed == gzip_bytes(data)
    assert gzip.decompress(packed) == data
