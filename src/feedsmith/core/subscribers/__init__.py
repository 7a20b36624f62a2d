"""Subscriber counting, the pure part: what a User-Agent says (:mod:`.agents`) and how plain
records of polls add up to subscribers over a window (:mod:`.counting`).

Everything here takes strings, numbers and times as arguments; where polls come from (the web
workers, an access log) and where the records live (SQLite in ``state_dir``) is
:mod:`feedsmith.serve.subscribers`' business.
"""

from feedsmith.core.subscribers.agents import MAX_UA_CHARS, Agent, classify, truncate_ua
from feedsmith.core.subscribers.counting import (
    AggregatorSeen,
    ClientSeen,
    FeedCount,
    Snapshot,
    count_window,
)

__all__ = [
    "MAX_UA_CHARS",
    "Agent",
    "AggregatorSeen",
    "ClientSeen",
    "FeedCount",
    "Snapshot",
    "classify",
    "count_window",
    "truncate_ua",
]
