"""The issue's scenario of polls, shared by the live, in-process and log-import tests.

Feed "all": two Feedly polls (470 is the later: the latest wins, not the sum), Inoreader on the
RSS document, NewsBlur, two Feedbin feed ids (summed), three personal readers from three
loopback addresses (NetNewsWire polls twice), one crawler, and (where a test adds it) one
WebSub subscription to the Atom document. Tag "AI": The Old Reader and BazQux.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FEEDLY_1 = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 462 subscribers; )"
FEEDLY_2 = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 470 subscribers; )"
INOREADER = "Mozilla/5.0 (compatible; inoreader.com; 114 subscribers)"
NEWSBLUR = "NewsBlur Feed Fetcher - 27 subscribers - https://www.newsblur.com/site/1234/blog"
FEEDBIN_A = "Feedbin feed-id:1697787 - 102 subscribers"
FEEDBIN_B = "Feedbin feed-id:1697790 - 3 subscribers"
OLD_READER = "Mozilla/5.0 (compatible; theoldreader.com; 1 subscribers; feed-id=5a1b2c)"
BAZQUX = "Mozilla/5.0 (compatible; BazQux/2.4; +https://bazqux.com/fetcher; 1 subscribers)"
NETNEWSWIRE = "NetNewsWire (RSS Reader; https://netnewswire.com/)"
NEWSBOAT = "newsboat/2.36.0 (Linux x86_64)"
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@dataclass(frozen=True)
class Req:
    addr: str
    doc: tuple[str, str]  # (feed key, format) → a path through the manifest
    ua: str


REQUESTS = [
    Req("127.0.0.1", ("all", "atom"), FEEDLY_1),
    Req("127.0.0.1", ("all", "rss"), INOREADER),
    Req("127.0.0.1", ("all", "atom"), NEWSBLUR),
    Req("127.0.0.1", ("all", "atom"), FEEDBIN_A),
    Req("127.0.0.1", ("all", "atom"), FEEDBIN_B),
    Req("127.0.0.1", ("ai", "atom"), OLD_READER),
    Req("127.0.0.1", ("ai", "atom"), BAZQUX),
    Req("127.0.0.2", ("all", "atom"), NETNEWSWIRE),
    Req("127.0.0.3", ("all", "atom"), NEWSBOAT),
    Req("127.0.0.4", ("all", "json"), THUNDERBIRD),
    Req("127.0.0.2", ("all", "atom"), NETNEWSWIRE),
    Req("127.0.0.1", ("all", "atom"), CRAWLER),
    Req("127.0.0.1", ("all", "atom"), FEEDLY_2),
]


def expected(websub: int = 0) -> dict[str, Any]:
    """``/stats.json``'s ``total`` and ``feeds`` for :data:`REQUESTS` (+ WebSub on all/atom)."""
    all_readers = {
        "Feedly": 470,
        "Inoreader": 114,
        "Feedbin": 105,
        "NewsBlur": 27,
        "NetNewsWire": 1,
        "newsboat": 1,
        "Thunderbird": 1,
    }
    if websub:
        all_readers["WebSub"] = websub
    all_feed = {
        "kind": "all",
        "name": "all",
        "subscribers": sum(all_readers.values()),
        "by_reader": all_readers,
        "by_format": {"atom": 470 + 27 + 105 + 2 + websub, "json": 1, "rss": 114},
    }
    ai = {
        "kind": "tag",
        "name": "AI",
        "subscribers": 2,
        "by_reader": {"BazQux": 1, "The Old Reader": 1},
        "by_format": {"atom": 2},
    }
    return {"total": all_feed["subscribers"] + 2, "counted": [all_feed, ai]}


def post(title: str, day: int, tags: str) -> str:
    return (
        f'---\ntitle: "{title}"\ndate: 2025-11-{day:02d} 10:00:00 +0000\ntags: {tags}\n---\n\n'
        f"{title} body.\n"
    )


def write_posts(site: Any) -> None:
    site.write_post("2025-11-01-first.md", post("First", 1, "[AI]"))
    site.write_post("2025-11-02-second.md", post("Second", 2, "[Cooking]"))


def doc_paths(manifest: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(feed key, format) → ``/feeds/…`` path, from ``index.json``."""
    out = {}
    for feed in manifest["feeds"]:
        key = "all" if feed["kind"] == "all" else str(feed["name"]).lower()
        for fmt, url in feed["urls"].items():
            out[(key, fmt)] = url
    return out


def counted(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The feeds of a stats document that anyone follows (the rest are listed at zero)."""
    return [f for f in doc["feeds"] if f["subscribers"]]
