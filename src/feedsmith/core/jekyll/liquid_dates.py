"""Dates in Liquid as Jekyll shows them, without ever reading the clock.

Same input, same bytes: "now" and "today" are ``site.time`` as the caller gave it, a bare
number is a Unix time shown in the site's zone (not the machine's), and month and day names are
English whatever the process locale. Dates arrive as ``datetime`` (front matter, computed
fields) or as strings in any shape :func:`feedsmith.core.dates.parse_date` reads.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from dateutil import parser as dateutil_parser
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined

from feedsmith.core.dates import parse_date
from feedsmith.core.jekyll.liquid_state import active

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_NAMED = re.compile(r"%([AaBbhs%])")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RubyTime(datetime):
    """A ``datetime`` that prints as a Ruby ``Time`` (``{{ page.date }}`` in Jekyll:
    ``2023-01-29 18:30:22 -0800``)."""

    def __str__(self) -> str:
        offset = self.strftime("%z") or "+0000"
        return f"{self.strftime('%Y-%m-%d %H:%M:%S')} {offset}"

    @classmethod
    def of(cls, value: datetime) -> RubyTime:
        return cls.combine(value.date(), value.timetz(), tzinfo=value.tzinfo)


def liquid_value(value: Any, depth: int = 0) -> Any:
    """``value`` with every ``datetime`` in it (lists, mappings) printing the Ruby way. Only
    so deep: YAML anchors can make a front-matter value contain itself."""
    if isinstance(value, datetime):
        return value if isinstance(value, RubyTime) else RubyTime.of(value)
    if depth > 20:
        return value
    if isinstance(value, dict):
        return {k: liquid_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [liquid_value(v, depth + 1) for v in value]
    return value


def _zone() -> tzinfo:
    state = active()
    now = state.now if state is not None else None
    return (now.tzinfo if now is not None else None) or UTC


def _now() -> datetime:
    state = active()
    if state is None or state.now is None:
        raise FilterArgumentError("'now' needs site.time, which was not given", token=None)
    return state.now


def to_time(value: object) -> datetime | None:
    """``value`` as an aware datetime, or ``None`` when it is not a date."""
    zone = _zone()
    if isinstance(value, Undefined) or value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), tzinfo=zone)
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=zone)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() in ("now", "today"):
        return _now()
    if text.lstrip("-").isdigit() and len(text) < 15:
        return to_time(int(text))
    try:
        return parse_date(text, zone)
    except ValueError:
        pass
    default = datetime(2000, 1, 1, tzinfo=zone)  # fields a string leaves out: never today's
    try:
        parsed = dateutil_parser.parse(text, default=default)
    except (ValueError, OverflowError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def required_time(value: object, filter_name: str) -> datetime:
    found = to_time(value)
    if found is None:
        raise FilterArgumentError(f"{filter_name}: {value!r} is not a valid datetime", token=None)
    return found


def _offset(moment: datetime, colon: bool) -> str:
    raw = moment.strftime("%z") or "+0000"
    return f"{raw[:3]}:{raw[3:5]}" if colon else raw[:5]


def xmlschema(moment: datetime) -> str:
    """Ruby's ``Time#xmlschema``: ``2013-05-06T10:00:00+02:00``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + _offset(moment, colon=True)


def rfc822(moment: datetime) -> str:
    """Ruby's ``Time#rfc822``: ``Mon, 06 May 2013 10:00:00 +0200`` (English names)."""
    day = _DAYS[moment.weekday()][:3]
    month = _MONTHS[moment.month - 1][:3]
    clock = moment.strftime("%H:%M:%S")
    return f"{day}, {moment.day:02d} {month} {moment.year:04d} {clock} {_offset(moment, False)}"


def _ordinal(day: int) -> str:
    if 11 <= day <= 13:
        return f"{day}th"
    return f"{day}" + {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def date_string(moment: datetime, long: bool, kind: object = None, style: object = None) -> str:
    """Jekyll's ``date_to_string``/``date_to_long_string`` (``ordinal``, ``US`` style)."""
    month = _MONTHS[moment.month - 1] if long else _MONTHS[moment.month - 1][:3]
    if kind == "ordinal":
        day = _ordinal(moment.day)
        if style == "US":
            return f"{month} {day}, {moment.year}"
        return f"{day} {month} {moment.year}"
    return f"{moment.day:02d} {month} {moment.year}"


def strftime(moment: datetime, fmt: str) -> str:
    """Liquid's ``date`` format, with English names whatever the locale."""
    names = {
        "A": _DAYS[moment.weekday()],
        "a": _DAYS[moment.weekday()][:3],
        "B": _MONTHS[moment.month - 1],
        "b": _MONTHS[moment.month - 1][:3],
        "h": _MONTHS[moment.month - 1][:3],
        "s": str(int(moment.timestamp())),
        "%": "%%",
    }
    fmt = _NAMED.sub(lambda m: names[m[1]].replace("%", "%%") if m[1] != "%" else "%%", fmt)
    try:
        return moment.strftime(fmt)
    except ValueError as exc:
        raise FilterArgumentError(f"date: {exc}", token=None) from exc
