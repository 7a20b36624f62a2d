"""Access-log lines → the polls they record, for ``feedsmith stats import``.

Three shapes, told apart line by line so one command takes a folder of mixed files:

* the combined log format (nginx's default ``combined``, Apache's ``%h %l %u %t "%r" %>s %b
  "%{Referer}i" "%{User-agent}i"``);
* S3 server access logs (``owner bucket [time] ip requester id operation key "request-uri"
  status …  "referer" "user-agent" …``);
* CloudFront standard logs (tab-separated, described by their ``#Fields:`` line; the
  User-Agent is percent-encoded).

Only what counting needs is kept: time, client address, method, path, status, User-Agent.
Pure: lines in, :class:`LogHit` (or a reason) out; reading files (gzip or not) is the caller's.
Tokenising is one linear regex scan, so a hostile line costs time proportional to its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

#: Lines longer than this are skipped (a real one is well under 8 KiB).
MAX_LINE_CHARS = 16_384

_TOKENS = re.compile(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+')
#: CloudFront's documented column order, for a file whose ``#Fields:`` line was cut off.
_CF_DEFAULT = [
    "date",
    "time",
    "x-edge-location",
    "sc-bytes",
    "c-ip",
    "cs-method",
    "cs(Host)",
    "cs-uri-stem",
    "sc-status",
    "cs(Referer)",
    "cs(User-Agent)",
    "cs-uri-query",
]


@dataclass(frozen=True)
class LogHit:
    time: datetime
    addr: str
    method: str
    path: str  # decoded, without the query
    status: int
    ua: str


class LineError(ValueError):
    """Why a line is not a request this reader understands (the report line's reason)."""


@dataclass
class LogReader:
    """One per file: remembers a CloudFront file's ``#Fields:`` line for the lines after it."""

    cf_fields: list[str] | None = None

    def parse(self, line: str) -> LogHit | None:
        """The request on ``line``; ``None`` for a comment or blank line; :class:`LineError`
        for a line of no known shape."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return None
        if len(line) > MAX_LINE_CHARS:
            raise LineError(f"longer than {MAX_LINE_CHARS} characters")
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                self.cf_fields = line[len("#Fields:") :].split()
            return None
        if "\t" in line:
            return self._cloudfront(line.split("\t"))
        tokens = _TOKENS.findall(line)
        if len(tokens) >= 9 and tokens[3].startswith("["):
            return _combined(tokens)
        if len(tokens) >= 17 and tokens[2].startswith("["):
            return _s3(tokens)
        raise LineError("not a combined, S3 or CloudFront log line")

    def _cloudfront(self, values: list[str]) -> LogHit:
        names = self.cf_fields or _CF_DEFAULT
        row = dict(zip(names, values, strict=False))
        try:
            when = datetime.strptime(f"{row['date']} {row['time']}", "%Y-%m-%d %H:%M:%S")
            status = int(row["sc-status"])
            return LogHit(
                when.replace(tzinfo=UTC),
                row["c-ip"],
                row["cs-method"],
                _path(row["cs-uri-stem"]),
                status,
                _cf_text(row.get("cs(User-Agent)", "-")),
            )
        except (KeyError, ValueError) as exc:
            raise LineError(f"not a CloudFront log line ({exc})") from None


def _combined(tokens: list[str]) -> LogHit:
    method, path = _request(tokens[4])
    return LogHit(
        _clf_time(tokens[3]), tokens[0], method, path, _status(tokens[5]), _quoted(tokens[8])
    )


def _s3(tokens: list[str]) -> LogHit:
    method, path = _request(tokens[8])
    return LogHit(
        _clf_time(tokens[2]), tokens[3], method, path, _status(tokens[9]), _quoted(tokens[16])
    )


def _clf_time(token: str) -> datetime:
    try:
        return datetime.strptime(token.strip("[]"), "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
    except ValueError:
        raise LineError(f"bad time {token[:40]!r}") from None


def _status(token: str) -> int:
    if not (token.isdigit() and len(token) == 3):
        raise LineError(f"bad status {token[:20]!r}")
    return int(token)


def _request(token: str) -> tuple[str, str]:
    parts = _quoted(token).split(" ")
    if len(parts) < 2:
        raise LineError("bad request line")
    return parts[0], _path(parts[1])


def _quoted(token: str) -> str:
    """A ``"…"`` field's text (nginx escapes ``"`` and ``\\`` and bytes as ``\\xHH``)."""
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        token = token[1:-1]
    if "\\" in token:
        token = re.sub(
            r"\\x([0-9A-Fa-f]{2})|\\(.)",
            lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2),
            token,
        )
    return "" if token == "-" else token


def _path(target: str) -> str:
    """The path of a request target (``http://host/path`` too), query dropped, decoded."""
    if "://" in target:
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return unquote(target.partition("?")[0], errors="replace")


def _cf_text(value: str) -> str:
    return "" if value == "-" else unquote(value, errors="replace")
