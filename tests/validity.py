"""What the W3C Feed Validation Service checks and feedparser does not (issue 11).

The validator (https://validator.w3.org/feed/, source: github.com/rubys/feedvalidator) is not
on PyPI, so the rules feedsmith's output has to pass are re-implemented here from its source.
Every checker takes a document's bytes and returns a list of human-readable problems; an empty
list means valid. Each problem reads ``"Code: where: what"``; ``Code`` is the validator's own
message class where there is one (``InvalidTAG``, ``DuplicateItemSemantics``, ``CharacterData``
…), so a failure here can be looked up in its documentation; :func:`code_of` extracts it.

Rules, and where they come from (paths in rubys/feedvalidator, ``src/feedvalidator/``):

* **URIs** (every Atom id and link href, RSS link/guid/docs/atom:link, JSON Feed urls, OPML
  xmlUrl/htmlUrl/url): absolute RFC 3986 URIs, **ASCII only**. The validator accepts IRIs in
  some places (``rfc3987`` in ``validators.py``: atom:link href, category scheme); feedsmith's
  goal is to percent-encode, so any non-ASCII character is reported (``UriNotAscii``). Also: no
  space or other character outside RFC 3986 (``InvalidUriChar``), every ``%`` followed by two
  hex digits (``InvalidPercentEncoding``), a scheme, at most one ``#``, and for http(s)/ftp an
  authority with a host (``InvalidURI``; the validator's ``rfc2396_full`` and ``^\\w+://[^/]``
  tests), and a scheme registered with IANA (``SchemeNotIANARegistered``, ``iana_schemes``).
* **tag: URIs** (RFC 4151) exactly: ``"tag:" authorityName "," date ":" specific ["#"
  fragment]``; DNS name or e-mail address; ``YYYY[-MM[-DD]]`` and a real date; ``specific`` and
  ``fragment`` are ``*( pchar / "/" / "?" )`` (RFC 3986 pchar). Additionally the validator's own
  ``tag_re`` (``validators.py``, class ``rfc2396``) accepts only a *lowercase* authority, so an
  uppercase one is reported too (``InvalidTAG`` either way, the reason says which rule).
* **Atom ids are canonical** (``canonicaluri`` in ``validators.py`` + ``uri.py``): lowercase
  scheme and host, uppercase ``%XX``, no escaped unreserved characters, percent-encoded text in
  NFC UTF-8, no default port, no dot segments (``NonCanonicalURI``).
* **Dates**: Atom ``updated``/``published`` and JSON Feed dates are RFC 3339 date-times (the
  validator's ``rfc3339`` regex, made stricter where RFC 3339 is: ``T`` and ``Z`` uppercase as
  the validator wants, fractions need digits, fields in range). RSS ``pubDate``/``lastBuildDate``
  and OPML dates are RFC 822 as the validator's ``rfc822`` class reads them: the RFC 2822 form
  with a four-digit year is clean; a two-digit year, missing comma or other legal-but-old
  spelling is ``ProblematicalRFC822Date``; a wrong weekday ``IncorrectDOW``; before 1990 or
  more than 10 minutes in the future ``ImplausibleDate``.
* **Atom** (``feed.py``, ``entry.py``, ``content.py``, ``link.py``): feed id/title/updated and
  rel="self"; entry id/title/updated, an author (entry or feed); an entry without ``content``
  needs a ``summary`` (``MissingTextualContent``) and an alternate link
  (``MissingContentOrAlternate``); two entries with the same id (``DuplicateEntries``) or the
  same ``updated`` (``DuplicateUpdated``, ``unique('updated', …)`` in ``entry.py``); type="text"
  constructs are plain text (``ContainsUndeclaredHTML``, same test as RSS below minus the RSS-2
  ``CharacterData`` branch); type="html" is scanned for unsafe markup.
* **RSS 2.0** (``channel.py``, ``item.py``): channel title/link/description, atom:link
  rel="self"; an item has a title or a description and a guid; a guid without
  ``isPermaLink="false"`` must be a URL and not a tag:/urn:uuid: (``InvalidPermalink``); guids
  unique in the channel (``DuplicateValue``); ``<author>`` is ``email (Real Name)``
  (``email_with_name``: ``MissingRealName``/``EmailFormat``/``InvalidContact``).
* **RSS plain text** — the "Encode & and <" warning. ``nonhtml.validate`` in ``validators.py``
  runs on RSS 2 plain-text elements (item ``title``/``category``/``source``, channel
  ``title``/``description``/``copyright``, ``author``…) *after XML parsing*:

  1. the text holds an end tag of a known HTML element (``</b>``) → ``ContainsHTML``, always;
  2. else, if it holds ``&`` directly followed by a name or ``#``: when any such name is an HTML
     4 entity (``amp``, ``lt``, ``copy`` …), ``apos``, or not purely alphabetic (``#38``,
     ``#x26``), → ``ContainsHTML`` — unless a source line the element spans contains ``&#x``
     (the validator's per-line ``rssCharData`` flags); a plain ``AT&T`` or ``Q&A`` (``&T``,
     ``&A`` are no entities) is fine and stops the test here;
  3. else, if it holds ``<`` directly followed by a letter or ``/`` → ``CharacterData``
     ('Encode "&" and "<" in plain text using hexadecimal character references'), again
     unless a spanned source line contains ``&#x``.

  So ``x < y`` and ``Tom & Jerry`` are fine, ``a<b``, ``<script>``, ``&amp;amp;`` are flagged,
  and writing the ``&``/``<`` as ``&#x26;``/``&#x3C;`` (RSS Profile; what feedsmith does) makes
  the element's line contain ``&#x`` and silences 2 and 3 — not 1, which nothing silences.
  ``description`` and ``content:encoded`` are HTML (``safeHtml``), not plain text.
* **DuplicateItemSemantics** (``item.py``; ``DuplicateSemantics`` for the channel in
  ``channel.py`` and ``extension.py``) is *not* about two items being alike: it fires when one
  item carries both a core RSS element and its extension twin — ``author`` + ``dc:creator``,
  ``category`` + ``dc:subject``, ``pubDate`` + ``dc:date``, ``pubDate`` + ``atom:published``,
  ``guid`` + ``atom:id``, ``source`` + ``dc:source``, ``creativeCommons:license`` +
  ``cc:license``. Channel pairs: ``managingEditor``/``dc:creator``, ``webMaster``/
  ``dc:publisher``, ``category``/``dc:subject``, ``pubDate``/``dc:date``, ``language``/
  ``dc:language``, ``copyright``/``dc:rights``, ``lastBuildDate``/``dcterms:modified``,
  ``generator``/``admin:generatorAgent``, ``creativeCommons:license``/``cc:license``. Two items
  with the same guid are ``DuplicateValue``.
* **OPML** (``opml.py``, class ``opmlOutline``): every outline needs ``text``;
  **MissingOutlineType** fires for an outline with more than one attribute, no ``type``, and
  any of ``description htmlUrl language title version xmlUrl`` (a folder with only ``text`` —
  or ``text`` plus e.g. ``category``/``created``/``url`` — is fine). ``type="rss"`` needs
  ``xmlUrl`` and ``title``; ``type="link"`` needs ``url``; another type is an error in OPML 1.x;
  ``version`` is one of RSS/RSS1/RSS2/scriptingNews; ``created`` is RFC 822; ``htmlUrl``/
  ``url`` are URLs (feedsmith also checks ``xmlUrl``); ``text``/``title``/``description`` and
  head ``title``/``ownerName`` are *HTML* (``safeHtml``): markup such as ``<script>`` in them is
  a ``SecurityRisk``.
* **JSON Feed 1.1** (https://jsonfeed.org/version/1.1): version, title, items; each item an
  ``id`` string (unique) and ``content_html`` or ``content_text``; urls absolute; dates RFC
  3339; extension keys start with ``_``.
* **HTML** (``description``, ``content:encoded``, Atom type="html", OPML text): the validator's
  ``HTMLValidator``: unknown tags ``NotHtml``, unsafe elements (``script``, ``iframe``,
  ``object`` …) ``SecurityRisk``, attributes off its list (``onclick`` …) ``SecurityRiskAttr``,
  and in RSS/OPML relative ``<a href>``/``<img src>`` ``ContainsRelRef``. Its CSS scrubbing is
  reduced here to the dangerous cases (``url(``, ``expression``, ``javascript:`` …).
* **BadCharacters**: element text holding U+FFFD or C1 controls (U+0080–U+009F), or UTF-8 read
  as Latin-1 (``base.py`` ``characters``).

``path_only_links=True`` (what feedsmith's own output is checked with) adds a feedsmith rule:
an entry's/item's link is a permalink path, so it must not have a query or fragment — an
unencoded ``?`` or ``#`` from a category name (``Q&A?``, ``C#``) would make one
(``LinkNotAPath``).
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
import xml.parsers.expat
from calendar import timegm
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import getaddresses, parsedate_tz
from html.entities import name2codepoint
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
ADMIN_NS = "http://webns.net/mvcb/"
CC_NS = "http://web.resource.org/cc/"
CREATIVE_COMMONS_NS = "http://backend.userland.com/creativeCommonsRssModule"
JSON_FEED_1_1 = "https://jsonfeed.org/version/1.1"
JSON_FEED_1_0 = "https://jsonfeed.org/version/1"


def code_of(problem: str) -> str:
    """``"InvalidTAG: entry 1 <id>: …"`` → ``"InvalidTAG"``."""
    return problem.split(":", 1)[0]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class _P:
    code: str
    reason: str

    def at(self, where: str) -> str:
        return f"{self.code}: {where}: {self.reason}" if where else f"{self.code}: {self.reason}"


def _fmt(found: Iterable[_P], where: str = "") -> list[str]:
    return [p.at(where) for p in found]


# -- URIs (RFC 3986) ----------------------------------------------------------------------------

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_IP_LITERAL = rf"\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\]"
_REG_NAME = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_AUTHORITY = rf"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_PATH_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
_PATH_ROOTLESS = rf"{_PCHAR}+(?:/{_PCHAR}*)*"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
#: RFC 3986 ``absolute-URI [ "#" fragment ]`` (section 4.3 plus a fragment: an Atom id may
#: have one).
URI_RE = re.compile(
    rf"{_SCHEME}:(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_ROOTLESS}|)"
    rf"(?:\?{_QUERY})?(?:#{_QUERY})?",
    re.ASCII,
)
#: RFC 3986 appendix B: splits any string into its five components.
_SPLIT_RE = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)
_URI_CHARS = set(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_BAD_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")

#: feedvalidator's ``iana_schemes`` (validators.py): other schemes are SchemeNotIANARegistered.
IANA_SCHEMES = _words(
    """ftp http gopher mailto news nntp telnet wais file prospero z39.50s z39.50r cid mid vemmi
    service imap nfs acap rtsp tip pop data dav opaquelocktoken sip sips tel fax modem ldap https
    soap.beep soap.beeps xmlrpc.beep xmlrpc.beeps urn go h323 ipp tftp mupdate pres im mtqp
    iris.beep dict snmp crid tag dns info aaa aaas cap iax icap iris iris.xpc iris.xpcs iris.lwz
    msrp msrps shttp thismessage tv xmpp"""
)


def _char_name(c: str) -> str:
    return f"{c!r} (U+{ord(c):04X})"


def _non_ascii_reason(value: str) -> str | None:
    for c in value:
        if ord(c) > 0x7F:
            enc = "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
            return (
                f"non-ASCII character {_char_name(c)} in {value!r}: URIs are ASCII, "
                f"percent-encode its UTF-8 as {enc}"
            )
    return None


def _uri_problems(value: str) -> list[_P]:
    if value == "":
        return [_P("InvalidURI", "empty URI")]
    if value[:4].lower() == "tag:":
        return _tag_problems(value)  # the validator tests tag URIs first: InvalidTAG
    if value != value.strip():
        return [_P("InvalidUriChar", f"leading or trailing whitespace in {value!r}")]
    reason = _non_ascii_reason(value)
    if reason:
        return [_P("UriNotAscii", reason)]
    found: list[_P] = []
    for c in value:
        if c not in _URI_CHARS:
            what = "a space" if c == " " else _char_name(c)
            found.append(_P("InvalidUriChar", f"{what} in {value!r} must be percent-encoded"))
            break
    m = _BAD_PCT.search(value)
    if m:
        found.append(
            _P(
                "InvalidPercentEncoding",
                f"'%' not followed by two hex digits at offset {m.start()} of {value!r} "
                "(a literal '%' is %25)",
            )
        )
    if value.count("#") > 1:
        found.append(
            _P("InvalidUriChar", f"more than one '#' in {value!r}: a '#' after the first is %23")
        )
    if found:
        return found
    scheme_match = re.match(rf"({_SCHEME}):", value, re.ASCII)
    if not scheme_match:
        return [_P("InvalidURI", f"{value!r} is not absolute (no scheme)")]
    scheme = scheme_match.group(1).lower()
    if not URI_RE.fullmatch(value):
        if "[" in value or "]" in value:
            found.append(
                _P("InvalidUriChar", f"'[' or ']' outside an IP-literal host in {value!r}")
            )
        else:
            found.append(_P("InvalidURI", f"{value!r} does not match the RFC 3986 URI grammar"))
        return found
    if scheme in ("http", "https", "ftp") and not re.match(r"[A-Za-z0-9+\-.]+://[^/?#]", value):
        found.append(_P("InvalidURI", f"{value!r}: a {scheme} URL needs '//' and a host"))
    elif scheme in ("http", "https") and not _host(value):
        found.append(_P("InvalidURI", f"{value!r}: empty host"))
    if scheme not in IANA_SCHEMES:
        found.append(_P("SchemeNotIANARegistered", f"scheme {scheme!r} of {value!r}"))
    if scheme == "urn":
        found.extend(_urn_problems(value))
    return found


def _host(value: str) -> str:
    parts = _SPLIT_RE.fullmatch(value)
    authority = (parts.group(2) if parts else None) or ""
    hostport = authority.rpartition("@")[2]
    return hostport if hostport.startswith("[") else hostport.partition(":")[0]


def uri_problems(value: str) -> list[str]:
    """Problems with ``value`` as an absolute, ASCII, RFC 3986 URI (tag: URIs per RFC 4151)."""
    return _fmt(_uri_problems(value))


# -- tag: URIs (RFC 4151) ---------------------------------------------------------------------

_DNS_COMP = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DNS_NAME = rf"{_DNS_COMP}(?:\.{_DNS_COMP})*"
_TAG_AUTHORITY = re.compile(rf"(?:[A-Za-z0-9._-]+@)?{_DNS_NAME}", re.ASCII)
_TAG_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)
_TAG_SPECIFIC = re.compile(rf"(?:{_PCHAR}|[/?])*", re.ASCII)
#: What feedvalidator's ``tag_re`` adds to RFC 4151: a lowercase authority.
_VALIDATOR_TAG_AUTHORITY = re.compile(r"(?:[a-z0-9\-._]+@)?[a-z0-9.\-]+", re.ASCII)


def _tag_problems(value: str) -> list[_P]:
    def bad(reason: str) -> list[_P]:
        return [_P("InvalidTAG", f"{value!r}: {reason}")]

    if not value.startswith("tag:"):
        return bad("a tag URI starts with lowercase 'tag:'")
    reason = _non_ascii_reason(value)
    if reason:
        return [_P("InvalidTAG", reason + " (RFC 4151 specific = *( pchar / '/' / '?' ))")]
    rest = value[4:]
    entity, colon, tail = rest.partition(":")
    if not colon:
        return bad("no ':' after the tagging entity (tag:authority,date:specific)")
    authority, comma, tag_date = entity.rpartition(",")
    if not comma:
        return bad(f"tagging entity {entity!r} is not authorityName ',' date")
    if not _TAG_AUTHORITY.fullmatch(authority):
        return bad(f"authority {authority!r} is neither a DNS name nor an e-mail address")
    m = _TAG_DATE.fullmatch(tag_date)
    if not m:
        return bad(f"date {tag_date!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        date(year, month, day)
    except ValueError:
        return bad(f"date {tag_date!r} is not a real date")
    specific, _, fragment = tail.partition("#")
    found: list[_P] = []
    for part, name in ((specific, "specific"), (fragment, "fragment")):
        if not _TAG_SPECIFIC.fullmatch(part):
            bad_pct = _BAD_PCT.search(part)
            if bad_pct:
                found += bad(f"{name} {part!r}: '%' not followed by two hex digits")
            else:
                c = next(
                    c
                    for c in part
                    if not re.fullmatch(rf"[{_UNRESERVED}{_SUB_DELIMS}:@/?%]", c, re.ASCII)
                )
                found += bad(f"{name} {part!r}: {_char_name(c)} is not allowed, percent-encode it")
    if found:
        return found
    if not _VALIDATOR_TAG_AUTHORITY.fullmatch(authority):
        return bad(
            f"authority {authority!r} has uppercase letters: RFC 4151 allows them, the W3C "
            "validator's tag pattern does not"
        )
    return []


def tag_uri_problems(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 4151 tag URI (and the W3C validator's tag pattern)."""
    if not value.startswith("tag:"):
        return [f"InvalidTAG: {value!r}: a tag URI starts with lowercase 'tag:'"]
    return _fmt(_uri_problems(value))


