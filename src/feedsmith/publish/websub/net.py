"""Outgoing HTTP for WebSub: a deadline for every request, a few KiB of any answer, redirects
never, and SSRF guards for callbacks.

A callback URL is chosen by whoever subscribes, i.e. anyone on the Internet, so the built-in
hub must neither become a way to make requests into our own network nor be held by a peer:

* **deadline**: :func:`call` bounds the whole request (name resolution, connect, send, receive)
  by :data:`DEADLINE`, not only each read: a watchdog shuts the socket down when the time is
  up, so a peer answering one byte a second (headers or body) costs at most the deadline.
  Name resolution runs in a helper thread waited for at most the time left (``getaddrinfo``
  has no timeout of its own; a stuck lookup thread is abandoned, it holds no lane).
* **bounded answer**: only the first :data:`ANSWER_BYTES` of an answer are read (streamed, then
  the connection is closed): a challenge echo is short, a 400 MiB answer costs 4 KiB.
  A connection whose answer was not read to its end is closed, not reused; a kept-alive one
  is handed to the next request's watchdog.
* **where**: at subscription time a web worker checks the callback's *syntax* only
  (:func:`check_callback`: scheme, credentials, port, host name by IDNA, IP literals by the
  address guard of :mod:`.guard`) — no DNS in the web worker, so a slow resolver never holds a
  request thread. The builder, which connects, resolves (time-bounded), refuses the
  connection when any address the name resolves to is not public, and checks the address
  actually connected to once more, so DNS that answers differently the second time
  (rebinding) gains nothing. A host name that resolves to a private address is thus refused at
  verification (``verify_failed``, reason ``blocked``), not with a 403 at subscription.

Redirects are never followed (``allow_redirects=False``): a 3xx is an answer, not a 2xx, so
verification fails and delivery retries, and a public callback cannot bounce us to a private
one. Proxies from the environment are ignored (``trust_env=False``) for the same reason.
External hubs are configured by the site's owner, so their session is not guarded (a hub on
the same host is a normal set-up), but it has the same deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import queue
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as u3connection

from feedsmith import __version__
from feedsmith.publish.websub.guard import address_allowed, host_problem

__all__ = [
    "ANSWER_BYTES",
    "BLOCKED",
    "DEADLINE",
    "TIMEOUT",
    "USER_AGENT",
    "Answer",
    "BlockedAddress",
    "DeadlineExceeded",
    "address_allowed",
    "call",
    "check_callback",
    "failure",
    "session",
]

#: (connect, read) seconds of each step; :data:`DEADLINE` bounds the whole request.
TIMEOUT = (5.0, 10.0)
#: Seconds one request may take in all (resolve + connect + send + receive).
DEADLINE = 15.0
#: Bytes of an answer read at most (a challenge is far shorter; the rest is never read).
ANSWER_BYTES = 4096
USER_AGENT = f"feedsmith/{__version__} (WebSub)"
BLOCKED = "blocked: not a public address"
DEADLINE_REASON = "Deadline"


class BlockedAddress(requests.exceptions.ConnectionError):
    """A callback that resolves (or connects) to an address we refuse to call."""


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole request took longer than its deadline."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most the limit asked for


def check_callback(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` cannot be a callback (one line for the 4xx answer), or ``None``. No DNS:
    see the module docstring for where names are resolved and judged."""
    if any(ch <= " " or ch == "\x7f" for ch in url):
        return "hub.callback must not contain spaces or control characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "hub.callback must be an absolute http(s) URL"
    if parts.username or parts.password:
        return "hub.callback must not carry credentials"
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        return "hub.callback has an invalid port"
    problem = host_problem(parts.hostname)
    if problem is not None:
        return problem
    if allow_private:
        return None
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None
    if not address_allowed(str(literal)):
        return "hub.callback resolves to a private, loopback or link-local address"
    return None


class _Deadline:
    """Shuts down the request's sockets when its time is up (a blocked read then ends)."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        _WATCHDOG.add(self)

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self._socks:
                _shut(sock)

    def cancel(self) -> None:
        with self._lock:
            self.done = True
            self._socks.clear()


class _Watchdog:
    """One daemon thread expiring every request's deadline (a timer thread per request would
    cost a thread start per delivery)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.end, next(self._seq), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="feedsmith-websub-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                due = heapq.heappop(self._heap)[2]
            due.expire()


_WATCHDOG = _Watchdog()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


_local = threading.local()


def _deadline() -> _Deadline | None:
    return getattr(_local, "deadline", None)


