"""Small real HTTP servers the WebSub tests talk to: a hub that records publish pings.

Each runs ``http.server`` in a daemon thread on a free port; tests wait on what it received
(a condition variable), never on time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"))


@dataclass
class Recorder:
    """What a test server received, and a way to wait for it."""

    requests: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    #: the answer: (status, headers, body) for a request; may block (a hanging hub)
    answer: Callable[[Received], tuple[int, dict[str, str], bytes]] = lambda r: (204, {}, b"")

    def add(self, req: Received) -> None:
        with self.changed:
            self.requests.append(req)
            self.changed.notify_all()

    def wait_for(self, check: Callable[[list[Received]], Any], timeout: float = 30.0) -> Any:
        with self.changed:
            ok = self.changed.wait_for(lambda: check(self.requests), timeout)
        assert ok, f"timed out; received {[(r.method, r.path, r.body) for r in self.requests]}"
        return ok


@contextmanager
def serving(recorder: Recorder, port: int = 0) -> Iterator[str]:
    """Serve ``recorder`` on 127.0.0.1; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Received(self.command, self.path, dict(self.headers.items()), body)
            recorder.add(req)
            status, headers, payload = recorder.answer(req)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (a build that exited) is part of the tests

    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pinged_topics(requests: list[Received]) -> list[str]:
    topics = []
    for req in requests:
        form = req.form
        assert req.method == "POST" and form["hub.mode"] == ["publish"], req
        assert form["hub.topic"] == form["hub.url"], form
        topics.extend(form["hub.url"])
    return topics


@dataclass
class Hostile:
    """What a hostile callback saw: connections opened, closed by the peer, bytes sent."""

    opened: int = 0
    closed: int = 0
    sent: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, check: Callable[[Hostile], Any], timeout: float = 60.0) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: check(self), timeout)
        assert ok, f"timed out; opened={self.opened} closed={self.closed} sent={self.sent}"


@contextmanager
def hostile(
    mode: str, host: str = "127.0.0.1", every: float = 1.0
) -> Iterator[tuple[str, Hostile]]:
    """A callback that never finishes answering: ``drip`` sends a status line and then one
    byte of an endless header every ``every`` seconds; ``flood`` sends a 200 with an endless
    body as fast as the client takes it; ``kept-drip`` answers a first request on a connection
    properly (kept alive) and drips the second. Serves on ``host`` (loopback only); yields the
    base URL. A test of a client's deadline drips faster than the default second so that the
    deadline it sets can be short and still be crossed by many bytes, each well inside the
    per-read timeout."""
    import socket
    import socketserver

    seen = Hostile()
    stop = threading.Event()
    chunk = b"x" * 65536

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock: socket.socket = self.request
            with seen.changed:
                seen.opened += 1
                seen.changed.notify_all()
            try:
                data = b""
                while b"\r\n\r\n" not in data:  # the request's head; its body is not needed
                    got = sock.recv(65536)
                    if not got:
                        return
                    data += got
                if mode == "kept-drip":
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    data = b""
                    while b"\r\n\r\n" not in data:
                        got = sock.recv(65536)
                        if not got:
                            return
                        data += got
                if mode in ("drip", "kept-drip"):
                    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    while not stop.wait(every):
                        sock.sendall(b"a")
                        seen.sent += 1
                else:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
                    while not stop.is_set():
                        sock.sendall(chunk)
                        seen.sent += len(chunk)
            except OSError:
                pass
            finally:
                with seen.changed:
                    seen.closed += 1
                    seen.changed.notify_all()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}", seen
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


class Clock:
    """Real time plus what the test moved it by (web workers stamp requests with real time)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def until(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Polls until ``check`` is truthy (another thread writes what it reads); the timeout only
    bounds a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def challenge_of(req: Received) -> str:
    """The ``hub.challenge`` of a verification request (empty when there is none)."""
    return parse_qs(urlsplit(req.path).query).get("hub.challenge", [""])[0]


def echo(req: Received) -> tuple[int, dict[str, str], bytes]:
    """A willing subscriber: echoes every verification's challenge, takes every delivery."""
    if req.method == "GET":
        return 200, {}, challenge_of(req).encode()
    return 204, {}, b""