_URN_RE = re.compile(
    r"[Uu][Rr][Nn]:[a-zA-Z0-9][a-zA-Z0-9-]{1,31}:(?:[a-zA-Z0-9()+,.:=@;$_!*'\-]|%[0-9A-Fa-f]{2})+"
)
_UUID_RE = re.compile(
    r"[Uu][Rr][Nn]:[Uu][Uu][Ii][Dd]:[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
)


def _urn_problems(value: str) -> list[_P]:
    if value.lower().startswith("urn:uuid:") and not _UUID_RE.fullmatch(value):
        return [_P("InvalidUUID", f"{value!r} is not urn:uuid: and a UUID")]
    if not _URN_RE.fullmatch(value):
        return [_P("InvalidURN", f"{value!r} is not an RFC 2141 URN")]
    return []


# -- canonical form (Atom ids) ------------------------------------------------------------------

_DEFAULT_PORTS = {
    "http": "80",
    "https": "443",
    "ftp": "21",
    "telnet": "23",
    "gopher": "70",
    "news": "119",
    "nntp": "119",
    "prospero": "191",
    "snews": "563",
    "snntp": "563",
}
_PCT_TOKEN = re.compile(r"%([0-9A-Fa-f]{2})|(.)", re.S)
_UNRESERVED_SET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RESERVED_SET = set(":/?#[]@!$&'()*+,;=")