def call(
    s: requests.Session,
    method: str,
    url: str,
    *,
    deadline: float | None = None,
    limit: int = ANSWER_BYTES,
    **kwargs: Any,
) -> Answer:
    """One request under ``deadline`` seconds in all, reading at most ``limit`` bytes of the
    answer (``deadline`` ``None``: :data:`DEADLINE`, read now, so a test can lengthen it).
    Raises a ``requests`` exception (:class:`DeadlineExceeded` when out of time)."""
    deadline = DEADLINE if deadline is None else deadline
    watch = _Deadline(deadline)
    _local.deadline = watch
    try:
        resp = s.request(method, url, stream=True, timeout=TIMEOUT, allow_redirects=False, **kwargs)
        try:
            body = resp.raw.read(limit, decode_content=False) or b""
        finally:
            resp.close()
        if watch.expired:
            raise DeadlineExceeded(f"{method} {url}: no complete answer within {deadline:g}s")
        return Answer(resp.status_code, body)
    except requests.RequestException as exc:
        if watch.expired and not isinstance(exc, DeadlineExceeded):
            raise DeadlineExceeded(f"{method} {url}: over {deadline:g}s") from exc
        raise
    except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
        # raised by ``raw.read`` (not wrapped by requests), e.g. a socket the watchdog shut
        if watch.expired:
            raise DeadlineExceeded(f"{method} {url}: over {deadline:g}s") from exc
        raise requests.exceptions.ConnectionError(str(exc)) from exc
    finally:
        watch.cancel()
        _local.deadline = None


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """Addresses of ``host`` within ``timeout`` seconds (``getaddrinfo`` has no timeout)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    box: queue.SimpleQueue[object] = queue.SimpleQueue()

    def lookup() -> None:
        try:
            box.put(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:
            box.put(exc)

    threading.Thread(target=lookup, name="feedsmith-websub-dns", daemon=True).start()
    try:
        got = box.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"resolving {host} took over {timeout:g}s") from None
    if isinstance(got, Exception):
        raise got
    return [str(info[4][0]) for info in got]  # type: ignore[union-attr]


class _Connect:
    """``_new_conn`` for our connections: bounded resolution, the address guard (when
    ``guarded``), the deadline's watchdog, the connected address checked again. ``request``
    hands a kept-alive socket to the current request's watchdog too."""

    guarded = False

    def request(self, *args: Any, **kwargs: Any) -> None:
        sock = getattr(self, "sock", None)
        watch = _deadline()
        if sock is not None and watch is not None:
            watch.add(sock)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        host: str = conn._dns_host
        watch = _deadline()
        left = watch.left() if watch is not None else TIMEOUT[0]
        if self.guarded:
            problem = host_problem(host)
            if problem is not None:
                raise BlockedAddress(f"refusing {host!r}: {problem} (not a public address)")
        try:
            addresses = _resolve(host, conn.port, min(left, TIMEOUT[0]))
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except (TimeoutError, OSError) as exc:
            raise ConnectTimeoutError(conn, str(exc)) from exc
        if self.guarded and not all(address_allowed(a) for a in addresses):
            raise BlockedAddress(f"refusing to connect to {host}: not a public address")
        error: Exception | None = None
        for address in addresses:
            left = watch.left() if watch is not None else conn.timeout
            try:
                sock = u3connection.create_connection(
                    (address, conn.port),
                    left if conn.timeout is None else min(left, conn.timeout),
                    source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )
            except OSError as exc:
                error = exc
                continue
            if watch is not None:
                watch.add(sock)
            return _guard(sock) if self.guarded else sock
        raise NewConnectionError(conn, f"cannot connect to {host}: {error}")


def _guard(sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise BlockedAddress(f"refusing to connect to {peer}: not a public address")
    return sock


def _adapter(guarded: bool) -> HTTPAdapter:
    http = type("Conn", (_Connect, HTTPConnection), {"guarded": guarded})
    https = type("ConnS", (_Connect, HTTPSConnection), {"guarded": guarded})
    pools = {
        "http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("PoolS", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    return Adapter()


def failure(exc: requests.RequestException) -> str:
    """A short, stable reason for logs and ``/healthz`` (the exception's class name), or
    :data:`BLOCKED` when the guard refused the address (urllib3 wraps it twice), or
    ``Deadline`` when the request ran out of time."""
    if isinstance(exc, DeadlineExceeded):
        return DEADLINE_REASON
    return BLOCKED if "not a public address" in str(exc) else type(exc).__name__


def session(*, guarded: bool) -> requests.Session:
    """A session for one thread (``requests.Session`` is not thread-safe)."""
    s = requests.Session()
    s.trust_env = False
    s.headers["User-Agent"] = USER_AGENT
    s.headers["Accept-Encoding"] = "identity"  # the bytes read are the bytes sent: no bombs
    adapter = _adapter(guarded)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
