"""Every date shape real blogs put in front matter, turned into an aware ``datetime``.

Dates become ids (``tag:host,2025-11-16:slug``) and feed order, so a value that is not
recognisably a date is an error the author sees, never a guess. But a post Jekyll publishes must
not be lost, so beyond ISO 8601 every string is read as Jekyll reads it (Ruby's ``Time.parse``,
``core/ruby_time``), with two limits Ruby lacks: the year, month and day must all be written (Ruby
takes missing ones from the clock) and must exist (Ruby rolls Feb 30 into March). Values with
their own offset keep it (the calendar date the author meant is the one in the id; Jekyll shows
the same instant in the site's zone); naive values, and zone names Ruby does not know, take the
site's time zone, as in Jekyll.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache

from feedsmith.core.ruby_time import RubyFields, read_fields, zone_offset

MIN_YEAR = 1000
MAX_YEAR = 9999

_ISO = re.compile(
    r"""
    (?P<y>\d{4})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})
    (?:
        (?:[Tt]|[ \t]+)
        (?P<H>\d{1,2}):(?P<M>\d{2})
        (?::(?P<S>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?
        [ \t]*
        (?P<tz>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?
    )?
    """,
    re.X | re.A,
)
_DATED_NAME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:-(.*))?", re.S)


@lru_cache(maxsize=256)
def _offset(text: str | None) -> tzinfo | None:
    """The ``tzinfo`` of an offset as written (``Z``, ``+09:00``, ``+0900``). Cached: a blog's
    dates carry a handful of offsets, and each ``timezone`` object is immutable."""
    if text is None or _unknown_zone(text):
        return None
    if text in ("Z", "z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _unknown_zone(zone: str) -> bool:
    """``-0000`` / ``-00:00``: RFC 2822 and RFC 3339 both say "offset unknown", so the site's
    zone applies, as for no zone at all (Ruby would say UTC; feedsmith always read it so)."""
    return zone in ("-0000", "-00:00", "-00")


def _from_iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    frac = (g["frac"] or "").ljust(6, "0")[:6]
    return datetime(
        int(g["y"]),
        int(g["m"]),
        int(g["d"]),
        int(g["H"] or 0),
        int(g["M"] or 0),
        int(g["S"] or 0),
        int(frac or 0),
        tzinfo=_offset(g["tz"]),
    )


def _from_ruby(text: str, tz: tzinfo, shown: str) -> datetime:
    """Every other shape, read as Jekyll reads it (see ``core/ruby_time``): the first weekday,
    time and date in the text, the rest ignored; a zone Ruby does not know means the site's."""
    fields = read_fields(text)
    if fields.year is None and fields.month is None and fields.day is None:
        if fields.hour is not None:
            raise ValueError(f"date {shown} is a time of day with no date")
        raise ValueError(f"unrecognised date {shown}")
    for name in ("year", "month", "day"):
        if getattr(fields, name) is None:
            raise ValueError(f"date {shown} has no {name}")
    if fields.year_digits < 2:
        # Ruby reads "1.2.3" (a version, a list number) as 2001-02-03; no blog writes a year so.
        raise ValueError(f"unrecognised date {shown}")
    return _assemble(fields, tz, shown)


def _assemble(fields: RubyFields, tz: tzinfo, shown: str) -> datetime:
    year, month, day = fields.year or 0, fields.month or 0, fields.day or 0
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"date {shown} is out of range (years {MIN_YEAR}–{MAX_YEAR})")
    micro = int((fields.fraction or "").ljust(6, "0")[:6] or 0)
    offset = None
    if fields.zone is not None and not _unknown_zone(fields.zone):
        offset = zone_offset(fields.zone, year, tz)
    if offset is not None and not abs(offset) < timedelta(hours=24):
        raise ValueError(f"unrecognised date {shown}")
    try:
        return datetime(
            year,
            month,
            day,
            fields.hour or 0,
            fields.minute or 0,
            fields.second or 0,
            micro,
            tzinfo=None if offset is None else timezone(offset),
        )
    except ValueError:
        raise ValueError(f"unrecognised date {shown}") from None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, time):
        return "a time of day"
    return f"a {type(value).__name__}"


def _checked(dt: datetime, tz: tzinfo, shown: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=tz)
    try:
        # Renderers convert to UTC; a date that cannot be converted must fail here, by name.
        dt.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"date {shown} is out of range") from None
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise ValueError(f"date {shown} is out of range (years {MIN_YEAR}–{MAX_YEAR})")
    return dt


def parse_date(value: object, tz: tzinfo) -> datetime:
    """``value`` (a YAML/TOML scalar) as an aware ``datetime``; ``ValueError`` with a reason.

    Accepted: ``datetime`` (naive → ``tz``), ``date`` (midnight in ``tz``), ISO 8601 strings
    (the fast path), and every string Ruby's ``Time.parse`` reads to a whole date: RFC 2822,
    ``Jan 1 2016 10:00 am``, ``1 January 2016``, ``2016/1/1``, ``2016.01.01``, ``25/12/2016``
    (day first, as Ruby), ``20160101``, weekday prefixes, trailing words, and the zones Ruby
    knows (numeric, ``UTC``/``GMT``/``Z``, ``EST``…``PDT``, the site zone's own abbreviations).
    """
    try:
        return _parse(value, tz)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"unrecognised date {value!r:.80}: {exc}") from None


def _parse(value: object, tz: tzinfo) -> datetime:
    if value is None:
        raise ValueError("date is empty")
    if isinstance(value, datetime):
        return _checked(value, tz, f"'{value.isoformat()}'")
    if isinstance(value, date):
        return _checked(datetime.combine(value, time(0)), tz, f"'{value.isoformat()}'")
    if not isinstance(value, str):
        raise ValueError(f"date must be a date, not {_kind(value)}")
    text = value.strip()
    if not text:
        raise ValueError("date is empty")
    shown = repr(text if len(text) <= 60 else text[:57] + "...")
    if len(text) > 100:
        raise ValueError(f"unrecognised date {shown}")
    try:
        parsed = _from_iso(text)
    except ValueError:
        raise ValueError(f"unrecognised date {shown}") from None
    if parsed is None:
        parsed = _from_ruby(text, tz, shown)
    return _checked(parsed, tz, shown)


def split_dated_name(stem: str) -> tuple[date | None, str]:
    """Jekyll's ``YYYY-MM-DD-slug`` file stem → ``(date, "slug")``; otherwise ``(None, stem)``.

    An impossible date (``2025-13-45-x``) is not a date: the stem is returned whole.
    """
    match = _DATED_NAME.fullmatch(stem)
    if match is None:
        return None, stem
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None, stem
    return day, match.group(4) or ""
