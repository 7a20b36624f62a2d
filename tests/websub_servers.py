"""Small real HTTP servers the WebSub tests talk to: a hub that records publish pings.

Each runs ``http.server`` in a daemon thread on a free port; tests wait on what it received
(a condition variable), never on time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


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
