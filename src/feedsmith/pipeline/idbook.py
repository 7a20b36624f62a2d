"""Where the id map (:mod:`feedsmith.core.identity`) is kept between builds.

``state_dir/ids.json`` first; without it (a fresh clone, a lost ``state_dir``) the copy
published beside the feeds, then the bucket's, so ids survive wherever the published tree does.
"""

from __future__ import annotations

import contextlib
import logging
import operator
from collections.abc import Callable, Iterable
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.identity import Record, day_of, dump_map, parse_map
from feedsmith.core.layout import ID_MAP
from feedsmith.core.model import Post
from feedsmith.publish.s3.client import fetch_object
from feedsmith.system.statedir import write_atomic

log = logging.getLogger("feedsmith.identity")


class IdBook:
    """The map between builds: ``state_dir/ids.json``; without it the published copy in
    ``output_dir``, else the bucket's (``publish.s3``); with none of them, an empty map
    (every id as generated, as before ids were mapped)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.state_dir / ID_MAP
        self._known: dict[str, Record] | None = None
        self.memo: dict[int, tuple[Post, Post]] = {}
        self.recovered_from: str | None = None
        # The last build's posts (the service: mostly the very same objects build after build)
        # with the published bytes made of them and whether the state copy holds them.
        self._published: tuple[list[Post], bytes] | None = None
        self._saved: list[Post] | None = None

    def published(self, posts: list[Post]) -> bytes:
        """The bytes of the published copy (``keys=False``), made again only when a post is
        not the very object it was last build (~10 ms at 10,000 posts otherwise)."""
        last = self._published
        if last is not None and _same(last[0], posts):
            return last[1]
        data = dump_map(posts, keys=False)
        self._published = (list(posts), data)
        return data

    def known(self) -> dict[str, Record]:
        if self._known is None:
            self._known = self._load()
        return self._known

    def _load(self) -> dict[str, Record]:
        places: list[tuple[str, Callable[[], bytes | None]]] = [
            (str(self.path), lambda: _read(self.path)),
            (str(self.config.output_dir / ID_MAP), lambda: _read(self.config.output_dir / ID_MAP)),
        ]
        s3 = self.config.publish.s3
        if s3 is not None:
            where = f"s3://{s3.bucket}/{s3.prefix}{ID_MAP}"
            places.append((where, lambda: fetch_object(s3, ID_MAP)))
        for where, read in places:
            try:
                data = read()
            except Exception as exc:  # a bucket that cannot be read: ids as generated
                log.warning("cannot read the id map %s (%s)", where, exc)
                continue
            if data is None:
                continue
            try:
                known = parse_map(data)
            except (ValueError, UnicodeDecodeError) as exc:
                log.warning("ignoring a corrupt id map %s (%s)", where, exc)
                continue
            if where != str(self.path):
                log.info("id map recovered from %s (%d posts)", where, len(known))
            self.recovered_from = where
            return known
        return {}

    def save(self, posts: Iterable[Post]) -> None:
        """Remember the posts this build published (after the output, like the state).

        The file is written only when the map changed (most builds add or rename nothing).
        """
        posts = list(posts)
        if self._saved is not None and _same(self._saved, posts):
            return
        known = {
            p.source: Record(p.id, p.identity_key or None, day_of(p.date), p.slug) for p in posts
        }
        if known != self._known or not self.path.exists():
            self._known = known
            data = dump_map(posts)
            with contextlib.suppress(OSError):
                if self.path.read_bytes() == data:
                    self._saved = posts
                    return
            write_atomic(self.path, data)
        self._saved = posts

    def forget(self) -> None:
        """After a failed build: read the file again next time."""
        self._known = None
        self._saved = None


def _same(old: list[Post], new: list[Post]) -> bool:
    return len(old) == len(new) and all(map(operator.is_, old, new))


def _read(path: Any) -> bytes | None:
    try:
        return path.read_bytes()  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None
