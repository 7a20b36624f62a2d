"""Which callback hosts and addresses the built-in hub may call, and which network they are in.

Pure functions (no I/O, no DNS), so every rule is testable as a function and cheap enough for a
web worker:

* :func:`address_allowed` decides on what an address *reaches*, not on how it is written. IPv6
  has several ways to carry an IPv4 address to a translator or tunnel — IPv4-mapped
  (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), IPv4-translated (``::ffff:0:a.b.c.d``),
  NAT64 (``64:ff9b::/96``, and the local-use ``64:ff9b:1::/48`` in its ``/96`` form), 6to4
  (``2002:AABB:CCDD::/48``) and Teredo (``2001:0::/32``: server IPv4, then the client's IPv4
  inverted in the last 32 bits). Such an address is judged by every IPv4 inside it, so
  ``64:ff9b::a9fe:a9fe`` is the metadata service 169.254.169.254 and is refused.
  ``64:ff9b:1::/48`` is a local-use prefix whose layout each operator picks (RFC 8215), so only
  its ``/96`` form is judged by its IPv4; any other address in it is refused.
* :func:`host_problem` validates a host name before any resolver sees it: no control
  characters, spaces or ``%``; IDNA 2008 (UTS 46) via the ``idna`` package; RFC 1035 lengths.
* :func:`network_key` is what ``websub.max_per_host`` counts: an IPv4 ``/24``, an IPv6 ``/48``
  (what one customer or one machine typically gets), and for names the registrable domain
  (``a.example.co.uk`` → ``example.co.uk``). The public-suffix list comes from
  ``publicsuffixlist``, which ships the list inside the package and never fetches it: the hub
  must not depend on the network, nor on a cache directory, to count (tldextract would need
  both disabled by hand).
"""

from __future__ import annotations

import functools
import ipaddress
from ipaddress import IPv4Address, IPv6Address, IPv6Network

import idna

__all__ = ["address_allowed", "embedded_ipv4", "host_problem", "network_key", "normal_host"]

_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SIXTO4 = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")
_LOW32 = 0xFFFFFFFF
_MAX_NAME = 253
_MAX_LABEL = 63


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address leads to through a translator or tunnel, or ``None``
    when it is plain IPv6. An empty tuple: a form whose IPv4 we cannot know (refused)."""
    n = int(ip)
    low = IPv4Address(n & _LOW32)
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if n >> 32 == 0:  # IPv4-compatible (deprecated), also ``::`` and ``::1``: never global
        return (low,)
    if n >> 32 == 0xFFFF0000:  # IPv4-translated (RFC 2765)
        return (low,)
    if ip in _NAT64:
        return (low,)
    if ip in _NAT64_LOCAL:
        return (low,) if (n >> 32) & 0xFFFFFFFFFFFF == 0 else ()
    if ip in _SIXTO4:
        return (IPv4Address((n >> 80) & _LOW32),)
    if ip in _TEREDO:
        return (IPv4Address((n >> 64) & _LOW32), IPv4Address(~n & _LOW32))
    return None


def _public(ip: IPv4Address | IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def address_allowed(address: str) -> bool:
    """Only addresses that reach globally routable unicast hosts (see the module docstring)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return bool(inner) and all(_public(v4) for v4 in inner)
    return _public(ip)


def _literal(host: str) -> IPv4Address | IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def host_problem(host: str) -> str | None:
    """Why ``host`` (as ``urlsplit().hostname`` gives it) cannot be a callback host, or
    ``None``. Decided without DNS, so nothing odd ever reaches a resolver."""
    if not host:
        return "hub.callback has no host"
    if any(ch <= " " or ch in "\x7f%\\" for ch in host):
        return "hub.callback host contains a space, control character or '%'"
    if _literal(host) is not None:
        return None
    try:
        ascii_host = normal_host(host)
    except idna.IDNAError as exc:
        return f"hub.callback host is not a valid domain name ({exc})"
    if len(ascii_host) > _MAX_NAME or any(
        not 0 < len(label) <= _MAX_LABEL for label in ascii_host.split(".")
    ):
        return "hub.callback host is not a valid domain name (too long or empty label)"
    return None


@functools.lru_cache(maxsize=4096)
def normal_host(host: str) -> str:
    """The ASCII (A-label) form of a host name, lower-case, without a trailing dot; an IP
    literal as it is. Raises ``idna.IDNAError`` for a name IDNA refuses."""
    if _literal(host) is not None:
        return host.lower()
    name = host.rstrip(".")
    if not name:
        raise idna.IDNAError("empty name")
    return idna.encode(name, uts46=True).decode("ascii").lower()


@functools.cache
def _psl() -> object:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()  # the list bundled with the package: no download


def network_key(host: str) -> str:
    """The network a callback host belongs to, for ``websub.max_per_host``."""
    ip = _literal(host)
    if isinstance(ip, IPv4Address):
        return str(ipaddress.ip_network(f"{ip}/24", strict=False))
    if isinstance(ip, IPv6Address):
        inner = embedded_ipv4(ip)
        if ip.ipv4_mapped is not None and inner:
            return str(ipaddress.ip_network(f"{inner[0]}/24", strict=False))
        return str(ipaddress.ip_network(f"{ip}/48", strict=False))
    try:
        name = normal_host(host)
    except idna.IDNAError:
        name = host.lower()
    registrable = _psl().privatesuffix(name)  # type: ignore[attr-defined]
    return registrable or name
