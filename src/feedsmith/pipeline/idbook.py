"""Where the id map (:mod:`feedsmith.core.identity`) is kept between builds.

``state_dir/ids.json`` first; without it (a fresh clone, a lost ``state_dir``) the copy
published beside the feeds, then the bucket's, so ids survive wherever the published tree does.

The state copy holds each post's content key, which changes with every edit of its text; a
service rewriting a 1 MB map (10,000 posts) after each edit would spend more on that than on
the feeds. So a build that changed a few records appends them to ``state_dir/ids.log``
instead: a header naming the map it continues (the sha256 of ``ids.json``'s bytes), then one
JSON line per record (``[path, id, day, slug, key]``, or ``[path]`` for a post no longer
published). Reading applies the log to the map it names; a log naming another map (a crash
between writing a new map and removing the old log) or a torn last line is ignored, which
costs at most the content keys of the latest edits (matching falls back to the path, slug,
date and file name rules). After ``JOURNAL_MAX`` lines, or a build that changed many records,
the map is written whole again and the log removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import operator
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from feedsmith.core.config import Config
from feedsmith.core.delta import few_changed
from feedsmith.core.identity import MAP_VERSION, OwnMemo, Record, day_of, parse_map
from feedsmith.core.layout import ID_MAP
from feedsmith.core.model import Post
from feedsmith.core.state import json_bytes
from feedsmith.publish.s3.client import fetch_object
from feedsmith.system.statedir import open_private, write_atomic

log = logging.getLogger("feedsmith.identity")

JOURNAL = "ids.log"
#: Lines the log may hold before the map is written whole again (~100 bytes a line).
JOURNAL_MAX = 2000
#: A build that changed more records than this writes the map whole instead of appending.
JOURNAL_BATCH = 64
#: Up to this many posts not the very objects of the last build are looked at on their own.
FEW = 256

#: One post's record as published: the post it was made of, (id, day, slug), content key.
_Row = tuple[Post, tuple[str, str, str], str | None]


class IdBook:
    """The map between builds: ``state_dir/ids.json`` (+ ``ids.log``); without it the
    published copy in ``output_dir``, else the bucket's (``publish.s3``); with none of them,
    an empty map (every id as generated, as before ids were mapped)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.state_dir / ID_MAP
        self.journal = config.state_dir / JOURNAL
        self._known: dict[str, Record] | None = None
        self.memo: dict[int, tuple[Post, Post]] = {}
        self.own = OwnMemo()  # the last "every post at its own record" check (identity.py)
        self.recovered_from: str | None = None
        #: Times the state copy was written whole / appended to (tests read these: an edit in
        #: the service appends a line, it does not rewrite the map).
        self.map_writes = 0
        self.journal_writes = 0
        # The last build's records by path, and the posts they were made of (the service:
        # mostly the very same objects build after build, so only changed posts are looked at).
        self._rows: dict[str, _Row] = {}
        self._rows_of: list[Post] | None = None
        self._whole = False  # each of _rows_of has its own row (no path twice)
        #: rows made (not carried over) by this book so far: the counter tests read
        self.rows_made = 0
        self._published: bytes | None = None
        self._given: list[Post] | None = None  # the list ``published`` brought the rows to
        self._pub_dirty = True
        self._changed: set[str] = set()  # paths whose record changed since the last save
        self._saved = False  # the state copy held the rows as of the last save
        self._journal_of: str | None = None  # sha256 of the map the log continues
        self._journal_lines = 0

    def published(self, posts: list[Post]) -> bytes:
        """The bytes of the published copy (``keys=False``, see ``identity.dump_map``), made
        again only when a post was added, removed, renamed or re-dated, not for a body edit."""
        self._update(posts)
        self._given = posts
        if self._published is None or self._pub_dirty:
            records = {src: list(row[1]) for src, row in self._rows.items()}
            self._published = json_bytes({"version": MAP_VERSION, "posts": records})
            self._pub_dirty = False
        return self._published

    def known(self) -> dict[str, Record]:
        if self._known is None:
            self._known = self._load()
        return self._known

    def save(self, posts: Iterable[Post]) -> None:
        """Remember the posts this build published (after the output, like the state).

        Nothing is written when no record changed (most builds); a few changed records are
        appended to the log; else the map is written whole (when its bytes differ).

        ``posts``: the very list :meth:`published` was given this build, unchanged since, is
        not compared again (a pass over 10,000 posts)."""
        if not isinstance(posts, list):
            posts = list(posts)
        if posts is not self._given:
            self._update(posts)
        rows, known = self._rows, self._known
        changed: set[str] | None = self._changed
        if not self._saved:  # the first save of this builder: compare with the copy as read
            if known is None or self._journal_of is None or not self.path.exists():
                changed = None
            else:
                changed = {src for src, row in rows.items() if known.get(src) != _record(row)}
                changed.update(known.keys() - rows.keys())
        if changed is not None and not changed:
            pass
        elif (
            changed is not None
            and known is not None
            and len(changed) <= JOURNAL_BATCH
            and self._journal_lines + len(changed) <= JOURNAL_MAX
        ):
            self._append(sorted(changed))
            for src in changed:
                row = rows.get(src)
                if row is None:
                    known.pop(src, None)
                else:
                    known[src] = _record(row)
        else:
            self._write_map()
            self._known = {src: _record(row) for src, row in rows.items()}
        self._changed.clear()
        self._saved = True
        self._given = None

    def forget(self) -> None:
        """After a failed build: read the file again next time."""
        self._known = None
        self._given = None
        self.own.clear()
        self._saved = False
        self._journal_of = None
        self._journal_lines = 0

    # -- the rows --------------------------------------------------------------------------------

    def _update(self, posts: list[Post]) -> None:
        """Bring the rows up to ``posts``; note which records changed."""
        if self._update_few(posts):
            return
        if self._rows_of is not None and _same(self._rows_of, posts):
            return  # (not whole: a path twice)
        old = self._rows
        rows: dict[str, _Row] = {}
        new_paths = False
        made = 0
        for post in posts:
            hit = old.get(post.source)
            if hit is not None and hit[0] is post:
                rows[post.source] = hit
                continue
            made += 1
            row: _Row = (post, (post.id, day_of(post.date), post.slug), post.identity_key)
            if hit is None:
                new_paths = True
            if hit is None or hit[1] != row[1]:
                self._pub_dirty = True
            if hit is None or hit[1:] != row[1:]:
                self._changed.add(post.source)
            rows[post.source] = row
        if new_paths or len(rows) != len(old):
            gone = old.keys() - rows.keys()
            if gone:
                self._pub_dirty = True
                self._changed.update(gone)
        self._rows = rows
        self._rows_of = list(posts)
        self._whole = len(posts) == len(rows)  # no path twice
        self.rows_made += made

    def _update_few(self, posts: list[Post]) -> bool:
        """``_update`` when only a few posts are not the very objects of the last one (the
        service's edit): those are looked at, the other rows are carried over. ``False``
        (nothing changed) when that is not safe (a post or path twice) or not worth it."""
        if not self._whole or self._rows_of is None:
            return False
        diff = few_changed(self._rows_of, posts, FEW)
        if diff is None:
            return False
        gone, added, at = diff
        if not gone and not added:
            if at:  # the very posts, in another order
                self._rows_of = list(posts)
            return True
        old = self._rows
        left = [post.source for post in gone]
        leaving = set(left)
        sources = [post.source for post in added]
        if len(set(sources)) != len(sources) or any(
            src in old and src not in leaving for src in sources
        ):
            return False  # a path twice: the whole pass decides which row wins
        if len(old) - len(left) + len(added) != len(posts):
            return False
        # Checked: the rows are updated in place (no copy of the 10,000 of them).
        hits = [old.get(src) for src in sources]
        rows = old
        for source in left:
            del rows[source]
        changed: set[str] = set()
        dirty = False
        for post, hit in zip(added, hits, strict=True):
            row: _Row = (post, (post.id, day_of(post.date), post.slug), post.identity_key)
            if hit is None or hit[1] != row[1]:
                dirty = True
            if hit is None or hit[1:] != row[1:]:
                changed.add(post.source)
            rows[post.source] = row
        for source in left:
            if source not in rows:
                dirty = True
                changed.add(source)
        self._pub_dirty = self._pub_dirty or dirty
        self._changed.update(changed)
        self._rows_of = list(posts)
        self.rows_made += len(added)
        return True

    # -- the state copy --------------------------------------------------------------------------

    def _write_map(self) -> None:
        records: dict[str, list[str | None]] = {
            src: [*row[1], row[2]] for src, row in self._rows.items()
        }
        data = json_bytes({"version": MAP_VERSION, "posts": records})
        with contextlib.suppress(OSError):
            if self.path.read_bytes() == data and not self._journal_lines:
                self._journal_of = _digest(data)
                return
        write_atomic(self.path, data)
        self.map_writes += 1
        # After the map: a crash in between leaves a log naming the old map, which is ignored.
        with contextlib.suppress(FileNotFoundError):
            self.journal.unlink()
        self._journal_of = _digest(data)
        self._journal_lines = 0

    def _append(self, paths: list[str]) -> None:
        lines: list[bytes] = []
        if self._journal_lines == 0:
            with contextlib.suppress(FileNotFoundError):
                self.journal.unlink()  # a log of another map
            lines.append(_line({"map": self._journal_of}))
        for src in paths:
            row = self._rows.get(src)
            lines.append(_line([src] if row is None else [src, *row[1], row[2]]))
        fd = open_private(self.journal, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"".join(lines))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.journal_writes += 1
        self._journal_lines += len(paths)

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
            else:
                self._journal_lines = _replay(_read(self.journal), _digest(data), known)
                self._journal_of = _digest(data)
            self.recovered_from = where
            return known
        return {}


