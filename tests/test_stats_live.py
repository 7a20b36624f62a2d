"""Live counting in a real ``feedsmith serve`` (builder + two granian web workers) over real
sockets from several loopback addresses: exact totals per feed, reader and format; the
built-in hub's subscription; the counts survive a restart.

Waiting is on what can be observed — ``/stats.json`` showing the counts after a worker's
flush (``stats.flush_seconds`` is short here) — with a generous timeout that only bounds a
failure, never a sleep for luck.
"""

from __future__ import annotations

import json
import time
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from feedsmith.publish.websub.store import WebSubStore
from stats_support import REQUESTS, counted, doc_paths, expected, write_posts
from test_serve_e2e import TOKEN, eventually, http, run_serve

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def get_from(base: str, source: str, path: str, ua: str) -> int:
    """A GET from the loopback address ``source`` (127.0.0.2 …), on a fresh connection."""
    parts = urlsplit(base)
    conn = HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"User-Agent": ua})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def stats(served: Any) -> dict[str, Any]:
    status, _, body = http(served.url("/stats.json"), headers=AUTH)
    assert status == 200
    return json.loads(body)


@pytest.mark.slow
def test_live_counts_from_two_workers_exact_and_kept_across_a_restart(
    site: Any, tmp_path: Path
) -> None:
    write_posts(site)
    site.settings["stats"] = {"flush_seconds": 0.2}
    site.settings["websub"] = {"builtin": True, "allow_private_callbacks": True}
    want = expected(websub=1)
    with run_serve(site, tmp_path / "serve.log", interval=3600, watch=False) as served:
        paths = doc_paths(json.loads(http(served.url("/feeds/index.json"))[2]))
        # One WebSub subscription to the site's Atom feed, as the hub records a verified one.
        hub = WebSubStore(site.root / ".feedsmith")
        with hub.transaction() as conn:
            topic = "https://blog.example.com" + paths[("all", "atom")]
            hub.subscribe(
                conn,
                "https://reader.example/cb",
                topic,
                "reader.example",
                None,
                864000,
                time.time() + 864000,
            )
        hub.close()
        for req in REQUESTS:
            assert get_from(served.base, req.addr, paths[req.doc], req.ua) == 200
        # Not counted: an archive-less 404, a feed page, the OPML list.
        assert get_from(served.base, "127.0.0.5", "/feeds/nope.atom.xml", "NetNewsWire") == 404
        assert get_from(served.base, "127.0.0.5", "/feeds/index.opml", "NetNewsWire") == 200

        doc = eventually(
            lambda: (d := stats(served))["total"] == want["total"] and d,
            "every worker's counts in /stats.json",
            timeout=30,
        )
        assert counted(doc) == want["counted"]
        assert [h["total"] for h in doc["history"]] == [want["total"]]
        status, _, body = http(served.url("/stats"), headers=AUTH)
        assert status == 200 and b"<svg" in body
        metrics = http(served.url("/metrics"))[2].decode()
        assert 'feedsmith_subscribers{feed="all:all",reader="Feedly"} 470.0' in metrics
        assert 'feedsmith_subscribers{feed="tag:AI",reader="BazQux"} 1.0' in metrics
        assert http(served.url("/stats.json"))[0] == 401

    # A restart: the store is on disk, nothing is lost or counted twice.
    with run_serve(site, tmp_path / "serve2.log", interval=3600, watch=False) as served:
        again = stats(served)
        assert again["total"] == want["total"]
        assert counted(again) == want["counted"]
