"""The parse dataclasses as plain msgpack data: the on-disk form of the parse cache and kept posts.

Why not pickle (the format before): loading a pickle runs whatever code the file names, so a
file planted in ``state_dir`` ran as the builder on the next build. msgpack data is only ever
data — maps, arrays, strings, numbers, bytes — plus two extension types decoded here and
nowhere else: a datetime with its time zone, and an integer beyond 64 bits. Writing anything
else (another class, an unnamed time zone) raises ``TypeError``; nothing is ever guessed, and
reading never creates anything but these dataclasses, built from their own field names.

A record is a list of field values in :data:`LAYOUT` order (not a map: the field names would
be repeated in every row and created again on every load). The layout is stored in each file
and compared on load, so a dataclass that gains or loses a field is never misread.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import msgpack

from feedsmith.core.model import Author, Enclosure, Picture, Post, Problem

EXT_DATETIME = 1
EXT_BIGINT = 2

POST_FIELDS = tuple(f.name for f in dataclasses.fields(Post))
AUTHOR_FIELDS = tuple(f.name for f in dataclasses.fields(Author))
PROBLEM_FIELDS = tuple(f.name for f in dataclasses.fields(Problem))
PICTURE_FIELDS = tuple(f.name for f in dataclasses.fields(Picture))
ENCLOSURE_FIELDS = tuple(f.name for f in dataclasses.fields(Enclosure))
LAYOUT = [
    list(POST_FIELDS),
    list(AUTHOR_FIELDS),
    list(PROBLEM_FIELDS),
    list(PICTURE_FIELDS),
    list(ENCLOSURE_FIELDS),
]

_CATEGORIES = POST_FIELDS.index("categories")
_TAGS = POST_FIELDS.index("tags")
_AUTHORS = POST_FIELDS.index("authors")
_PICTURE = POST_FIELDS.index("picture")
_ENCLOSURES = POST_FIELDS.index("enclosures")


# -- values ----------------------------------------------------------------------------------


def tz_spec(tz: tzinfo | None) -> str:
    """A time zone as text that names it exactly, or ``TypeError``."""
    if tz is None:
        return ""
    if type(tz) is ZoneInfo and tz.key is not None:
        return "z" + tz.key
    if type(tz) is timezone:
        offset = tz.utcoffset(None)
        name = tz.tzname(None)
        micro = offset // timedelta(microseconds=1)
        if name == timezone(offset).tzname(None):
            return f"o{micro}"
        return f"o{micro}|{name}"
    raise TypeError(f"cannot store time zone {tz!r}")


_ZONES: dict[str, tzinfo | None] = {}


def tz_from(spec: str) -> tzinfo | None:
    tz = _ZONES.get(spec, _ZONES)
    if tz is not _ZONES:
        return tz  # type: ignore[return-value]
    if spec == "":
        tz = None
    elif spec[0] == "z":
        tz = ZoneInfo(spec[1:])
    elif spec[0] == "o":
        micro, _, name = spec[1:].partition("|")
        offset = timedelta(microseconds=int(micro))
        tz = timezone(offset, name) if name else timezone(offset)
    else:
        raise ValueError(f"unknown time zone {spec!r}")
    _ZONES[spec] = tz
    return tz


def _default(obj: Any) -> Any:
    if type(obj) is datetime:
        text = f"{obj.replace(tzinfo=None).isoformat()}|{obj.fold}|{tz_spec(obj.tzinfo)}"
        return msgpack.ExtType(EXT_DATETIME, text.encode("utf-8"))
    if type(obj) is int:  # only beyond 64 bits: msgpack packs the rest itself
        return msgpack.ExtType(EXT_BIGINT, str(obj).encode("ascii"))
    raise TypeError(f"cannot store {type(obj).__name__} values")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == EXT_DATETIME:
        iso, fold, spec = data.decode("utf-8").split("|", 2)
        return datetime.fromisoformat(iso).replace(tzinfo=tz_from(spec), fold=int(fold))
    if code == EXT_BIGINT:
        return int(data.decode("ascii"))
    raise ValueError(f"unknown extension type {code}")


def packer() -> msgpack.Packer:
    return msgpack.Packer(default=_default, use_bin_type=True, datetime=False)


def unpacker(file_like: Any = None) -> msgpack.Unpacker:
    """An unpacker that rebuilds only plain data (lists, not tuples: ``Post.extra`` must come
    back exactly as the parser made it)."""
    return msgpack.Unpacker(
        file_like,
        raw=False,
        use_list=True,
        ext_hook=_ext_hook,
        strict_map_key=True,
        max_buffer_size=2**31 - 1,
    )


def packb(obj: Any) -> bytes:
    return packer().pack(obj)


def unpackb(data: bytes) -> Any:
    reader = unpacker()
    reader.feed(data)
    obj = reader.unpack()
    if reader.tell() != len(data):
        raise ValueError("unexpected data after the record")
    return obj


# -- dataclasses -----------------------------------------------------------------------------


class Texts(dict[str, str]):
    """``texts[s]`` is the first ``str`` equal to ``s`` seen: tags, categories and paths that
    repeat across posts are held once in memory. Looked up with ``map(texts.__getitem__, …)``,
    a hit costs no Python call."""

    def __missing__(self, key: str) -> str:
        if type(key) is str:
            self[key] = key
        return key


def problem_row(problem: Problem) -> list[Any]:
    if type(problem) is not Problem:
        raise TypeError(f"cannot store {type(problem).__name__} as a Problem")
    return [problem.path, problem.line, problem.severity, problem.reason]


def post_row(post: Post) -> list[Any]:
    if type(post) is not Post:
        raise TypeError(f"cannot store {type(post).__name__} as a Post")
    state = vars(post)
    if tuple(state) != POST_FIELDS:
        raise TypeError("a Post with fields other than its class's")
    row = list(state.values())
    authors = row[_AUTHORS]
    for author in authors:
        if type(author) is not Author:
            raise TypeError(f"cannot store {type(author).__name__} as an Author")
    row[_AUTHORS] = [[a.name, a.email, a.uri] for a in authors]
    row[_PICTURE] = picture_row(row[_PICTURE])
    row[_ENCLOSURES] = enclosure_rows(row[_ENCLOSURES])
    return row


def picture_row(picture: Picture | None) -> list[Any] | None:
    """A post's picture as a plain list (its fields in :data:`PICTURE_FIELDS` order)."""
    if picture is None:
        return None
    if type(picture) is not Picture:
        raise TypeError(f"cannot store {type(picture).__name__} as a Picture")
    return list(vars(picture).values())