def _normalize_pct(component: str) -> str:
    """Percent-encoding normalisation (RFC 3986 6.2.2.2: unreserved characters unescaped, hex
    uppercase) with the text between escaped reserved characters in NFC, as the validator's
    ``uri.py`` compares ids. Raises UnicodeError for escaped bytes that are not UTF-8."""
    out: list[str] = []
    run = bytearray()

    def flush() -> None:
        if run:
            for ch in unicodedata.normalize("NFC", run.decode("utf-8")):
                if ch in _UNRESERVED_SET or ch in _RESERVED_SET:
                    out.append(ch)
                else:
                    out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
            run.clear()

    for m in _PCT_TOKEN.finditer(component):
        if m.group(1) is not None:
            b = int(m.group(1), 16)
            if chr(b) in _RESERVED_SET:  # %2F is not "/": it stays escaped
                flush()
                out.append(f"%{b:02X}")
            else:
                run.append(b)
        else:
            run.extend(m.group(2).encode("utf-8"))
    flush()
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


def canonical_uri(value: str) -> str | None:
    """The canonical form the validator compares Atom ids with (None: it has none)."""
    if not value.isascii():
        return None
    m = _SPLIT_RE.fullmatch(value)
    if m is None:
        return None
    scheme, authority, path, query, fragment = m.groups()
    try:
        out = ""
        if scheme is not None:
            scheme = scheme.lower()
            out += scheme + ":"
        if authority is not None:
            userinfo, at, hostport = authority.rpartition("@")
            hostport = hostport.lower()
            host, colon, port = hostport.rpartition(":")
            if not colon or "]" in port:
                host, port = hostport, ""
            if host.endswith(".") and host.count(".") > 1:
                host = host[:-1]
            if port and port != _DEFAULT_PORTS.get(scheme or ""):
                host += ":" + port
            if userinfo in ("", ":"):
                at = ""
                userinfo = ""
            out += "//" + _normalize_pct(userinfo) + at + _normalize_pct(host)
            path = _remove_dot_segments(path) or "/"
        elif path.startswith("/"):
            path = _remove_dot_segments(path)
        out += _normalize_pct(path)
        if query is not None:
            out += "?" + _normalize_pct(query)
        if fragment is not None:
            out += "#" + _normalize_pct(fragment)
    except UnicodeError:
        return None
    return out


def _id_problems(value: str) -> list[_P]:
    """An Atom id: a valid absolute URI, and in canonical form."""
    if value != value.strip():
        return [_P("UnexpectedWhitespace", f"{value!r} has leading or trailing whitespace")]
    found = _uri_problems(value)
    if not found:
        canonical = canonical_uri(value)
        if canonical != value:
            found.append(
                _P(
                    "NonCanonicalURI",
                    f"{value!r} is not in canonical form (it would be {canonical or 'N/A'!r})",
                )
            )
    return found


def id_problems(value: str) -> list[str]:
    """Problems with ``value`` as an Atom id (see :func:`uri_problems`, plus canonical form)."""
    return _fmt(_id_problems(value))


# -- dates --------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))", re.ASCII
)


def _implausible(when: datetime | None, now: float | None) -> bool:
    if when is None:
        return False
    ts = when.timestamp()
    limit = (time.time() if now is None else now) + 600
    return when.year < 1990 or ts > limit


def _rfc3339_problems(value: str, now: float | None = None) -> list[_P]:
    m = _RFC3339.fullmatch(value)
    if not m:
        return [_P("InvalidRFC3339Date", f"{value!r} is not YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)")]
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    try:
        date(y, mo, d)
    except ValueError as e:
        return [_P("InvalidRFC3339Date", f"{value!r}: {e}")]
    if h > 23 or mi > 59 or s > 60:
        return [_P("InvalidRFC3339Date", f"{value!r}: time out of range")]
    if m.group(9) and (int(m.group(10)) > 23 or int(m.group(11)) > 59):
        return [_P("InvalidRFC3339Date", f"{value!r}: offset out of range")]
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace(":60", ":59"))
    except ValueError:
        when = None
    if _implausible(when, now):
        return [_P("ImplausibleDate", f"{value!r} is before 1990 or in the future")]
    return []


def rfc3339_problems(value: str, now: float | None = None) -> list[str]:
    """Problems with ``value`` as an RFC 3339 date-time (``now``: epoch seconds, for the
    validator's implausibility test; default the real clock)."""
    return _fmt(_rfc3339_problems(value, now))


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ZONES = r"(?:[+-]?\d\d[03]0|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z)"
#: The form the validator calls clean (``rfc822.rfc2822_re``): four-digit year, English names.
_RFC2822_CLEAN = re.compile(
    rf"(?:{_DAY}, )?\d\d? {_MON} \d{{4}} \d\d:\d\d(?::\d\d)? {_ZONES}", re.ASCII
)
#: What it accepts with a ProblematicalRFC822Date warning (``rfc822.rfc822_re``).
_RFC822_LOOSE = re.compile(
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)\s*,\s*)?\d\d?\s+"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+\d\d(?:\d\d)?\s+\d\d:\d\d(?::\d\d)?"
    r"\s+(?:[+-]\d\d\d\d|ut|gmt|est|edt|cst|cdt|mst|mdt|pst|pdt|[a-ik-z])?",
    re.ASCII,
)


