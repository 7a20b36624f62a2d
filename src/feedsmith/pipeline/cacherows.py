"""The parse cache's rows as read back (see :mod:`feedsmith.pipeline.cache` for the format):
split from the writing side because reading is where a new process spends its start-up, and
what it skips (the blobs, see :mod:`feedsmith.pipeline.lazyblob`) is decided here."""

from __future__ import annotations

import dataclasses
import struct
from datetime import datetime
from typing import Any, BinaryIO

from feedsmith.core.model import ParseOutcome, Post
from feedsmith.pipeline import records
from feedsmith.pipeline.lazyblob import BlobFile, Region

_OUTCOME_KEYS = frozenset(f.name for f in dataclasses.fields(ParseOutcome))
_POST_KEYS = frozenset(records.POST_FIELDS)
#: A chunk on disk: this frame (the lengths of its rows and of its blob region), the rows (one
#: msgpack array), then the region: the chunk's ``html_z`` blobs back to back, raw. A row's
#: ``html_z`` is ``[offset in the region, length, crc32]``, so loading never reads the region.
FRAME = struct.Struct("<II")

#: The post's datetimes, stored as ``[seconds since the epoch, zone index]`` when that gives
#: them back exactly (whole seconds, and a local time that exists): one C call each on load,
#: where the general form (an extension type, see :mod:`feedsmith.pipeline.records`) costs a Python
#: call.
DATES = ("date", "updated")
_from_timestamp = datetime.fromtimestamp


def compact_date(value: Any, zones: list[str], zone_at: dict[tuple[type, Any], int]) -> Any:
    if type(value) is not datetime or value.microsecond or value.tzinfo is None:
        return value
    tz = value.tzinfo
    key = (type(tz), tz)
    at = zone_at.get(key)
    if at is None:
        try:
            spec = records.tz_spec(tz)
        except TypeError:
            return value  # the general form raises for it, naming the zone
        at = zone_at[key] = len(zones)
        zones.append(spec)
    seconds = int(value.timestamp())
    back = _from_timestamp(seconds, tz)
    if back.replace(tzinfo=None) != value.replace(tzinfo=None) or back.fold != value.fold:
        return value  # e.g. a wall time the clocks skipped: kept as written
    return [seconds, at]


def read_rows(
    entry_cls: type[Any],
    entry_keys: frozenset[str],
    fh: BinaryIO,
    pos: int,
    size: int,
    chunks: int,
    source: BlobFile,
    spans: list[tuple[int, int, list[tuple[str, Any]]]],
    regions: list[Region | None],
) -> dict[str, Any]:
    """The index back from the chunks from ``pos`` on (the file being ``size`` bytes); raises on
    anything that does not fit. Each chunk's rows are read; its blobs are not (a loaded entry
    holds where its blob lies instead, see :meth:`Entry.__getattr__`), but a region reaching
    past the end of the file (a torn file) is found here.

    Objects are rebuilt the way pickle restored a dataclass: ``__new__`` plus the instance
    ``__dict__`` (the map msgpack made), without running ``__init__`` (so the frozen
    ``Post.__setattr__`` is bypassed, on fresh objects only). Names repeated across posts are
    held once (:class:`feedsmith.pipeline.records.Texts`), authors once per chunk.
    """
    new = object.__new__
    set_attr = object.__setattr__
    build = records.Reader()
    text = build.texts.__getitem__
    make_problem, make_author = build.problem, build.author
    outcome_keys, post_keys = _OUTCOME_KEYS, _POST_KEYS
    entries: dict[str, Any] = {}
    from_timestamp = _from_timestamp
    frame_size = FRAME.size
    unframe = FRAME.unpack
    unpackb = records.unpackb
    for _ in range(chunks):
        fh.seek(pos)
        frame = fh.read(frame_size)
        if len(frame) != frame_size:
            raise ValueError("the file ends within a chunk")
        light_len, blob_len = unframe(frame)
        base = pos + frame_size + light_len
        end = base + blob_len
        if end > size:
            raise ValueError("the file ends within a chunk")
        light = fh.read(light_len)
        if len(light) != light_len:
            raise ValueError("the file ends within a chunk")
        author_rows, zone_specs, rows = unpackb(light)
        del light
        region = Region(source, pos, base, blob_len) if blob_len else None
        members: list[tuple[str, Any]] = []
        spans.append((pos, end - pos, members))
        regions.append(region)
        pos = end
        pick_author = list(map(make_author, author_rows)).__getitem__
        zones = list(map(records.tz_from, zone_specs))
        for rel, entry_state, outcome_state, post_state in rows:
            post: Post | None = None
            if post_state is not None:
                if post_state.keys() != post_keys:
                    raise ValueError(f"bad post fields for {rel!r}")
                try:
                    post_state["categories"] = tuple(map(text, post_state["categories"]))
                    post_state["tags"] = tuple(map(text, post_state["tags"]))
                except TypeError:  # an unhashable name (never made by the parser): as it is
                    post_state["categories"] = tuple(post_state["categories"])
                    post_state["tags"] = tuple(post_state["tags"])
                post_state["authors"] = tuple(map(pick_author, post_state["authors"]))
                post_state["picture"] = records.picture_from(post_state["picture"])
                post_state["enclosures"] = records.enclosures_from(post_state["enclosures"])
                date = post_state["date"]
                if type(date) is list:
                    post_state["date"] = from_timestamp(date[0], zones[date[1]])
                date = post_state["updated"]
                if type(date) is list:
                    post_state["updated"] = from_timestamp(date[0], zones[date[1]])
                post = new(Post)
                set_attr(post, "__dict__", post_state)
            if outcome_state.keys() != outcome_keys or entry_state.keys() != entry_keys:
                raise ValueError(f"bad entry fields for {rel!r}")
            outcome_state["post"] = post
            outcome_state["problems"] = list(map(make_problem, outcome_state["problems"]))
            outcome = new(ParseOutcome)
            set_attr(outcome, "__dict__", outcome_state)
            entry_state["outcome"] = outcome
            where = entry_state["html_z"]
            if where is not None:
                if region is None:
                    raise ValueError(f"no stored HTML for {rel!r}")
                del entry_state["html_z"]
                entry_state["_blob"] = (region, where, rel)
            entry = new(entry_cls)
            set_attr(entry, "__dict__", entry_state)
            entries[rel] = entry
            members.append((rel, entry))
    if pos != size:
        raise ValueError("unexpected data after the last chunk")
    return entries
