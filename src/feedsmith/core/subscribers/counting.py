"""Subscribers over a window, from plain records of who polled what.

The rule (issue 31, FeedBurner's): for a feed document (one format of one feed),

* each aggregator that states a count contributes its **latest** stated count — per feed id
  where its User-Agent carries one, since one service may poll a feed under several ids (those
  are summed: each id is a separate set of its users);
* everything else that is not a crawler is **one per distinct (client, User-Agent)**;
* plus the built-in hub's active WebSub subscriptions to that document.

A feed's number is the sum over its formats (someone subscribed to both the Atom and the RSS
document is two subscriptions, as a hub would count them); the site's total is the sum over
feeds.

Client addresses arrive here already hashed with a salt that changes every day (nothing can be
linked across days, by design), so one reader polling across midnight carries two hashes. To
not count it twice, clients are counted per day and the window's number is the **largest daily
number** in the window, per (document, reader name). A reader that polls less than daily may
be missed on some days; the largest day still sees it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: by_reader's key for the built-in hub's subscriptions.
WEBSUB = "WebSub"

FeedKey = tuple[str, str]  # (kind, name)


@dataclass(frozen=True)
class AggregatorSeen:
    """The latest poll of one aggregator (under one feed id) for one feed document."""

    kind: str
    name: str
    fmt: str
    reader: str
    feed_id: str
    count: int
    seen: float  # Unix time of the poll


@dataclass(frozen=True)
class ClientSeen:
    """One (hashed client, User-Agent) that polled a feed document on a day (UTC)."""

    kind: str
    name: str
    fmt: str
    reader: str
    day: str  # YYYY-MM-DD: the salt's day
    client: str  # the salted hash, never the address
    ua: str
    seen: float


@dataclass
class FeedCount:
    kind: str
    name: str
    subscribers: int = 0
    by_reader: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)

    def add(self, fmt: str, reader: str, n: int) -> None:
        if n <= 0:
            return
        self.subscribers += n
        self.by_reader[reader] = self.by_reader.get(reader, 0) + n
        self.by_format[fmt] = self.by_format.get(fmt, 0) + n

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "subscribers": self.subscribers,
            "by_reader": dict(sorted(self.by_reader.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_format": dict(sorted(self.by_format.items())),
        }


@dataclass
class Snapshot:
    """Every feed's count at one moment; ``feeds`` sorted by subscribers, then kind and name."""

    feeds: list[FeedCount]

    @property
    def total(self) -> int:
        return sum(f.subscribers for f in self.feeds)

    def by_feed(self) -> dict[FeedKey, FeedCount]:
        return {(f.kind, f.name): f for f in self.feeds}


def count_window(
    aggregators: Iterable[AggregatorSeen],
    clients: Iterable[ClientSeen],
    websub: Mapping[tuple[str, str, str], int],
    *,
    since: float,
    feeds: Iterable[FeedKey] = (),
) -> Snapshot:
    """Subscribers from records seen at or after ``since`` (Unix time). ``websub`` maps
    (kind, name, format) to active subscriptions; ``feeds`` are listed even at zero (the
    manifest's feeds, so a feed nobody follows yet shows 0 instead of vanishing)."""
    out: dict[FeedKey, FeedCount] = {key: FeedCount(*key) for key in feeds}

    def feed(kind: str, name: str) -> FeedCount:
        return out.setdefault((kind, name), FeedCount(kind, name))

    latest: dict[tuple[str, str, str, str, str], AggregatorSeen] = {}
    for rec in aggregators:
        if rec.seen < since:
            continue
        key = (rec.kind, rec.name, rec.fmt, rec.reader, rec.feed_id)
        have = latest.get(key)
        if have is None or rec.seen >= have.seen:
            latest[key] = rec
    for rec in latest.values():
        feed(rec.kind, rec.name).add(rec.fmt, rec.reader, rec.count)

    daily: dict[tuple[str, str, str, str], dict[str, set[tuple[str, str]]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for seen in clients:
        if seen.seen < since:
            continue
        daily[(seen.kind, seen.name, seen.fmt, seen.reader)][seen.day].add((seen.client, seen.ua))
    for (kind, name, fmt, reader), days in daily.items():
        feed(kind, name).add(fmt, reader, max(len(v) for v in days.values()))

    for (kind, name, fmt), n in websub.items():
        feed(kind, name).add(fmt, WEBSUB, n)
    ordered = sorted(out.values(), key=lambda f: (-f.subscribers, f.kind, f.name))
    return Snapshot(ordered)
