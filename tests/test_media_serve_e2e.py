"""``/media/`` over real HTTP from a real ``feedsmith serve`` process: what podcast players and
``<audio>`` elements send (ranges, conditionals, HEAD) and what probers send (traversal).

Slow by nature (a real server), so marked ``slow``; ``run_serve`` kills the process group
whatever happens.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from test_serve_e2e import Served, post_text, run_serve

SECRET = b"top secret: never served\n"


def media_bytes(size: int) -> bytes:
    """Bytes whose every offset is recognisable (no two 100-byte windows alike)."""
    return bytes((i * 7 + i // 256) % 251 for i in range(size))


AUDIO = media_bytes(5000)


@pytest.fixture
def served_media(site: Any, tmp_path: Path) -> Iterator[Served]:
    media = site.root / "media"
    (media / "episodes").mkdir(parents=True)
    (media / "episodes" / "ep1.mp3").write_bytes(AUDIO)
    (media / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (media / "empty.pdf").write_bytes(b"")
    (media / ".hidden.mp3").write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (site.root / "secret.mp3").write_bytes(SECRET)
    os.symlink(outside / "secret.txt", media / "escape.mp3")
    os.symlink(outside, media / "outdir")
    os.symlink(media / "episodes" / "ep1.mp3", media / "alias.mp3")  # inside: served
    site.settings["media_dir"] = "media"
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    with run_serve(site, tmp_path / "serve.log", interval=60) as served:
        yield served


def raw_get(
    served: Served, target: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """The request target exactly as given (urllib would clean some of it up)."""
    host, port = served.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


@pytest.mark.slow
def test_ranges_conditionals_and_head_are_answered_the_way_players_expect(
    served_media: Served,
) -> None:
    url = "/media/episodes/ep1.mp3"
    status, headers, body = raw_get(served_media, url)
    assert status == 200 and body == AUDIO
    assert headers["content-type"] == "audio/mpeg"
    assert headers["accept-ranges"] == "bytes"
    assert headers["content-length"] == str(len(AUDIO))
    etag, last_modified = headers["etag"], headers["last-modified"]

    status, headers, body = raw_get(served_media, url, {"Range": "bytes=0-99"})
    assert status == 206 and body == AUDIO[:100]
    assert headers["content-range"] == f"bytes 0-99/{len(AUDIO)}"
    assert headers["content-length"] == "100"

    status, headers, body = raw_get(served_media, url, {"Range": "bytes=-10"})
    assert status == 206 and body == AUDIO[-10:]
    assert headers["content-range"] == f"bytes {len(AUDIO) - 10}-{len(AUDIO) - 1}/{len(AUDIO)}"

    status, headers, body = raw_get(served_media, url, {"Range": "bytes=100-"})
    assert status == 206 and body == AUDIO[100:]
    assert headers["content-range"] == f"bytes 100-{len(AUDIO) - 1}/{len(AUDIO)}"

    # A last position past the end is cut to the end.
    status, _, body = raw_get(served_media, url, {"Range": "bytes=4990-99999"})
    assert status == 206 and body == AUDIO[4990:]

    # Several ranges: the whole file (RFC 9110 §14.2 allows it; see serve/media.py for why).
    status, headers, body = raw_get(served_media, url, {"Range": "bytes=0-9,20-29"})
    assert status == 200 and body == AUDIO and "content-range" not in headers

    for unsatisfiable in ("bytes=5000-", "bytes=99999-100000", "bytes=-0"):
        status, headers, _ = raw_get(served_media, url, {"Range": unsatisfiable})
        assert status == 416, unsatisfiable
        assert headers["content-range"] == f"bytes */{len(AUDIO)}"
    status, headers, _ = raw_get(served_media, "/media/empty.pdf", {"Range": "bytes=0-0"})
    assert status == 416 and headers["content-range"] == "bytes */0"

    # Malformed or another unit: ignored, the whole file.
    for ignored in ("bytes=9-1", "lines=0-1", "bytes=a-b"):
        status, _, body = raw_get(served_media, url, {"Range": ignored})
        assert status == 200 and body == AUDIO, ignored

    status, headers, body = raw_get(served_media, url, method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(AUDIO)) and headers["etag"] == etag
    status, headers, body = raw_get(served_media, url, {"Range": "bytes=0-99"}, method="HEAD")
    assert status == 206 and body == b"" and headers["content-length"] == "100"

    status, headers, body = raw_get(served_media, url, {"If-None-Match": etag})
    assert status == 304 and body == b"" and headers["etag"] == etag
    status, _, body = raw_get(served_media, url, {"If-Modified-Since": last_modified})
    assert status == 304 and body == b""
    status, _, body = raw_get(served_media, url, {"If-None-Match": '"other"'})
    assert status == 200 and body == AUDIO

    # If-Range: the range only if the client's copy is this version (resuming a download).
    status, _, body = raw_get(served_media, url, {"Range": "bytes=100-", "If-Range": etag})
    assert status == 206 and body == AUDIO[100:]
    status, _, body = raw_get(served_media, url, {"Range": "bytes=100-", "If-Range": '"old"'})
    assert status == 200 and body == AUDIO
    status, _, _ = raw_get(served_media, url, {"Range": "bytes=1-", "If-Range": last_modified})
    assert status == 206
    status, _, _ = raw_get(served_media, url, {"If-Match": '"old"'})
    assert status == 412

    # The file changes: a new validator, and the old one no longer gets a 304.
    (served_media.site.root / "media" / "episodes" / "ep1.mp3").write_bytes(AUDIO[::-1])
    status, headers, body = raw_get(served_media, url, {"If-None-Match": etag})
    assert status == 200 and body == AUDIO[::-1] and headers["etag"] != etag

    status, headers, _ = raw_get(served_media, "/media/cover.png")
    assert status == 200 and headers["content-type"] == "image/png"
    status, _, body = raw_get(served_media, "/media/alias.mp3")  # a symlink inside: fine
    assert status == 200 and body == AUDIO[::-1]
    assert raw_get(served_media, "/media/missing.mp3")[0] == 404
    assert raw_get(served_media, "/media/episodes/ep1.mp3", method="POST")[0] == 405


#: Every way out of media_dir a prober tries; all asked of one server (a start each would cost
#: seconds apiece for the same answer).
TRAVERSALS = [
    "/media/../secret.mp3",
    "/media/episodes/../../secret.mp3",
    "/media/%2e%2e/secret.mp3",
    "/media/%2E%2E/%2E%2E/outside/secret.txt",
    "/media/episodes%2f..%2f..%2fsecret.mp3",
    "/media/..%2fsecret.mp3",
    "/media/..%5csecret.mp3",
    "/media/..\\secret.mp3",
    "/media/episodes/ep1.mp3%00.txt",
    "/media/escape.mp3",
    "/media/outdir/secret.txt",
    "/media/.hidden.mp3",
    "/media/%2ehidden.mp3",
    "/media//etc/passwd",
    "/media/episodes/",
    "/media/",
    "/media/%c0%ae%c0%ae/secret.mp3",
]


@pytest.mark.slow
def test_no_byte_outside_media_dir_is_ever_served(served_media: Served) -> None:
    answers = {target: raw_get(served_media, target) for target in TRAVERSALS}
    assert {t: a[0] for t, a in answers.items()} == dict.fromkeys(TRAVERSALS, 404)
    for target, (_, _, body) in answers.items():
        assert SECRET not in body and b"root:" not in body, target


@pytest.mark.slow
def test_memory_stays_flat_while_a_200_mb_file_goes_to_ten_clients(
    site: Any, tmp_path: Path
) -> None:
    size = 200 * 1024 * 1024
    media = site.root / "media"
    media.mkdir()
    with (media / "big.mp4").open("wb") as fh:
        fh.truncate(size)  # sparse: no 200 MB written to the test machine's disk
    site.settings["media_dir"] = "media"
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    with run_serve(site, tmp_path / "serve.log", interval=60) as served:
        tree = psutil.Process(served.proc.pid)

        def rss() -> int:
            total = 0
            for proc in [tree, *tree.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += proc.memory_info().rss
            return total

        # Warm every worker up with a small ranged request first, so the baseline includes
        # what serving any media costs once.
        for _ in range(4):
            assert raw_get(served, "/media/big.mp4", {"Range": "bytes=0-99"})[0] == 206
        before = rss()
        received: list[int] = []
        errors: list[BaseException] = []
        peak = [before]

        def client() -> None:
            # No barrier between the clients: the server's threads may be fewer than the
            # clients on one worker, and a client waiting for the others would hold one.
            try:
                host, port = served.base.removeprefix("http://").split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=120)
                conn.request("GET", "/media/big.mp4")
                resp = conn.getresponse()
                got = 0
                while chunk := resp.read(1024 * 1024):
                    got += len(chunk)
                received.append(got)
                conn.close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:  # sample the tree's memory until every client is done
            while thread.is_alive():
                peak[0] = max(peak[0], rss())
                thread.join(timeout=0.05)
        after = rss()
        assert not errors, errors
        assert received == [size] * 10
        growth = max(peak[0], after) - before
        print(f"serve tree RSS: before {before >> 20} MiB, peak {peak[0] >> 20} MiB")
        assert growth < 100 * 1024 * 1024, f"grew {growth >> 20} MiB"


@pytest.mark.slow
def test_a_replaced_media_file_reaches_the_feeds_without_waiting_for_the_interval(
    site: Any, tmp_path: Path
) -> None:
    """A re-exported file changes the enclosure's length: ``media_dir`` is watched like the
    posts, so the feeds follow at once, not at the next interval build (an hour here)."""
    media = site.root / "media"
    media.mkdir()
    (media / "notes.pdf").write_bytes(b"%PDF-1.4\n" + bytes(4991))
    site.settings["media_dir"] = "media"
    body = post_text("Notes", 1).replace("---\n\n", "enclosure: notes.pdf\n---\n\n", 1)
    site.write_post("2025-11-01-notes.md", body)

    def feed() -> str:
        with urllib.request.urlopen(served.url("/feeds/all.rss.xml"), timeout=30) as resp:
            return resp.read().decode()

    with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
        assert 'length="5000"' in feed()
        tmp = media / ".notes.pdf.tmp"
        tmp.write_bytes(b"%PDF-1.4\n" + bytes(6991))
        os.replace(tmp, media / "notes.pdf")
        deadline = time.monotonic() + 120  # bounds a hang only: the build is the event
        while 'length="7000"' not in feed():
            assert time.monotonic() < deadline, served.log_text()[-3000:]
            time.sleep(0.2)
        # The build publishes before it logs its line ("build ok (media changed)"): the
        # feed can show the new length a moment before the line is written.
        while "build ok (media changed)" not in served.log_text():
            assert time.monotonic() < deadline, served.log_text()[-3000:]
            time.sleep(0.2)