def _rfc822_problems(value: str, now: float | None = None) -> list[_P]:
    if _RFC2822_CLEAN.fullmatch(value):
        parsed = parsedate_tz(value)
        if parsed is None:
            return [_P("InvalidRFC2822Date", f"{value!r} does not parse")]
        y, mo, d, h, mi, s = parsed[:6]
        try:
            day = date(y, mo, d)
        except ValueError as e:
            return [_P("InvalidRFC2822Date", f"{value!r}: {e}")]
        if h > 23 or mi > 59 or s > 60:
            return [_P("InvalidRFC2822Date", f"{value!r}: time out of range")]
        if "," in value and day.strftime("%a") != value[:3]:
            return [_P("IncorrectDOW", f"{value!r}: {day.isoformat()} is a {day:%A}")]
        ts = timegm((y, mo, d, h, mi, min(s, 59), 0, 0, 0)) - (parsed[9] or 0)
        limit = (time.time() if now is None else now) + 600
        if y < 1990 or ts > limit:
            return [_P("ImplausibleDate", f"{value!r} is before 1990 or in the future")]
        return []
    loose = re.sub(r"\\.", "", value)
    prev = None
    while prev != loose:
        prev, loose = loose, re.sub(r"\([^(]*?\)", " ", loose)
    if _RFC822_LOOSE.fullmatch(loose.strip().lower()):
        return [
            _P(
                "ProblematicalRFC822Date",
                f"{value!r}: use 'Wdy, DD Mon YYYY HH:MM:SS +ZZZZ' (four-digit year, English "
                "names, one space)",
            )
        ]
    return [_P("InvalidRFC2822Date", f"{value!r} is not an RFC 822 date-time")]


def rfc822_problems(value: str, now: float | None = None) -> list[str]:
    """Problems with ``value`` as an RSS (RFC 822) date, as the validator reads one."""
    return _fmt(_rfc822_problems(value, now))


# -- plain text, HTML, e-mail -------------------------------------------------------------------

#: HTML element names the validator knows (``HTMLValidator.htmltags``).
HTML_TAGS = _words(
    """a abbr acronym address applet area article aside audio b base basefont bdo big blockquote
    body br button canvas caption center cite code col colgroup command datagrid datalist dd del
    details dialog dir div dfn dl dt em event-source fieldset figcaption figure font footer form
    frame frameset h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins isindex kbd label
    legend li link m map menu meta meter nav noframes noscript object ol output optgroup option p
    param pre progress q s samp script section select small source span strike strong style sub
    sup table tbody td textarea tfoot th thead time title tr tt u ul var xmp plaintext embed
    comment listing video wbr"""
)
#: Known elements the validator calls a security risk (not in its ``acceptable_elements``).
UNSAFE_TAGS = _words(
    """applet base basefont bdo body comment embed frame frameset head html iframe isindex link
    listing meta noframes object param plaintext script style title xmp"""
)
#: Attributes it accepts in HTML (``acceptable_attributes``); others are ``SecurityRiskAttr``.
SAFE_ATTRIBUTES = _words(
    """abbr accept accept-charset accesskey action align alt autoplay autocomplete autofocus
    axis background balance bgcolor bgproperties border bordercolor bordercolordark
    bordercolorlight bottompadding cellpadding cellspacing ch challenge char charoff choff
    charset checked cite class clear color cols colspan compact contenteditable coords data
    datafld datapagesize datasrc datetime default delay dir disabled draggable dynsrc enctype end
    face for form frame galleryimg gutter headers height hidefocus hidden high href hreflang
    hspace icon id inputmode ismap keytype label leftspacing lang list longdesc loop loopcount
    loopend loopstart low lowsrc max maxlength media method min multiple name nohref noshade
    nowrap open optimum pattern ping point-size prompt pqg radiogroup readonly rel repeat-max
    repeat-min replace required rev rightspacing rows rowspan rules scope selected shape size
    span src srcset start step summary suppress tabindex target template title toppadding type
    unselectable usemap urn valign value variable volume vspace vrml width wrap xml:lang
    xmlns"""
)
_END_TAG = re.compile(r"</(\w+)>", re.ASCII)
_ENTITY = re.compile(r"&(#?\w+)", re.ASCII)
_MARKUP_START = re.compile(r"&#[x0-9]|<[/a-zA-Z]", re.ASCII)


def _plain_text_problems(
    value: str, raw_lines: bytes | str, *, rss2: bool, code: str = "ContainsHTML"
) -> list[_P]:
    """feedvalidator's ``nonhtml.validate`` (see the module docstring). ``raw_lines`` is the
    source text of every line the element spans."""
    encoded = (b"&#x" in raw_lines) if isinstance(raw_lines, bytes) else ("&#x" in raw_lines)
    tags = [t for t in _END_TAG.findall(value) if t.lower() in HTML_TAGS]
    if tags:
        return [_P(code, f"{value!r} contains the HTML end tag </{tags[0]}>")]
    names = _ENTITY.findall(value)
    if names:
        for name in names:
            entity_like = name in name2codepoint or name == "apos" or not name.isalpha()
            if entity_like and not encoded:
                return [
                    _P(
                        code,
                        f"{value!r} contains '&{name}', which reads as an HTML entity: write "
                        "the '&' as &#x26;",
                    )
                ]
        return []
    if rss2 and _MARKUP_START.search(value) and not encoded:
        return [
            _P(
                "CharacterData",
                f'{value!r}: Encode "&" and "<" in plain text using hexadecimal character '
                "references (&#x26; and &#x3C;)",
            )
        ]
    return []


def plain_text_problems(value: str, raw_lines: bytes | str, *, rss2: bool = True) -> list[str]:
    """The validator's plain-text test for ``value`` (parsed text) whose element's source lines
    are ``raw_lines``."""
    return _fmt(_plain_text_problems(value, raw_lines, rss2=rss2))


def _bad_characters(value: str) -> list[_P]:
    for c in value:
        if 0x80 <= ord(c) <= 0x9F or c == "\ufffd":
            return [_P("BadCharacters", f"{_char_name(c)} in {value[:80]!r}")]
    if re.search("[\u00c2\u00c3][\u0080-\u00bf]", value):
        try:
            value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            pass
        else:
            return [_P("BadCharacters", f"UTF-8 read as Latin-1 in {value[:80]!r}")]
    return []


_ANCHOR_RE = re.compile(r"""<a\s+href=(?:"(.*?)"|'(.*?)'|([\w-]+))[\s>]""", re.I)
_IMG_RE = re.compile(r"""<img\s+[^>]*src=(?:"(.*?)"|'(.*?)'|([\w-]+))[\s>]""", re.I)
_DANGEROUS_CSS = re.compile(r"url\s*\(|expression|behavio(u)?r|-moz-binding|javascript:", re.I)


class _SafeHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: list[_P] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.found.append(_P("NotHtml", f"non-HTML tag <{tag}>"))
        elif tag in UNSAFE_TAGS:
            if "embed" not in self.stack and "object" not in self.stack:
                self.found.append(_P("SecurityRisk", f"<{tag}> is unsafe HTML"))
        else:
            for name, value in attrs:
                if name == "style":
                    if value and _DANGEROUS_CSS.search(value):
                        self.found.append(_P("DangerousStyleAttr", f"style={value!r}"))
                elif name not in SAFE_ATTRIBUTES:
                    self.found.append(_P("SecurityRiskAttr", f"<{tag} {name}=…> is unsafe HTML"))
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack[-1] != tag:
                self.stack.pop()
            self.stack.pop()

    def handle_charref(self, name: str) -> None:
        try:
            value = int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            return
        if 0x80 <= value <= 0x9F or value == 0xFFFD:
            self.found.append(_P("BadCharacters", f"&#{name}; in HTML"))


def _html_problems(value: str, *, abs_urls: bool) -> list[_P]:
    """feedvalidator's ``safeHtml``: unsafe markup, and (``abs_urls``) relative references in
    ``<a href>``/``<img src>`` as its ``absUrlMixin`` finds them."""
    parser = _SafeHtml()
    if "<?import " in value.lower():
        parser.found.append(_P("SecurityRisk", "<?import"))
    try:
        parser.feed(value)
        parser.close()
    except Exception as e:  # html.parser is lenient; anything it raises is "not HTML"
        parser.found.append(_P("NotHtml", f"invalid HTML: {e}"))
    found = parser.found
    if abs_urls:
        for groups in _IMG_RE.findall(value) + _ANCHOR_RE.findall(value):
            ref = html.unescape(next((g for g in groups if g), "")).strip()
            if not re.match(r"\w+:", ref):
                bad = next((c for c in ref if ord(c) < 128 and c not in _URI_CHARS), None)
                if bad is not None:
                    found.append(_P("InvalidUriChar", f"{bad!r} in the reference {ref!r}"))
                else:
                    found.append(_P("ContainsRelRef", f"relative reference {ref!r}"))
    return found


