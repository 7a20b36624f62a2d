"""What a feed poller's User-Agent says: an aggregator stating how many people it polls for, a
single-user reader, a crawler (nobody subscribed), or something unknown.

FeedBurner's way of counting, still the only one there is for a feed: hosted readers poll once
for all their users and say how many they are (``Feedly/1.0 (…; 462 subscribers; …)``); a
personal reader (NetNewsWire, newsboat) polls for one person. Every known aggregator puts the
number next to the word "subscribers" (some say "readers"), so the number is found by that
shape, not per service: a service we have never heard of that states a count is still counted
right, named by its first product token.

The User-Agent is the client's to choose, so the work per string is bounded: it is cut to
:data:`MAX_UA_CHARS` first (the stored value too), and the patterns have no nested repetition
(linear scans of a short string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: Longer User-Agents are cut here before anything looks at them (and before one is stored).
#: Real ones are under 300 characters; a stated count sits near the start.
MAX_UA_CHARS = 512

Kind = Literal["aggregator", "reader", "bot", "unknown"]


@dataclass(frozen=True)
class Agent:
    """The classification of one User-Agent. ``count`` and ``feed_id`` only for aggregators."""

    kind: Kind
    name: str  # "Feedly", "NetNewsWire", "Other" …: the by_reader key
    count: int | None = None
    feed_id: str = ""


#: Largest count believed: beyond it the number is noise (or a lie), not subscribers.
MAX_STATED = 10_000_000

_COUNT = re.compile(r"(\d{1,9})\s{0,3}(?:subscribers?|readers?|users?)\b", re.IGNORECASE)
# Feedbin "feed-id:1697787", The Old Reader/Netvibes "feed-id=…", NewsBlur ".../site/1234/…"
_FEED_ID = re.compile(r"(?:feed-?id\s{0,2}[:=]\s{0,2}|/site/)([A-Za-z0-9_.-]{1,64})", re.I)
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9 ._-]{0,40}")

#: Hosted services (lower-case needle → display name), checked in order: the first match names
#: the service. Most state a count; when one does not, it is still an aggregator, counted as one
#: per client like everything without a count.
AGGREGATORS: tuple[tuple[str, str], ...] = (
    ("feedly", "Feedly"),
    ("inoreader", "Inoreader"),
    ("newsblur", "NewsBlur"),
    ("feedbin", "Feedbin"),
    ("theoldreader", "The Old Reader"),
    ("bazqux", "BazQux"),
    ("feedspot", "Feedspot"),
    ("feedpress", "FeedPress"),
    ("feeder.co", "Feeder"),
    ("feedhq", "FeedHQ"),
    ("feed wrangler", "Feed Wrangler"),
    ("netvibes", "Netvibes"),
    ("bloglovin", "Bloglovin"),
    ("feedfetcher-google", "Google"),
    ("digg feed fetcher", "Digg"),
    ("flipboard", "Flipboard"),
    ("feedreader.com", "Feedreader Online"),
    ("rss.app", "RSS.app"),
    ("blogtrottr", "Blogtrottr"),
    ("feedblitz", "FeedBlitz"),
)

#: Readers that poll for one person (self-hosted ones count as one per client too: Miniflux,
#: FreshRSS and Tiny Tiny RSS state no count, and most installations have one user).
READERS: tuple[tuple[str, str], ...] = (
    ("netnewswire", "NetNewsWire"),
    ("newsboat", "newsboat"),
    ("newsbeuter", "newsboat"),
    ("thunderbird", "Thunderbird"),
    ("miniflux", "Miniflux"),
    ("freshrss", "FreshRSS"),
    ("tiny tiny rss", "Tiny Tiny RSS"),
    ("tt-rss", "Tiny Tiny RSS"),
    ("reeder", "Reeder"),
    ("readkit", "ReadKit"),
    ("vienna", "Vienna"),
    ("liferea", "Liferea"),
    ("quiterss", "QuiteRSS"),
    ("akregator", "Akregator"),
    ("rssowl", "RSSOwl"),
    ("feedreader", "FeedReader"),
    ("elfeed", "elfeed"),
    ("nom/", "nom"),
    ("fluent reader", "Fluent Reader"),
    ("feeder/", "Feeder"),
    ("readyou", "Read You"),
    ("capyreader", "Capy Reader"),
    ("feedflow", "FeedFlow"),
    ("unread", "Unread"),
    ("fiery feeds", "Fiery Feeds"),
    ("newsflash", "NewsFlash"),
    ("rssguard", "RSS Guard"),
    ("selfoss", "selfoss"),
    ("commafeed", "CommaFeed"),
    ("yarr", "yarr"),
    ("outlook", "Outlook"),
    ("podcastaddict", "Podcast Addict"),
    ("overcast", "Overcast"),
    ("pocket casts", "Pocket Casts"),
    ("antennapod", "AntennaPod"),
)

#: Crawlers, validators, link previews, monitoring and HTTP libraries: no person behind them.
BOTS: tuple[str, ...] = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "archiver",
    "validator",
    "preview",
    "facebookexternalhit",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "okhttp",
    "java/",
    "libwww",
    "httpclient",
    "uptime",
    "monitor",
    "pingdom",
    "headless",
    "lighthouse",
    "scrapy",
    "superfeedr",
)

OTHER = "Other"


def truncate_ua(ua: str) -> str:
    """The User-Agent as kept: at most :data:`MAX_UA_CHARS` characters, stripped."""
    return ua[:MAX_UA_CHARS].strip()


def classify(ua: str) -> Agent:
    """Classify a User-Agent (any string; only its first :data:`MAX_UA_CHARS` are read)."""
    text = truncate_ua(ua)
    lower = text.lower()
    stated = _COUNT.search(text)
    count = min(int(stated.group(1)), MAX_STATED) if stated else None
    service = _first(lower, AGGREGATORS)
    if service is not None or count is not None:
        name = service or _product(text)
        feed_id = _FEED_ID.search(text)
        if count is None:  # a hosted service that states nothing: one per client
            return Agent("aggregator", name)
        return Agent("aggregator", name, count, feed_id.group(1) if feed_id else "")
    reader = _first(lower, READERS)
    if reader is not None:
        return Agent("reader", reader)
    if not text or any(needle in lower for needle in BOTS):
        return Agent("bot", "")
    return Agent("unknown", OTHER)


def _first(lower: str, table: tuple[tuple[str, str], ...]) -> str | None:
    for needle, name in table:
        if needle in lower:
            return name
    return None


def _product(text: str) -> str:
    """An unknown aggregator's name: its first product token (``Foo/1.2 (…)`` → ``Foo``),
    skipping the ``Mozilla/5.0 (compatible; …`` preamble most of them copy."""
    rest = text
    if rest.lower().startswith("mozilla/"):
        inner = rest.find("compatible;")
        rest = rest[inner + len("compatible;") :] if inner >= 0 else ""
    match = _PRODUCT.search(rest)
    name = match.group().split("/")[0].strip(" ._-") if match else ""
    return name[:40] or OTHER
