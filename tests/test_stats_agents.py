"""What a User-Agent says (aggregator with a count, personal reader, crawler, unknown), the
window rule, and that no User-Agent — any length, any characters — breaks or slows the
classifier or is stored whole."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.subscribers import (
    MAX_UA_CHARS,
    AggregatorSeen,
    ClientSeen,
    classify,
    count_window,
)
from feedsmith.serve.subscribers.store import Poll, SubscriberStore
from stats_support import (
    BAZQUX,
    CRAWLER,
    FEEDBIN_A,
    FEEDLY_1,
    INOREADER,
    NETNEWSWIRE,
    NEWSBLUR,
    NEWSBOAT,
    OLD_READER,
    THUNDERBIRD,
)


@pytest.mark.parametrize(
    ("ua", "name", "count", "feed_id"),
    [
        (FEEDLY_1, "Feedly", 462, ""),
        (INOREADER, "Inoreader", 114, ""),
        (NEWSBLUR, "NewsBlur", 27, "1234"),
        (FEEDBIN_A, "Feedbin", 102, "1697787"),
        (OLD_READER, "The Old Reader", 1, "5a1b2c"),
        (BAZQUX, "BazQux", 1, ""),
        ("Feedspot/1.0 (+https://www.feedspot.com/fs/fetcher; 12 subscribers)", "Feedspot", 12, ""),
        (
            "Netvibes (crawler/bot; http://www.netvibes.com; 3 subscribers; feed-id=99)",
            "Netvibes",
            3,
            "99",
        ),
        (
            "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 4 subscribers)",
            "Google",
            4,
            "",
        ),
        # A service nobody listed that states a count is still counted, by its product name.
        ("Mozilla/5.0 (compatible; Readwise/2.0; 8 subscribers)", "Readwise", 8, ""),
        ("FeedWhatever/3 (19 readers)", "FeedWhatever", 19, ""),
    ],
)
def test_aggregators_state_their_count(ua: str, name: str, count: int, feed_id: str) -> None:
    agent = classify(ua)
    assert (agent.kind, agent.name, agent.count, agent.feed_id) == (
        "aggregator",
        name,
        count,
        feed_id,
    )


@pytest.mark.parametrize(
    ("ua", "kind", "name"),
    [
        (NETNEWSWIRE, "reader", "NetNewsWire"),
        (NEWSBOAT, "reader", "newsboat"),
        (THUNDERBIRD, "reader", "Thunderbird"),
        ("Mozilla/5.0 (compatible; Miniflux/2.2.0; +https://miniflux.app)", "reader", "Miniflux"),
        ("FreshRSS/1.24.0 (Linux; https://freshrss.org)", "reader", "FreshRSS"),
        ("Tiny Tiny RSS/24.05 (https://tt-rss.org/)", "reader", "Tiny Tiny RSS"),
        (
            "Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
            "aggregator",
            "Feedly",
        ),
        (CRAWLER, "bot", ""),
        ("curl/8.5.0", "bot", ""),
        ("python-requests/2.32", "bot", ""),
        ("", "bot", ""),
        ("SomethingNew/1.0", "unknown", "Other"),
    ],
)
def test_readers_crawlers_and_the_unknown(ua: str, kind: str, name: str) -> None:
    agent = classify(ua)
    assert (agent.kind, agent.name, agent.count) == (kind, name, None)


def test_a_stated_count_is_capped() -> None:
    assert classify("Evil/1 (999999999 subscribers)").count == 10_000_000


T = 1_800_000_000.0


def test_window_latest_count_wins_feed_ids_sum_clients_once_per_day() -> None:
    aggs = [
        AggregatorSeen("all", "all", "atom", "Feedly", "", 462, T),
        AggregatorSeen("all", "all", "atom", "Feedly", "", 470, T + 60),
        AggregatorSeen("all", "all", "atom", "Feedly", "", 999, T - 10 * 86400),  # too old
        AggregatorSeen("all", "all", "atom", "Feedbin", "1", 102, T),
        AggregatorSeen("all", "all", "atom", "Feedbin", "2", 3, T),
        AggregatorSeen("all", "all", "rss", "Feedly", "", 5, T),
    ]
    clients = [
        # The same reader across midnight carries two hashes (the salt rotated): still one.
        ClientSeen("all", "all", "atom", "NetNewsWire", "2027-01-14", "h1", "NNW", T - 3600),
        ClientSeen("all", "all", "atom", "NetNewsWire", "2027-01-15", "h9", "NNW", T),
        ClientSeen("all", "all", "atom", "newsboat", "2027-01-15", "h2", "nb", T),
        ClientSeen("all", "all", "atom", "newsboat", "2027-01-15", "h2", "nb", T + 5),
    ]
    snap = count_window(
        aggs,
        clients,
        {("all", "all", "atom"): 2},
        since=T - 48 * 3600,
        feeds=[("all", "all"), ("tag", "x")],
    )
    feed = snap.by_feed()[("all", "all")]
    assert feed.by_reader == {
        "Feedly": 475,
        "Feedbin": 105,
        "NetNewsWire": 1,
        "newsboat": 1,
        "WebSub": 2,
    }
    assert feed.by_format == {"atom": 470 + 105 + 2 + 2, "rss": 5}
    assert snap.total == feed.subscribers == 584
    assert snap.by_feed()[("tag", "x")].subscribers == 0


# -- hostile User-Agents --------------------------------------------------------------------

#: Per classification, far above the real cost (microseconds), far below a catastrophe.
BOUND_SECONDS = 0.05


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20_000))
def test_no_user_agent_breaks_or_slows_the_classifier(ua: str) -> None:
    start = time.perf_counter()
    agent = classify(ua)
    assert time.perf_counter() - start < BOUND_SECONDS
    assert agent.kind in ("aggregator", "reader", "bot", "unknown")
    assert len(agent.name) <= 40 and len(agent.feed_id) <= 64


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4000))
def test_header_bytes_as_latin_1_are_classified(raw: bytes) -> None:
    classify(raw.decode("latin-1"))  # WSGI hands header bytes over as latin-1 text


@pytest.mark.parametrize(
    "ua",
    [
        "1" * 10_000 + " subscribers",
        "feed-id:" + "a" * 10_000,
        "Mozilla/5.0 (compatible; " + " " * 10_000 + "x",
        ("9 " * 5000) + "subscribers",
    ],
)
def test_pathological_user_agents_stay_fast(ua: str) -> None:
    start = time.perf_counter()
    for _ in range(100):
        classify(ua)
    assert time.perf_counter() - start < 100 * BOUND_SECONDS


def test_a_10000_character_user_agent_is_truncated_not_stored_whole(tmp_path: Path) -> None:
    ua = "NetNewsWire " + "x" * 10_000
    store = SubscriberStore(tmp_path)
    store.add([Poll("all", "all", "atom", T, "127.0.0.2", ua)])
    _, clients = store.records(0)
    assert [len(c.ua) for c in clients] == [MAX_UA_CHARS]
    assert clients[0].ua == ua[:MAX_UA_CHARS]
    assert b"x" * (MAX_UA_CHARS + 1) not in (tmp_path / "subscribers.sqlite").read_bytes()


def test_no_address_is_stored_and_the_salt_is_private(tmp_path: Path) -> None:
    store = SubscriberStore(tmp_path)
    store.add([Poll("all", "all", "atom", T, "203.0.113.77", NETNEWSWIRE)])
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"203.0.113.77" not in data
    assert (tmp_path / "subscribers.sqlite").stat().st_mode & 0o777 == 0o600
    # The next day's pruning forgets the day's salt: yesterday's hashes cannot be recomputed.
    store = SubscriberStore(tmp_path)
    store.prune(T + 86400, 48, 400)
    assert store.connect().execute("SELECT COUNT(*) FROM salts").fetchone()[0] == 0