def html_problems(value: str, *, abs_urls: bool = True) -> list[str]:
    """The validator's ``safeHtml`` test of an HTML string."""
    return _fmt(_html_problems(value, abs_urls=abs_urls))


_EMAIL_RE = re.compile(
    r"[A-Z0-9_\-+.']+@(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.|(?:[A-Z0-9\-]+\.)+)[A-Z0-9][-A-Z0-9]*",
    re.I | re.ASCII,
)
_SIMPLE_EMAIL_RE = re.compile(r"[\w._%+-]+@[A-Za-z][\w.-]+", re.ASCII)


def _addr_spec_problems(value: str, code: str = "InvalidAddrSpec") -> list[_P]:
    if _EMAIL_RE.fullmatch(value) or _SIMPLE_EMAIL_RE.fullmatch(value):
        return []
    return [_P(code, f"{value!r} is not an e-mail address")]


def _email_with_name_problems(value: str, raw: bytes) -> list[_P]:
    """``email_with_name`` (RSS ``author``, ``managingEditor``, ``webMaster``)."""
    if value.startswith("mailto:"):
        from urllib.parse import unquote

        value = unquote(value.split(":", 1)[1])
    if value.find("@") > 0 and not value.endswith(")"):
        if value.find(" ") > 0:
            return [_P("EmailFormat", f"{value!r}: write 'email@example.com (Real Name)'")]
        return [_P("MissingRealName", f"{value!r}: write 'email@example.com (Real Name)'")]
    addresses = getaddresses([value])
    addr = addresses[0][1] if len(addresses) == 1 else value
    found = _plain_text_problems(value, raw, rss2=True)
    return found + _addr_spec_problems(addr, "InvalidContact")


def email_with_name_problems(value: str) -> list[str]:
    """Problems with ``value`` as an RSS ``<author>``: ``email (Real Name)``."""
    return _fmt(_email_with_name_problems(value, b""))


_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)


# -- XML plumbing -------------------------------------------------------------------------------


class _Doc:
    """A parsed XML document with each element's source line span."""

    def __init__(self, data: bytes) -> None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=False)
        self.root = etree.fromstring(data, parser)
        self.lines = data.split(b"\n")
        starts: list[int] = []
        ends: dict[int, int] = {}
        stack: list[int] = []
        p = xml.parsers.expat.ParserCreate()

        def start(name: str, attrs: dict[str, str]) -> None:
            stack.append(len(starts))
            starts.append(p.CurrentLineNumber)

        def end(name: str) -> None:
            ends[stack.pop()] = p.CurrentLineNumber

        p.StartElementHandler = start
        p.EndElementHandler = end
        try:
            p.Parse(data, True)
        except xml.parsers.expat.ExpatError:
            starts = []
        elements = [e for e in self.root.getroottree().iter() if isinstance(e.tag, str)]
        self.spans: dict[Any, tuple[int, int]] = {}
        if len(elements) == len(starts):
            for i, el in enumerate(elements):
                self.spans[el] = (starts[i], ends.get(i, starts[i]))

    def raw(self, el: Any) -> bytes:
        """The source lines ``el`` spans (what the validator's ``&#x`` test looks at)."""
        start, end = self.spans.get(el, (el.sourceline or 1, el.sourceline or 1))
        return b"\n".join(self.lines[start - 1 : end])


def _parse(data: bytes) -> tuple[_Doc | None, list[str]]:
    try:
        return _Doc(data), []
    except etree.XMLSyntaxError as e:
        return None, [f"NotWellFormed: {e}"]


def _text(el: Any) -> str:
    """All the text of an element (what the validator's ``value`` is)."""
    return "".join(el.itertext())


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _children(el: Any, tag: str) -> list[Any]:
    return [c for c in el if c.tag == tag]


def _local(el: Any) -> str:
    return etree.QName(el).localname


def _where(el: Any, top: str) -> str:
    """``entry 3 <title>`` / ``item 2 <category>`` / ``feed <title>`` for an element."""
    for anc in (el, *el.iterancestors()):
        name = _local(anc)
        if name in ("entry", "item"):
            index = [c for c in anc.getparent() if c.tag == anc.tag].index(anc) + 1
            inner = "" if anc is el else f" <{_local(el)}>"
            return f"{name} {index}{inner}"
    return f"{top} <{_local(el)}>"


def _all_bad_characters(doc: _Doc, top: str) -> list[str]:
    found: list[str] = []
    for el in doc.root.iter():
        if not isinstance(el.tag, str):
            continue
        for chunk in (el.text, *(child.tail for child in el)):  # text, as base.py sees it
            if chunk:
                found += _fmt(_bad_characters(chunk), _where(el, top))
    return found


def _no_duplicates(el: Any, tags: Iterable[str], where: str) -> list[str]:
    found = []
    for tag in tags:
        n = len(_children(el, tag))
        if n > 1:
            found.append(f"DuplicateElement: {where}: {n} <{etree.QName(tag).localname}>")
    return found


def _link_path_problems(url: str, where: str) -> list[str]:
    parts = _SPLIT_RE.fullmatch(url)
    if parts and (parts.group(4) is not None or parts.group(5) is not None):
        return [
            f"LinkNotAPath: {where}: {url!r} has a query or fragment; a '?' or '#' from a "
            "category name or slug must be percent-encoded (%3F, %23) to stay in the path"
        ]
    return []


# -- Atom ---------------------------------------------------------------------------------------


def _atom_text_construct(doc: _Doc, el: Any, where: str) -> list[str]:
    kind = el.get("type", "text")
    value = _text(el)
    if kind == "text":
        return _fmt(
            _plain_text_problems(value, doc.raw(el), rss2=False, code="ContainsUndeclaredHTML"),
            where,
        )
    if kind == "html":
        return _fmt(_html_problems(value, abs_urls=False), where)
    return []


def _atom_person(doc: _Doc, el: Any, where: str) -> list[str]:
    found: list[str] = []
    names = _children(el, _q(ATOM_NS, "name"))
    if not names or not _text(names[0]).strip():
        found.append(f"MissingElement: {where}: <name>")
    for name in names:
        found += _fmt(_plain_text_problems(_text(name), doc.raw(name), rss2=False), where)
    for email in _children(el, _q(ATOM_NS, "email")):
        found += _fmt(_addr_spec_problems(_text(email)), f"{where} <email>")
    for uri in _children(el, _q(ATOM_NS, "uri")):
        found += _fmt(_uri_problems(_text(uri)), f"{where} <uri>")
    return found


def _atom_links(doc: _Doc, el: Any, where: str, *, path_only: bool) -> tuple[list[str], list[Any]]:
    found: list[str] = []
    links = _children(el, _q(ATOM_NS, "link"))
    for link in links:
        href = link.get("href")
        if href is None:
            found.append(f"MissingHref: {where} <link>: no href")
            continue
        found += _fmt(_uri_problems(href), f"{where} <link rel={link.get('rel', 'alternate')}>")
        title = link.get("title")
        if title is not None:
            found += _fmt(_plain_text_problems(title, doc.raw(link), rss2=False), where)
        if path_only and link.get("rel", "alternate") == "alternate":
            found += _link_path_problems(href, f"{where} <link>")
    return found, links


def _atom_categories(doc: _Doc, el: Any, where: str) -> list[str]:
    found: list[str] = []
    for cat in _children(el, _q(ATOM_NS, "category")):
        term = cat.get("term")
        if term is None or not term.strip():
            found.append(f"MissingAttribute: {where} <category>: term")
        scheme = cat.get("scheme")
        if scheme is not None:
            found += _fmt(_uri_problems(scheme), f"{where} <category scheme>")
        label = cat.get("label")
        if label is not None:
            found += _fmt(
                _plain_text_problems(label, doc.raw(cat), rss2=False), f"{where} <category label>"
            )
    return found


def _atom_date(el: Any, where: str, now: float | None) -> list[str]:
    return _fmt(_rfc3339_problems(_text(el), now), where)


