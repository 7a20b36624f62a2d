"""Which feed a request is for, who the client is, and how many WebSub subscribers a feed has.

Only subscription documents count (every format, and jekyll-feed's old URLs that stand for the
Atom one); archive pages and feed pages do not: a poller reads the subscription document, a
person reading an archive page is not subscribing to anything.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsmith.core.formats import by_suffix
from feedsmith.publish.websub.store import DB_FILE as WEBSUB_DB

FeedDoc = tuple[str, str, str]  # (kind, name, format)

#: An X-Forwarded-For longer than this is cut before it is read (a client may send any size).
MAX_XFF_CHARS = 1024


class FeedMap:
    """The manifest's subscription documents: published path → (kind, name, format)."""

    def __init__(self, feeds: Iterable[Mapping[str, Any]]) -> None:
        self.docs: dict[str, FeedDoc] = {}
        self.keys: list[tuple[str, str]] = []
        for feed in feeds:
            kind, name = str(feed.get("kind", "")), str(feed.get("name", feed.get("slug", "")))
            self.keys.append((kind, name))
            files = feed.get("files")
            for rel in files if isinstance(files, dict) else ():
                fmt = by_suffix(rel) if isinstance(rel, str) else None
                if fmt is not None:
                    self.docs[rel] = (kind, name, fmt.name)

    def get(self, rel: str) -> FeedDoc | None:
        return self.docs.get(rel)

    def by_path(self, path: str) -> FeedDoc | None:
        """A log's path (``/feeds/tags/ai.atom.xml``, ``/bucket/feeds/…``, ``/tags/ai.atom.xml``):
        the longest tail of it that is a published document, whatever it is served under."""
        rest = path.lstrip("/")
        for _ in range(32):  # bounded: a path of a thousand slashes costs 32 lookups
            found = self.docs.get(rest)
            if found is not None:
                return found
            _, slash, rest = rest.partition("/")
            if not slash:
                return None
        return None


class ClientAddress:
    """The client's address: the peer's, or the ``X-Forwarded-For`` hop just before the first
    trusted proxy counted from the right — only when the peer itself is a trusted proxy (a
    client can write any X-Forwarded-For it likes)."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self.networks = [ipaddress.ip_network(net) for net in trusted]

    def __call__(self, peer: str, forwarded: str | None) -> str:
        if not self.networks or not forwarded or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded[:MAX_XFF_CHARS].split(",")]
        for hop in reversed(hops):
            if not hop:
                continue
            if not self._trusted(hop):
                return hop
        return peer

    def _trusted(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


def websub_counts(state_dir: Path, docs: FeedMap, now: float) -> dict[FeedDoc, int]:
    """Active subscriptions of the built-in hub per feed document (none when it never ran).

    Read-only: the hub's file belongs to the builder process; a topic URL is matched to the
    document by the path it ends with.
    """
    path = Path(state_dir) / WEBSUB_DB
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return {}
    out: dict[FeedDoc, int] = {}
    try:
        rows = conn.execute(
            "SELECT topic, COUNT(*) FROM subscriptions WHERE expires > ? GROUP BY topic", (now,)
        ).fetchall()
    except sqlite3.Error:  # no table yet: the hub has not started
        rows = []
    finally:
        conn.close()
    for topic, n in rows:
        doc = docs.by_path(urlsplit(str(topic)).path)
        if doc is not None:
            out[doc] = out.get(doc, 0) + int(n)
    return out
