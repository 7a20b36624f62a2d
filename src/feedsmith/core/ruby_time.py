"""The date fields Ruby's ``Time.parse`` finds in a string: what Jekyll publishes a post under.

Jekyll reads a front-matter date with ``Time.parse`` (``Jekyll::Utils.parse_date``), which
scans the text for a weekday, a time (with a zone after it), then the first date shape it knows,
blanking each piece it takes and ignoring whatever is left. Blogs rely on that leniency
(``2023-01-29 18:30:22 2023 -0800`` is a post on Jekyll's own site), so a feed that skips such a
post has lost one the blog shows. This module follows the same order and the same patterns
(Ruby's ``date__parse`` in its default, non-tight mode, and ``Time.zone_offset``) for the shapes
posts use; the few it leaves out (Japanese era dates, ISO week and ordinal dates) end as "no
date", which the caller reports.

It stops short of Ruby in one way on purpose: Ruby fills a missing year, month or day from the
clock; here the fields stay ``None`` and the caller refuses the value, because a post whose date
changes with the day it is built would change ids and order (and the core has no clock).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from feedsmith.core.lazyre import LazyPattern

_FLAGS = re.I | re.A
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_ERA = r"(c(?:e|\.e\.)|b(?:ce|\.c\.e\.)|a(?:d|\.d\.)|b(?:c|\.c\.))"

# Everything but the characters Ruby keeps becomes one space (Ruby keeps Unicode letters too;
# none of them can be part of a date or a zone Time.parse honours, so they go here).
_NOISE = LazyPattern(r"[^-+',./:@A-Za-z0-9\[\]]+")
_WEEKDAY = LazyPattern(r"\b(?:sun|mon|tue|wed|thu|fri|sat)[^-/\d\s]*", _FLAGS)
_TIME = LazyPattern(
    r"""
    ( (?<!\d)\d+\s*
      (?: (?: :\s*\d+ (?:\s*:\s*\d+(?:[,.]\d*)?)?
            | h(?:\s*\d+m?(?:\s*\d+s?)?)? )
          (?:\s*[ap](?:m\b|\.m\.))?
        | [ap](?:m\b|\.m\.) ) )
    (?: \s*
      ( (?:gmt|utc?)?[-+]\d+(?:[,.:]\d+(?::\d+)?)?
      | [a-z.\s]+(?:standard|daylight)\stime\b
      | [a-z]+(?:\sdst)?\b ) )?
    """,
    _FLAGS | re.X,
)
_TIME_PARTS = LazyPattern(
    r"(\d+)h?(?:\s*:?\s*(\d+)m?(?:\s*:?\s*(\d+)(?:[,.](\d+))?s?)?)?(?:\s*([ap])(?:m\b|\.m\.))?",
    _FLAGS,
)
_EU = LazyPattern(
    rf"('?(?<!\d)\d+)[^-\d\s]*\s*({_MONTHS})[^-\d\s']*"
    rf"(?:\s*(?:\b{_ERA}(?!(?<!\.)[a-z]))?\s*('?-?\d+(?:(?:st|nd|rd|th)\b)?))?",
    _FLAGS,
)
_US = LazyPattern(
    rf"\b({_MONTHS})[^-\d\s']*\s*('?\d+)[^-\d\s']*(?:\s*+,?\s*+{_ERA}?\s*('?-?\d+))?", _FLAGS
)
_ISO = LazyPattern(r"('?[-+]?(?<!\d)\d+)-(\d+)-('?-?\d+)", _FLAGS)
_VMS_DAY_FIRST = LazyPattern(rf"('?-?(?<!\d)\d+)-({_MONTHS})[^-/.]*-('?-?\d+)", _FLAGS)
_VMS_MONTH_FIRST = LazyPattern(rf"\b({_MONTHS})[^-/.]*-('?-?\d+)(?:-('?-?\d+))?", _FLAGS)
_SLASH = LazyPattern(r"('?-?(?<!\d)\d+)/\s*('?\d+)(?:\D\s*('?-?\d+))?", _FLAGS)
_DOT = LazyPattern(r"('?-?(?<!\d)\d+)\.\s*('?\d+)\.\s*('?-?\d+)", _FLAGS)
_DIGITS = LazyPattern(
    r"([-+]?)((?<!\d)\d{2,14})(?:\s*t?\s*(\d{2,6})?(?:[,.](\d*))?)?"
    r"(?:\s*(z\b|[-+]\d{1,4}\b|\[[-+]?\d[^\]]*\]))?",
    _FLAGS,
)
_BC = LazyPattern(r"\b(?:bc\b|bce\b|b\.c\.|b\.c\.e\.)", _FLAGS)
_LONE_NUMBER = LazyPattern(r"\s*(\d{1,2})\s*", _FLAGS)

# Time.zone_offset: numeric offsets, RFC 822 names and the military letters, nothing else.
_NUMERIC_ZONE = LazyPattern(r"([+-])(\d\d)(:?)(\d\d)(?:\3(\d\d))?", _FLAGS)
_HOURS_ZONE = LazyPattern(r"[+-]\d\d", _FLAGS)
_NAMED_ZONES: dict[str, int] = {
    "UTC": 0, "Z": 0, "UT": 0, "GMT": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    **{letter: hours for hours, letter in enumerate("ABCDEFGHI", start=1)},
    **{letter: hours for hours, letter in enumerate("KLM", start=10)},
    **{letter: -hours for hours, letter in enumerate("NOPQRSTUVWXY", start=1)},
}  # fmt: skip


@dataclass(slots=True)
class RubyFields:
    """What ``Date._parse`` put in its hash (the parts ``Time.parse`` uses); ``None`` = absent."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    fraction: str | None = None
    zone: str | None = None
    year_digits: int = 0
    two_digit_year: bool = True
    before_christ: bool = False