def check_atom(
    data: bytes, *, path_only_links: bool = False, now: float | None = None
) -> list[str]:
    """Problems with ``data`` as an Atom 1.0 (RFC 4287) feed document."""
    doc, found = _parse(data)
    if doc is None:
        return found
    feed = doc.root
    if feed.tag != _q(ATOM_NS, "feed"):
        return [f"UnexpectedRoot: <{feed.tag}> is not an Atom <feed>"]

    def a(name: str) -> str:
        return _q(ATOM_NS, name)

    for name in ("id", "title", "updated"):
        if not _children(feed, a(name)):
            found.append(f"MissingElement: feed: <{name}>")
    found += _no_duplicates(
        feed,
        [
            a(n)
            for n in ("id", "title", "updated", "subtitle", "rights", "generator", "icon", "logo")
        ],
        "feed",
    )
    for el in _children(feed, a("id")):
        found += _fmt(_id_problems(_text(el)), "feed <id>")
    for el in _children(feed, a("updated")):
        found += _atom_date(el, "feed <updated>", now)
    for name in ("title", "subtitle", "rights"):
        for el in _children(feed, a(name)):
            found += _atom_text_construct(doc, el, f"feed <{name}>")
    link_problems, links = _atom_links(doc, feed, "feed", path_only=False)
    found += link_problems
    if not any(link.get("rel") == "self" for link in links):
        found.append('MissingSelf: feed: no <link rel="self">')
    feed_authors = _children(feed, a("author"))
    for el in feed_authors + _children(feed, a("contributor")):
        found += _atom_person(doc, el, f"feed <{_local(el)}>")
    for el in _children(feed, a("generator")):
        if el.get("uri") is not None:
            found += _fmt(_uri_problems(el.get("uri")), "feed <generator uri>")
    for name in ("icon", "logo"):
        for el in _children(feed, a(name)):
            found += _fmt(_uri_problems(_text(el)), f"feed <{name}>")
    found += _atom_categories(doc, feed, "feed")

    ids: dict[str, int] = {}
    updates: dict[str, int] = {}
    for i, entry in enumerate(_children(feed, a("entry")), 1):
        id_els = _children(entry, a("id"))
        label = f"entry {i}" + (f" ({_text(id_els[0])})" if id_els else "")
        for name in ("id", "title", "updated"):
            if not _children(entry, a(name)):
                found.append(f"MissingElement: {label}: <{name}>")
        found += _no_duplicates(
            entry,
            [
                a(n)
                for n in (
                    "id",
                    "title",
                    "updated",
                    "published",
                    "summary",
                    "content",
                    "rights",
                    "source",
                )
            ],
            label,
        )
        if not _children(entry, a("author")) and not feed_authors:
            found.append(f"MissingElement: {label}: <author> (and the feed has none)")
        for el in id_els:
            value = _text(el)
            found += _fmt(_id_problems(value), f"{label} <id>")
            if value in ids:
                found.append(f"DuplicateEntries: {label}: the same id as entry {ids[value]}")
            else:
                ids[value] = i
        for el in _children(entry, a("updated")):
            value = _text(el)
            found += _atom_date(el, f"{label} <updated>", now)
            if value in updates:
                found.append(
                    f"DuplicateUpdated: {label}: the same <updated> {value} as entry "
                    f"{updates[value]}"
                )
            else:
                updates[value] = i
        for el in _children(entry, a("published")):
            found += _atom_date(el, f"{label} <published>", now)
        for name in ("title", "summary", "rights"):
            for el in _children(entry, a(name)):
                found += _atom_text_construct(doc, el, f"{label} <{name}>")
        contents = _children(entry, a("content"))
        for el in contents:
            if el.get("src") is not None:
                found += _fmt(_uri_problems(el.get("src")), f"{label} <content src>")
            else:
                found += _atom_text_construct(doc, el, f"{label} <content>")
        link_problems, links = _atom_links(doc, entry, label, path_only=path_only_links)
        found += link_problems
        if not contents:
            if not _children(entry, a("summary")):
                found.append(f"MissingTextualContent: {label}: no <content> and no <summary>")
            if not any(link.get("rel", "alternate") == "alternate" for link in links):
                found.append(
                    f"MissingContentOrAlternate: {label}: no <content> and no alternate link"
                )
        for el in _children(entry, a("author")) + _children(entry, a("contributor")):
            found += _atom_person(doc, el, f"{label} <{_local(el)}>")
        found += _atom_categories(doc, entry, label)
    return found + _all_bad_characters(doc, "feed")


# -- RSS 2.0 ------------------------------------------------------------------------------------

#: (core element, extension element) pairs the validator reports with both present.
ITEM_SEMANTIC_TWINS = (
    ("author", _q(DC_NS, "creator")),
    ("category", _q(DC_NS, "subject")),
    ("pubDate", _q(DC_NS, "date")),
    ("pubDate", _q(ATOM_NS, "published")),
    ("guid", _q(ATOM_NS, "id")),
    ("source", _q(DC_NS, "source")),
    (_q(CREATIVE_COMMONS_NS, "license"), _q(CC_NS, "license")),
)
CHANNEL_SEMANTIC_TWINS = (
    ("managingEditor", _q(DC_NS, "creator")),
    ("webMaster", _q(DC_NS, "publisher")),
    ("category", _q(DC_NS, "subject")),
    ("pubDate", _q(DC_NS, "date")),
    ("language", _q(DC_NS, "language")),
    ("copyright", _q(DC_NS, "rights")),
    ("lastBuildDate", _q(DCTERMS_NS, "modified")),
    ("generator", _q(ADMIN_NS, "generatorAgent")),
    (_q(CREATIVE_COMMONS_NS, "license"), _q(CC_NS, "license")),
)
_PREFIXES = {
    DC_NS: "dc",
    DCTERMS_NS: "dcterms",
    ATOM_NS: "atom",
    ADMIN_NS: "admin",
    CC_NS: "cc",
    CREATIVE_COMMONS_NS: "creativeCommons",
    CONTENT_NS: "content",
}


def _pretty(tag: str) -> str:
    q = etree.QName(tag)
    return f"{_PREFIXES.get(q.namespace, q.namespace)}:{q.localname}" if q.namespace else tag


def _twins(el: Any, pairs: Iterable[tuple[str, str]], code: str, where: str) -> list[str]:
    tags = {c.tag for c in el if isinstance(c.tag, str)}
    return [
        f"{code}: {where}: has both <{_pretty(core)}> and <{_pretty(ext)}>; keep one"
        for core, ext in pairs
        if core in tags and ext in tags
    ]


def _rss_plain(doc: _Doc, el: Any, where: str) -> list[str]:
    value = _text(el)
    found = _fmt(_plain_text_problems(value, doc.raw(el), rss2=True), where)
    return found


#: validators.py's ``mime_re``: ``type/subtype`` with optional parameters.
_MIME_TYPE = re.compile(r"[^\s()<>,;:\\\"/\[\]?=]+/[^\s()<>,;:\\\"/\[\]?=]+(\s*;\s*.+)?")