def _replay(data: bytes | None, digest: str, known: dict[str, Record]) -> int:
    """Apply the log's records to ``known`` (the map whose sha256 is ``digest``); the number
    of lines applied. A log of another map, or any line that does not read as a record (a
    torn write), ends it there."""
    if not data:
        return 0
    lines = data.split(b"\n")
    try:
        head = json.loads(lines[0])
    except ValueError:
        return 0
    if not isinstance(head, dict) or head.get("map") != digest:
        return 0
    applied = 0
    for raw in lines[1:]:
        try:
            rec = json.loads(raw)
        except ValueError:
            break
        if not isinstance(rec, list) or not rec or not all(isinstance(v, str) for v in rec[:4]):
            break
        if len(rec) == 1:
            known.pop(rec[0], None)
        elif len(rec) == 5 and rec[1] and (rec[4] is None or isinstance(rec[4], str)):
            known[rec[0]] = Record(rec[1], rec[4] or None, rec[2], rec[3])
        else:
            break
        applied += 1
    return applied


def _record(row: _Row) -> Record:
    (id_, day, slug), key = row[1], row[2]
    return Record(id_, key or None, day, slug)


def _line(value: Any) -> bytes:
    # ASCII escapes: a path with a lone surrogate still makes a line that reads back.
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _same(old: list[Post], new: list[Post]) -> bool:
    return len(old) == len(new) and all(map(operator.is_, old, new))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