def read_fields(text: str) -> RubyFields:
    """The fields Ruby's lenient scan finds in ``text``, in Ruby's order; absent ones ``None``."""
    fields = RubyFields()
    work = _NOISE.sub(" ", text)
    work = _take(_WEEKDAY, work, lambda m: None)
    work = _take(_TIME, work, lambda m: _time(m, fields))
    for pattern, shape in _DATE_SHAPES:
        taken = _take(pattern, work, lambda m, shape=shape: _date(m, shape, fields))
        if taken is not work:
            work = taken
            break
    else:
        work = _take(_DIGITS, work, lambda m: _digits(m, fields))
    if _BC.search(work):
        fields.before_christ = True
    _fragment(work, fields)
    if fields.year is not None:
        if fields.before_christ:
            fields.year = 1 - fields.year
        elif fields.two_digit_year and 0 <= fields.year <= 99:
            fields.year += 1900 if fields.year >= 69 else 2000
    return fields


def zone_offset(zone: str, year: int, local: tzinfo) -> timedelta | None:
    """Ruby's ``Time.zone_offset``: the offset a zone name stands for, or ``None`` (Ruby then
    takes the local zone, which for Jekyll is the site's ``timezone``). Names beyond the RFC 822
    few count only when they are the local zone's own abbreviation (``CET``/``CEST`` for a
    Berlin site, ``JST`` for a Tokyo one), in January or July of the post's year."""
    upper = zone.upper()
    if match := _NUMERIC_ZONE.fullmatch(upper):
        sign = -1 if match.group(1) == "-" else 1
        hours, minutes, seconds = int(match.group(2)), int(match.group(4)), int(match[5] or 0)
        return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if _HOURS_ZONE.fullmatch(upper):
        return timedelta(hours=int(upper))
    if upper in _NAMED_ZONES:
        return timedelta(hours=_NAMED_ZONES[upper])
    for month in (1, 7):
        moment = datetime(year, month, 1, tzinfo=local)
        if (moment.tzname() or "").upper() == upper:
            return moment.utcoffset()
    return None


def _take(pattern: LazyPattern, work: str, found: object) -> str:
    """Ruby's ``subx``: the first match is blanked to one space and handed to ``found``; the
    same string object comes back when nothing matched (how the caller knows)."""
    match = pattern.search(work)
    if match is None:
        return work
    found(match)  # type: ignore[operator]
    return work[: match.start()] + " " + work[match.end() :]


def _time(match: re.Match[str], fields: RubyFields) -> None:
    if match.group(2) is not None:
        fields.zone = match.group(2)
    parts = _TIME_PARTS.match(match.group(1))
    if parts is None:
        return
    hour = int(parts.group(1))
    if parts.group(5) is not None:
        hour = hour % 12 + (12 if parts.group(5).lower() == "p" else 0)
    fields.hour = hour
    fields.minute = _int(parts.group(2))
    fields.second = _int(parts.group(3))
    fields.fraction = parts.group(4)


def _month_number(name: str) -> str:
    return str(_MONTHS.split("|").index(name[:3].lower()) + 1)


def _eu(m: re.Match[str]) -> tuple[str | None, str, str | None, str | None]:
    return m[4], _month_number(m[2]), m[1], m[3]


def _us(m: re.Match[str]) -> tuple[str | None, str, str | None, str | None]:
    return m[4], _month_number(m[1]), m[2], m[3]