def enclosure_rows(enclosures: tuple[Enclosure, ...]) -> list[list[Any]]:
    rows = []
    for enclosure in enclosures:
        if type(enclosure) is not Enclosure:
            raise TypeError(f"cannot store {type(enclosure).__name__} as an Enclosure")
        rows.append(list(vars(enclosure).values()))
    return rows


def picture_from(row: list[Any] | None) -> Picture | None:
    if row is None:
        return None
    picture = object.__new__(Picture)
    object.__setattr__(picture, "__dict__", dict(zip(PICTURE_FIELDS, row, strict=True)))
    return picture


def enclosures_from(rows: list[list[Any]]) -> tuple[Enclosure, ...]:
    out = []
    for row in rows:
        enclosure = object.__new__(Enclosure)
        object.__setattr__(enclosure, "__dict__", dict(zip(ENCLOSURE_FIELDS, row, strict=True)))
        out.append(enclosure)
    return tuple(out)


class Reader:
    """Rebuilds dataclasses from rows, sharing equal names and authors across posts.

    Objects are made the way pickle restored a dataclass: ``__new__`` plus the instance
    ``__dict__`` zipped from the field names (so the frozen ``__setattr__`` is bypassed, on
    fresh objects only)."""

    def __init__(self) -> None:
        self.texts = Texts()
        self.authors: dict[tuple[Any, ...], Author] = {}

    def problem(self, row: list[Any]) -> Problem:
        problem = object.__new__(Problem)
        object.__setattr__(problem, "__dict__", dict(zip(PROBLEM_FIELDS, row, strict=True)))
        return problem

    def author(self, row: list[Any]) -> Author:
        key = tuple(row)
        author = self.authors.get(key)
        if author is None:
            author = object.__new__(Author)
            object.__setattr__(author, "__dict__", dict(zip(AUTHOR_FIELDS, row, strict=True)))
            self.authors[key] = author
        return author

    def post(self, row: list[Any]) -> Post:
        text = self.texts.__getitem__
        for at in (_CATEGORIES, _TAGS):
            try:
                row[at] = tuple(map(text, row[at]))
            except TypeError:  # an unhashable name (never made by the parser): kept as it is
                row[at] = tuple(row[at])
        row[_AUTHORS] = tuple(map(self.author, row[_AUTHORS]))
        row[_PICTURE] = picture_from(row[_PICTURE])
        row[_ENCLOSURES] = enclosures_from(row[_ENCLOSURES])
        post = object.__new__(Post)
        object.__setattr__(post, "__dict__", dict(zip(POST_FIELDS, row, strict=True)))
        return post