def check_rss(data: bytes, *, path_only_links: bool = False, now: float | None = None) -> list[str]:
    """Problems with ``data`` as an RSS 2.0 document."""
    doc, found = _parse(data)
    if doc is None:
        return found
    rss = doc.root
    if rss.tag != "rss":
        return [f"UnexpectedRoot: <{rss.tag}> is not <rss>"]
    version = rss.get("version")
    if version is None or not version.startswith("2."):
        found.append(f"InvalidVersion: <rss version={version!r}>, expected 2.0")
    channels = _children(rss, "channel")
    if len(channels) != 1:
        return [*found, f"MissingElement: rss: {len(channels)} <channel> elements, expected 1"]
    channel = channels[0]
    for name in ("title", "link", "description"):
        if not _children(channel, name):
            found.append(f"MissingElement: channel: <{name}>")
    found += _no_duplicates(
        channel,
        [
            "title",
            "link",
            "description",
            "language",
            "copyright",
            "managingEditor",
            "webMaster",
            "pubDate",
            "lastBuildDate",
            "generator",
            "docs",
            "ttl",
            "image",
            "cloud",
            "textInput",
            "skipHours",
            "skipDays",
        ],
        "channel",
    )
    for name in ("title", "description", "copyright"):
        for el in _children(channel, name):
            found += _rss_plain(doc, el, f"channel <{name}>")
            if name == "title" and not _text(el).strip():
                found.append("NotBlank: channel <title> is blank")
    for name in ("link", "docs"):
        for el in _children(channel, name):
            found += _fmt(_uri_problems(_text(el).strip()), f"channel <{name}>")
    for name in ("pubDate", "lastBuildDate"):
        for el in _children(channel, name):
            found += _fmt(_rfc822_problems(_text(el), now), f"channel <{name}>")
    for name in ("managingEditor", "webMaster"):
        for el in _children(channel, name):
            found += _fmt(_email_with_name_problems(_text(el), doc.raw(el)), f"channel <{name}>")
    for el in _children(channel, "language"):
        if not _LANGUAGE_RE.fullmatch(_text(el)):
            found.append(f"InvalidLanguage: channel <language>: {_text(el)!r}")
    if not _children(channel, "language") and not _children(channel, _q(DC_NS, "language")):
        found.append("MissingDCLanguage: channel: no <language>")
    for el in _children(channel, "category"):
        found += _rss_plain(doc, el, "channel <category>")
    atom_links = _children(channel, _q(ATOM_NS, "link"))
    for link in atom_links:
        found += _fmt(_uri_problems(link.get("href", "")), "channel <atom:link>")
    if not any(link.get("rel") == "self" for link in atom_links):
        found.append('MissingAtomSelfLink: channel: no <atom:link rel="self">')
    found += _twins(channel, CHANNEL_SEMANTIC_TWINS, "DuplicateSemantics", "channel")

    guids: dict[str, int] = {}
    for i, item in enumerate(_children(channel, "item"), 1):
        guid_els = _children(item, "guid")
        label = f"item {i}" + (f" ({_text(guid_els[0])})" if guid_els else "")
        if not _children(item, "title") and not _children(item, "description"):
            found.append(f"ItemMustContainTitleOrDescription: {label}")
        if not guid_els:
            found.append(f"MissingGuid: {label}: no <guid>")
        found += _no_duplicates(
            item,
            [
                "title",
                "link",
                "description",
                _q(CONTENT_NS, "encoded"),
                "guid",
                "pubDate",
                "author",
                "comments",
                "enclosure",
                "source",
            ],
            label,
        )
        for el in _children(item, "title"):
            found += _rss_plain(doc, el, f"{label} <title>")
            if not _text(el).strip():
                found.append(f"NotBlank: {label} <title> is blank")
        for name in ("category", "source"):
            for el in _children(item, name):
                found += _rss_plain(doc, el, f"{label} <{name}>")
                if name == "category" and not _text(el).strip():
                    found.append(f"NotBlank: {label} <category> is blank")
        for el in _children(item, "source"):
            found += _fmt(_uri_problems(el.get("url", "")), f"{label} <source url>")
        for name in ("link", "comments"):
            for el in _children(item, name):
                url = _text(el).strip()
                found += _fmt(_uri_problems(url), f"{label} <{name}>")
                if name == "link" and path_only_links:
                    found += _link_path_problems(url, f"{label} <link>")
        for el in _children(item, "description") + _children(item, _q(CONTENT_NS, "encoded")):
            found += _fmt(_html_problems(_text(el), abs_urls=True), f"{label} <{_pretty(el.tag)}>")
        for el in guid_els:
            value = _text(el)
            permalink = el.get("isPermaLink", "true")
            if permalink not in ("true", "false"):
                found.append(f"InvalidBooleanAttribute: {label} <guid isPermaLink={permalink!r}>")
            if permalink != "false":
                problems = _uri_problems(value)
                if problems:
                    found += [
                        f"InvalidHttpGUID: {label} <guid>: {p.reason}; without "
                        'isPermaLink="false" a guid must be a URL'
                        for p in problems
                    ]
                elif value.lower().startswith(("tag:", "urn:uuid:")):
                    found.append(
                        f"InvalidPermalink: {label} <guid>: {value!r} is not a URL; mark it "
                        'isPermaLink="false"'
                    )
            else:
                if len(value) < 9 and value.isdigit():
                    found.append(f"NotSufficientlyUnique: {label} <guid>: {value!r}")
                if value.startswith("tag:"):
                    # not the validator's business with isPermaLink="false"; feedsmith's ids are
                    # the Atom ids, so they must be valid tag URIs here too
                    found += _fmt(_uri_problems(value), f"{label} <guid>")
            if not value.strip():
                found.append(f"NotBlank: {label} <guid> is blank")
            elif value in guids:
                found.append(f"DuplicateValue: {label}: the same guid as item {guids[value]}")
            else:
                guids[value] = i
        for el in _children(item, "pubDate"):
            found += _fmt(_rfc822_problems(_text(el), now), f"{label} <pubDate>")
        for el in _children(item, _q(DC_NS, "date")):
            found += _fmt(_rfc3339_problems(_text(el), now), f"{label} <dc:date>")
        for el in _children(item, "author"):
            found += _fmt(_email_with_name_problems(_text(el), doc.raw(el)), f"{label} <author>")
        for el in _children(item, "enclosure"):
            for attr in ("url", "length", "type"):
                if el.get(attr) is None:
                    found.append(f"MissingAttribute: {label} <enclosure>: {attr}")
            if el.get("url") is not None:
                found += _fmt(_uri_problems(el.get("url")), f"{label} <enclosure url>")
            # rss.py's enclosure.prevalidate: a length that is not an integer above zero (the
            # RSS profile's "0 when unknown" included) and a type that is not a MIME type.
            length = el.get("length")
            if length is not None and not (length.isdigit() and int(length) > 0):
                found.append(f"InvalidIntegerAttribute: {label} <enclosure length={length!r}>")
            mime = el.get("type")
            if mime is not None and not _MIME_TYPE.fullmatch(mime):
                found.append(f"InvalidMIMEAttribute: {label} <enclosure type={mime!r}>")
        found += _twins(item, ITEM_SEMANTIC_TWINS, "DuplicateItemSemantics", label)
    return found + _all_bad_characters(doc, "channel")


# -- OPML ---------------------------------------------------------------------------------------

#: Attributes whose presence (without ``type``, with more than one attribute) makes the
#: validator say MissingOutlineType (opml.py, ``opmlOutline.validate``).
OUTLINE_TYPED_ATTRIBUTES = ("description", "htmlUrl", "language", "title", "version", "xmlUrl")
OUTLINE_VERSIONS = ("RSS", "RSS1", "RSS2", "scriptingNews")


