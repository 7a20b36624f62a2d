"""Outgoing HTTP for WebSub: timeouts always, redirects never, and SSRF guards for callbacks.

A callback URL is chosen by whoever subscribes, i.e. anyone on the Internet, so the built-in
hub must not become a way to make requests into our own network. Two checks:

* at subscription time, the callback's host must resolve only to public addresses (a clear 4xx
  for the subscriber instead of a silent failure later);
* at every connection, the address actually connected to is checked again, inside urllib3's
  connection, so DNS that answers differently the second time (rebinding) gains nothing.

Redirects are never followed (``allow_redirects=False``): a 3xx is an answer, not a 2xx, so
verification fails and delivery retries, and a public callback cannot bounce us to a private
one. Proxies from the environment are ignored (``trust_env=False``) for the same reason.
External hubs are configured by the site's owner, so their session is not guarded (a hub on
the same host is a normal set-up).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from feedsmith import __version__

__all__ = [
    "BLOCKED",
    "TIMEOUT",
    "USER_AGENT",
    "BlockedAddress",
    "address_allowed",
    "check_callback",
    "failure",
    "session",
]

#: (connect, read) seconds: a slow hub or callback holds the sender thread at most this long.
TIMEOUT = (5.0, 10.0)
USER_AGENT = f"feedsmith/{__version__} (WebSub)"


class BlockedAddress(requests.exceptions.ConnectionError):
    """A callback that resolves (or connects) to an address we refuse to call."""


def address_allowed(address: str) -> bool:
    """Only globally routable unicast addresses (not loopback, private, link-local, CGNAT,
    multicast, reserved, unspecified; IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_callback(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a callback (one line for the 4xx answer), or ``None``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "hub.callback must be an absolute http(s) URL"
    if parts.username or parts.password:
        return "hub.callback must not carry credentials"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "hub.callback has an invalid port"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return "hub.callback host does not resolve"
    if not infos or not all(address_allowed(str(info[4][0])) for info in infos):
        return "hub.callback resolves to a private, loopback or link-local address"
    return None


def _guard(conn: Any, sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise BlockedAddress(f"refusing to connect to {peer}: not a public address")
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


BLOCKED = "blocked: not a public address"


def failure(exc: requests.RequestException) -> str:
    """A short, stable reason for logs and ``/healthz`` (the exception's class name), or
    :data:`BLOCKED` when the guard refused the address (urllib3 wraps it twice)."""
    return BLOCKED if "not a public address" in str(exc) else type(exc).__name__


def session(*, guarded: bool) -> requests.Session:
    """A session for one sender thread (``requests.Session`` is not thread-safe)."""
    s = requests.Session()
    s.trust_env = False
    s.headers["User-Agent"] = USER_AGENT
    if guarded:
        adapter = _GuardedAdapter()
        s.mount("http://", adapter)
        s.mount("https://", adapter)
    return s
