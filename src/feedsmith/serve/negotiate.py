"""Reading the request headers the feed path answers by: ``Accept-Encoding``, ``If-None-Match``,
and the HTTP-date spelling of times.

Apart from the responder because these are the RFC's rules, not ours: pure functions of header
text, tested on their own, memoised where clients repeat themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime


def http_date(value: datetime) -> str:
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


# -- request header parsing -------------------------------------------------------------------


_gzip_answers: dict[str, bool] = {}


def accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (RFC 9110 §12.5.3): an explicit ``gzip``/``x-gzip``
    wins over ``*``; ``q=0`` means "not acceptable". Answers are memoised per header value:
    real clients send a handful of distinct values."""
    if not header:
        return False
    answer = _gzip_answers.get(header)
    if answer is None:
        answer = _parse_accepts_gzip(header)
        if len(_gzip_answers) > 1024:  # bound it: the header is client-controlled
            _gzip_answers.clear()
        _gzip_answers[header] = answer
    return answer


def _parse_accepts_gzip(header: str) -> bool:
    gzip_q: float | None = None
    star_q: float | None = None
    for part in header.split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            gzip_q = q if gzip_q is None else max(gzip_q, q)
        elif coding == "*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


def etag_matches(header: str, etags: Iterable[str]) -> bool:
    """``If-None-Match`` evaluation with the weak comparison RFC 9110 §13.1.2 requires.

    ``etags`` are the strong tags (with quotes) of every representation of the resource: a
    client that cached the gzip body and one that cached the identity body both revalidate.
    Tolerates clients that strip the quotes.
    """
    value = header.strip()
    if value == "*":
        return True
    wanted = set(etags)
    if value in wanted:
        return True
    for item in _split_etags(value):
        if item.startswith(("W/", "w/")):
            item = item[2:]
        if not item.startswith('"'):
            item = f'"{item}"'
        if item in wanted:
            return True
    return False


def _split_etags(value: str) -> list[str]:
    """Split a list of entity tags; commas inside quotes are part of a tag."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]