def _ymd(m: re.Match[str]) -> tuple[str | None, str, str | None, str | None]:
    return m[1], m[2], m[3], None


def _dmy_named(m: re.Match[str]) -> tuple[str | None, str, str | None, str | None]:
    return m[3], _month_number(m[2]), m[1], None


def _mdy_named(m: re.Match[str]) -> tuple[str | None, str, str | None, str | None]:
    return m[3], _month_number(m[1]), m[2], None


_Shape = Callable[[re.Match[str]], tuple[str | None, str, str | None, str | None]]
# Ruby's order: the first shape found anywhere in the text wins (eu, us, iso, vms, sla, dot).
_DATE_SHAPES: tuple[tuple[LazyPattern, _Shape], ...] = (
    (_EU, _eu),
    (_US, _us),
    (_ISO, _ymd),
    (_VMS_DAY_FIRST, _dmy_named),
    (_VMS_MONTH_FIRST, _mdy_named),
    (_SLASH, _ymd),
    (_DOT, _ymd),
)


def _date(match: re.Match[str], shape: _Shape, fields: RubyFields) -> None:
    y, m, d, era = shape(match)
    if era is not None and era[0].lower() == "b":
        fields.before_christ = True
    _s3e(fields, y, m, d)


_SIGNED = LazyPattern(r"[^-+\d]*([-+]?)(\d*)", re.A)


def _s3e(fields: RubyFields, y: str | None, m: str | None, d: str | None) -> None:
    """Ruby's ``s3e``: which of three numbers is the year, month and day. A part longer than
    two digits (or with an apostrophe) is the year; otherwise y/m/d as the shape wrote them."""
    if y is not None and m is not None and d is None:
        y, m, d = None, y, m
    if y is None and d is not None and (len(d) > 2 or d.startswith("'")):
        y, d = d, None
    if y is not None and (lead := _SIGNED.match(y)) and lead.end() < len(y):
        y, d = d, y[lead.start(1) : lead.end()]
    if m is not None and (m.startswith("'") or len(m) > 2):
        y, m, d = m, d, y
    if d is not None and (d.startswith("'") or len(d) > 2):
        y, d = d, y
    if y is not None and (lead := _SIGNED.match(y)) and (lead[1] or lead[2]):
        if lead[1] or len(lead[2]) > 2:
            fields.two_digit_year = False
        fields.year = int(lead[1] + (lead[2] or "0"))
        fields.year_digits = len(lead[2])
    fields.month = _first_int(m)
    fields.day = _first_int(d)


def _digits(match: re.Match[str], fields: RubyFields) -> None:
    """Ruby's ``parse_ddd`` for the run of 8–14 digits (``20160101``, ``20160101T1000``)."""
    sign, run, clock, fraction, zone = match.groups()
    if len(run) not in (8, 10, 12, 14) or (clock is None and fraction is not None):
        return
    fields.year = -int(run[:4]) if sign == "-" else int(run[:4])
    fields.year_digits = 4
    fields.two_digit_year = False
    fields.month, fields.day = int(run[4:6]), int(run[6:8])
    for name, start in (("hour", 8), ("minute", 10), ("second", 12)):
        if len(run) > start:
            setattr(fields, name, int(run[start : start + 2]))
    if clock is not None and len(clock) in (2, 4, 6):
        pairs = [int(clock[i : i + 2]) for i in range(0, len(clock), 2)]
        if fraction is not None:  # read from the right: ss, mmss, hhmmss
            pairs = [None] * (3 - len(pairs)) + pairs  # type: ignore[list-item]
        pairs += [None] * (3 - len(pairs))  # type: ignore[list-item]
        for name, value in zip(("hour", "minute", "second"), pairs, strict=True):
            if value is not None:
                setattr(fields, name, value)
    if fraction:
        fields.fraction = fraction
    if zone is not None and not zone.startswith("["):
        fields.zone = zone


def _fragment(work: str, fields: RubyFields) -> None:
    """Ruby's ``parse_frag``: a lone number left beside a date is its hour (``2016-01-01 10``)."""
    match = _LONE_NUMBER.fullmatch(work)
    if match is None:
        return
    number = int(match.group(1))
    if fields.hour is not None and fields.day is None and 1 <= number <= 31:
        fields.day = number
    elif fields.day is not None and fields.hour is None and 0 <= number <= 24:
        fields.hour = number


def _first_int(text: str | None) -> int | None:
    if text is None:
        return None
    number = re.search(r"\d+", text, re.A)
    return int(number.group(0)) if number else None


def _int(text: str | None) -> int | None:
    return int(text) if text else None