def check_opml(data: bytes, *, now: float | None = None) -> list[str]:
    """Problems with ``data`` as an OPML subscription list, as the validator sees it."""
    doc, found = _parse(data)
    if doc is None:
        return found
    opml = doc.root
    if opml.tag != "opml":
        return [f"UnexpectedRoot: <{opml.tag}> is not <opml>"]
    version = opml.get("version")
    if version is None:
        found.append("MissingAttribute: <opml>: version")
    elif version not in ("1.0", "1.1", "2.0"):
        found.append(f"InvalidOPMLVersion: <opml version={version!r}>")
    heads, bodies = _children(opml, "head"), _children(opml, "body")
    if not heads:
        found.append("MissingElement: opml: <head>")
    if not bodies:
        found.append("MissingElement: opml: <body>")
    for head in heads:
        found += _no_duplicates(
            head,
            ["title", "dateCreated", "dateModified", "ownerName", "ownerEmail", "ownerId"],
            "head",
        )
        for name in ("title", "ownerName"):
            for el in _children(head, name):
                found += _fmt(_html_problems(_text(el), abs_urls=True), f"head <{name}>")
        for name in ("dateCreated", "dateModified"):
            for el in _children(head, name):
                found += _fmt(_rfc822_problems(_text(el), now), f"head <{name}>")
        for el in _children(head, "ownerEmail"):
            found += _fmt(_addr_spec_problems(_text(el), "InvalidContact"), "head <ownerEmail>")
        for el in _children(head, "ownerId"):
            found += _fmt(_uri_problems(_text(el)), "head <ownerId>")
    for body in bodies:
        if not _children(body, "outline"):
            found.append("MissingElement: body: no <outline>")
    old = version is not None and version.startswith("1.")
    for n, outline in enumerate(opml.iter("outline"), 1):
        attrs = dict(outline.attrib)
        label = f"outline {n}" + (f" (text={attrs['text']!r})" if "text" in attrs else "")
        if "text" not in attrs:
            found.append(f"MissingAttribute: {label}: text")
        kind = attrs.get("type")
        if kind is not None:
            if kind.lower() == "rss":
                if "xmlUrl" not in attrs:
                    found.append(f"MissingXmlURL: {label}: type=rss needs xmlUrl")
                if "title" not in attrs:
                    found.append(f"MissingTitleAttr: {label}: type=rss needs title")
            elif kind.lower() == "link":
                if "url" not in attrs:
                    found.append(f"MissingUrlAttr: {label}: type=link needs url")
            elif old:
                found.append(f"InvalidOutlineType: {label}: type={kind!r} in OPML {version}")
        if "version" in attrs and attrs["version"] not in OUTLINE_VERSIONS:
            found.append(f"InvalidOutlineVersion: {label}: version={attrs['version']!r}")
        if len(attrs) > 1 and kind is None:
            present = [a for a in OUTLINE_TYPED_ATTRIBUTES if a in attrs]
            if present:
                found.append(
                    f"MissingOutlineType: {label}: has {present[0]} but no type (an outline "
                    'with more than just a "text" attribute should have a "type")'
                )
        if "created" in attrs:
            found += _fmt(_rfc822_problems(attrs["created"], now), f"{label} created")
        for name in ("htmlUrl", "url", "xmlUrl"):
            if name in attrs:
                found += _fmt(_uri_problems(attrs[name]), f"{label} {name}")
        for name in ("isBreakpoint", "isComment"):
            if name in attrs and attrs[name] not in ("true", "false"):
                found.append(f"InvalidBooleanAttribute: {label} {name}={attrs[name]!r}")
        if "language" in attrs and not _LANGUAGE_RE.fullmatch(attrs["language"]):
            found.append(f"InvalidLanguage: {label}: language={attrs['language']!r}")
        for name in ("text", "title", "description"):
            if name in attrs:
                found += _fmt(
                    _html_problems(attrs[name], abs_urls=name == "description"),
                    f"{label} {name}",
                )
        if outline.text and outline.text.strip():
            found.append(f"UnexpectedText: {label}: text content in an <outline>")
    return found + _all_bad_characters(doc, "opml")


# -- JSON Feed 1.1 ------------------------------------------------------------------------------

_JSON_TOP = {
    "version": str,
    "title": str,
    "home_page_url": "url",
    "feed_url": "url",
    "description": str,
    "user_comment": str,
    "next_url": "url",
    "icon": "url",
    "favicon": "url",
    "authors": list,
    "author": dict,
    "language": str,
    "expired": bool,
    "hubs": list,
    "items": list,
}
_JSON_ITEM = {
    "id": str,
    "url": "url",
    "external_url": "url",
    "title": str,
    "content_html": str,
    "content_text": str,
    "summary": str,
    "image": "url",
    "banner_image": "url",
    "date_published": "date",
    "date_modified": "date",
    "authors": list,
    "author": dict,
    "tags": list,
    "language": str,
    "attachments": list,
}
_JSON_AUTHOR = {"name": str, "url": "url", "avatar": "url"}
_JSON_ATTACHMENT = {
    "url": "url",
    "mime_type": str,
    "title": str,
    "size_in_bytes": (int, float),
    "duration_in_seconds": (int, float),
}


def _json_object(obj: Any, spec: dict[str, Any], where: str, now: float | None) -> list[str]:
    found: list[str] = []
    for key, value in obj.items():
        kind = spec.get(key)
        if kind is None:
            if not key.startswith("_"):
                found.append(
                    f"JsonUnknownKey: {where}: {key!r} (extension keys must start with '_')"
                )
            continue
        if kind == "url":
            if not isinstance(value, str):
                found.append(f"JsonWrongType: {where}.{key}: {value!r} is not a string")
            else:
                found += _fmt(_uri_problems(value), f"{where}.{key}")
        elif kind == "date":
            if not isinstance(value, str):
                found.append(f"JsonWrongType: {where}.{key}: {value!r} is not a string")
            else:
                found += _fmt(_rfc3339_problems(value, now), f"{where}.{key}")
        elif not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            found.append(f"JsonWrongType: {where}.{key}: {type(value).__name__} {value!r:.60}")
    if "author" in obj:
        found.append(f"JsonDeprecated: {where}: 'author' is JSON Feed 1.0; 1.1 has 'authors'")
    authors = obj.get("authors")
    for i, author in enumerate(authors if isinstance(authors, list) else [], 1):
        if not isinstance(author, dict):
            found.append(f"JsonWrongType: {where}.authors[{i}] is not an object")
            continue
        if not any(k in author for k in _JSON_AUTHOR):
            found.append(f"JsonMissingField: {where}.authors[{i}]: needs name, url or avatar")
        found += _json_object(author, _JSON_AUTHOR, f"{where}.authors[{i}]", now)
    return found


def check_json_feed(
    data: bytes, *, path_only_links: bool = False, now: float | None = None
) -> list[str]:
    """Problems with ``data`` as a JSON Feed 1.1 document."""
    try:
        feed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return [f"JsonInvalid: {e}"]
    if not isinstance(feed, dict):
        return ["JsonInvalid: the top level is not an object"]
    found: list[str] = []
    version = feed.get("version")
    if version != JSON_FEED_1_1:
        found.append(f"JsonBadVersion: version is {version!r}, expected {JSON_FEED_1_1!r}")
    if not isinstance(feed.get("title"), str) or not feed.get("title"):
        found.append("JsonMissingField: feed: title (a non-empty string)")
    if not isinstance(feed.get("items"), list):
        found.append("JsonMissingField: feed: items (an array)")
    found += _json_object(feed, _JSON_TOP, "feed", now)
    ids: dict[str, int] = {}
    items = feed.get("items")
    for i, item in enumerate(items if isinstance(items, list) else [], 1):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            found.append(f"JsonWrongType: {where} is not an object")
            continue
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            found.append(f"JsonMissingField: {where}: id (a non-empty string), got {item_id!r}")
        else:
            where = f"items[{i}] ({item_id})"
            if item_id in ids:
                found.append(f"JsonDuplicateId: {where}: the same id as items[{ids[item_id]}]")
            else:
                ids[item_id] = i
            if item_id.startswith("tag:"):
                found += _fmt(_uri_problems(item_id), f"{where}.id")
        if "content_html" not in item and "content_text" not in item:
            found.append(f"JsonMissingField: {where}: content_html or content_text")
        found += _json_object(item, _JSON_ITEM, where, now)
        if path_only_links and isinstance(item.get("url"), str):
            found += _link_path_problems(item["url"], f"{where}.url")
        tags = item.get("tags")
        if isinstance(tags, list) and not all(isinstance(t, str) for t in tags):
            found.append(f"JsonWrongType: {where}.tags: not all strings")
        attachments = item.get("attachments")
        for j, att in enumerate(attachments if isinstance(attachments, list) else [], 1):
            if not isinstance(att, dict):
                found.append(f"JsonWrongType: {where}.attachments[{j}] is not an object")
                continue
            for key in ("url", "mime_type"):
                if key not in att:
                    found.append(f"JsonMissingField: {where}.attachments[{j}]: {key}")
            found += _json_object(att, _JSON_ATTACHMENT, f"{where}.attachments[{j}]", now)
    return found


# -- files --------------------------------------------------------------------------------------


def check_file(
    name: str, data: bytes, *, path_only_links: bool = False, now: float | None = None
) -> list[str]:
    """Check one published file by its name: ``*.atom.xml``, ``*.rss.xml``, ``*.json`` (JSON
    Feed; ``index.json``, the manifest, and ``ids.json``, the id map, are not feeds and give
    []), ``*.opml``."""
    base = PurePosixPath(name).name
    if base.endswith(".atom.xml"):
        return check_atom(data, path_only_links=path_only_links, now=now)
    if base.endswith(".rss.xml"):
        return check_rss(data, path_only_links=path_only_links, now=now)
    if base.endswith(".opml"):
        return check_opml(data, now=now)
    if base.endswith(".json") and base != "index.json" and name != "ids.json":
        return check_json_feed(data, path_only_links=path_only_links, now=now)
    return []
