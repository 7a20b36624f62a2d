"""Slow clients never stall ``serve``: request bodies are capped and bounded in time.

Fast tests drive the app in process (the body layer of :mod:`feedsmith.serve.bodies` in front of the
hub and the rebuild webhook); the slow one runs a real ``feedsmith serve`` with the built-in hub
and 400 raw-socket clients trickling one byte a second, while a poller fetches a feed.
"""

from __future__ import annotations

import contextlib
import io
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from feedsmith.config import load_config
from feedsmith.core.config import ConfigError
from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.bodies import BodyLimit
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import eventually, post_text, run_serve

TOKEN = "slow-secret"


class Untouchable(io.RawIOBase):
    """A ``wsgi.input`` that fails the test if anything reads it."""

    reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        Untouchable.reads += 1
        raise AssertionError("the body was read")


class Trickle(io.RawIOBase):
    """A ``wsgi.input`` whose client sends a few bytes and then nothing until released."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.released = threading.Event()
        self.finished = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        if self.first:
            out, self.first = self.first[:1], self.first[1:]
            return out
        self.released.wait(30)
        self.finished.set()
        return b""


@pytest.fixture
def hub_app(site: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"builtin": True}
    site.settings["server"] = {"max_body_bytes": 2048, "body_timeout_seconds": 0.2}
    config = site.config()
    build_site(config, datetime.now(UTC))
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", TOKEN)
    return create_app(config, FeedStore.for_config(config))


def _call(
    app: Any, method: str, path: str, body: Any, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    environ = _environ(method, path, body, headers)
    seen: list[Any] = []
    out = b"".join(
        app.wsgi_app(environ, lambda status, hdrs, exc=None: seen.extend([status, hdrs]))
    )
    return int(seen[0][:3]), dict(seen[1]), out


def _environ(method: str, path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_LENGTH", "CONTENT_TYPE") else "HTTP_" + key] = value
    return environ


@pytest.mark.parametrize("path", ["/websub", "/-/rebuild"])
def test_a_body_announced_over_the_cap_is_refused_413_without_reading_it(
    hub_app: Any, path: str
) -> None:
    Untouchable.reads = 0
    status, headers, text = _call(
        hub_app, "POST", path, Untouchable(), {"Content-Length": str(10 * 1024 * 1024)}
    )
    assert status == 413
    assert b"at most 2048" in text
    assert headers["Connection"] == "close"
    assert Untouchable.reads == 0


def test_a_chunked_body_over_the_cap_is_refused_413_once_it_passes_the_cap(hub_app: Any) -> None:
    stream = io.BytesIO(b"hub.mode=subscribe&" + b"x" * 10_000)
    status, _, _text = _call(hub_app, "POST", "/websub", stream, {"Transfer-Encoding": "chunked"})
    assert status == 413
    assert stream.tell() <= 2049  # read no further than the cap + the byte that proves it


def test_a_body_that_does_not_arrive_in_time_gets_408_and_keeps_its_slot_until_the_read_ends(
    hub_app: Any,
) -> None:
    """The 408 is whole at the deadline; its iterable ends only once the read did (granian
    stalls if a response ends while its body is still being read), and so does the slot."""
    stream = Trickle(b"hub.mode=")
    environ = _environ(
        "POST",
        "/websub",
        stream,
        {"Content-Length": "1000", "Content-Type": "application/x-www-form-urlencoded"},
    )
    seen: list[Any] = []
    answer = iter(hub_app.wsgi_app(environ, lambda st, hd, exc=None: seen.extend([st, hd])))
    assert seen[0].startswith("408")
    assert dict(seen[1])["Connection"] == "close"
    first = next(answer)
    assert first == b"request body not received within 0.2 s\n"
    assert dict(seen[1])["Content-Length"] == str(len(first))
    assert not stream.finished.is_set()  # answered while the read still waits
    ends = threading.Thread(target=lambda: list(answer))
    ends.start()
    stream.released.set()  # the client goes away
    ends.join(10)
    assert stream.finished.is_set() and not ends.is_alive()


def test_small_bodies_still_reach_the_hub_and_the_webhook(hub_app: Any) -> None:
    form = b"hub.mode=subscribe&hub.topic=https%3A%2F%2Fblog.example.com%2Ffeeds%2Fnope.xml"
    status, _, text = _call(
        hub_app,
        "POST",
        "/websub",
        io.BytesIO(form),
        {"Content-Length": str(len(form)), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and b"callback" in text.lower()  # the hub read the form: no callback
    status, _, _ = _call(
        hub_app,
        "POST",
        "/-/rebuild",
        io.BytesIO(b"{}"),
        {"Content-Length": "2", "Authorization": f"Bearer {TOKEN}"},
    )
    assert status == 202


def test_feed_gets_never_read_a_body(hub_app: Any) -> None:
    Untouchable.reads = 0
    status, _, _ = _call(
        hub_app, "GET", "/feeds/all.atom.xml", Untouchable(), {"Content-Length": "100000"}
    )
    assert status == 200
    assert Untouchable.reads == 0


def test_bodies_awaited_at_once_are_bounded_the_rest_get_503_at_once() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    layer = BodyLimit(app, max_bytes=1024, timeout=30)
    streams = [Trickle(b"") for _ in range(6)]
    results: list[int] = []
    threads = []
    for stream in streams:
        thread = threading.Thread(
            target=lambda s=stream: results.append(_call_plain(layer, s, {"CONTENT_LENGTH": "10"}))
        )
        thread.start()
        threads.append(thread)
    # RECEIVING (4) wait for their bodies; the other two are refused without waiting.
    eventually(lambda: results.count(503) == 2, "two 503s", timeout=10)
    for stream in streams:
        stream.released.set()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [400, 400, 400, 400, 503, 503]  # released empty: too short


def _call_plain(layer: BodyLimit, stream: Any, extra: dict[str, str]) -> int:
    seen: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "wsgi.input": stream, **extra}
    list(layer(environ, lambda status, headers, exc=None: seen.append(status)))
    return int(seen[0][:3])


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("max_body_bytes", "64k", "must be an integer"),
        ("max_body_bytes", 10, "at least 1024"),
        ("body_timeout_seconds", 0, "between"),
        ("body_timeout_seconds", "soon", "must be a number"),
    ],
)
def test_body_limits_in_the_config_are_validated(
    site: Any, key: str, value: Any, reason: str
) -> None:
    site.settings["server"] = {key: value}
    with pytest.raises(ConfigError) as info:
        site.config()
    assert f"server.{key}" in str(info.value) and reason in str(info.value)


def test_body_limit_defaults(site: Any) -> None:
    config = site.config()
    assert config.server.max_body_bytes == 65536
    assert config.server.body_timeout_seconds == 10.0
    assert load_config(site.config_path).server == config.server


# -- a real server and 400 slow clients --------------------------------------------------------


@contextlib.contextmanager
def serve_with_hub(site: Any, log: Path, server: str = "granian") -> Iterator[str]:
    """A real ``serve`` with the built-in hub and a 2 s body deadline; its base URL."""
    site.settings["websub"] = {"builtin": True}
    with run_serve(
        site, log, 3600, watch=False, server={"body_timeout_seconds": 2}, web_server=server
    ) as served:
        yield served.base


class SlowClients:
    """Raw sockets that send their request one byte a second from one thread: ``bodies``
    announce a 20 000-byte form post to ``/websub`` (under the cap: the deadline must act),
    ``headers`` never finish their headers.
    Records per socket what the server did: the status it answered, or that it closed."""

    def __init__(self, port: int, bodies: int, headers: int) -> None:
        body_head = (
            b"POST /websub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20000\r\n\r\n"
        )
        self.pending: dict[socket.socket, bytes] = {}
        self.kind: dict[socket.socket, str] = {}
        self.outcome: dict[socket.socket, str] = {}
        for i in range(bodies + headers):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setblocking(False)
            if i < bodies:
                sock.sendall(body_head)  # fast headers; the body will trickle
                self.pending[sock] = b"hub.mode=subscribe&" * 100
                self.kind[sock] = "body"
            else:
                self.pending[sock] = b"GET /feeds/all.atom.xml HTTP/1.1\r\nX-Slow: " + b"a" * 1000
                self.kind[sock] = "header"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            open_ = [s for s in self.pending if s not in self.outcome]
            if not open_:
                return
            for sock in open_:
                data = self.pending[sock]
                with contextlib.suppress(OSError):
                    sock.send(data[:1])
                self.pending[sock] = data[1:]
            deadline = time.monotonic() + 1.0
            while (left := deadline - time.monotonic()) > 0:
                readable, _, _ = select.select(
                    [s for s in open_ if s not in self.outcome], [], [], left
                )
                for sock in readable:
                    try:
                        got = sock.recv(200)
                    except OSError:
                        got = b""
                    self.outcome[sock] = (
                        got[9:12].decode() if got.startswith(b"HTTP/") else "closed"
                    )

    def done(self, kind: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sock, k in self.kind.items():
            if k == kind:
                key = self.outcome.get(sock, "open")
                counts[key] = counts.get(key, 0) + 1
        return counts

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.kind:
            sock.close()


@pytest.mark.slow
def test_400_slow_clients_do_not_keep_feed_pollers_waiting(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    with serve_with_hub(site, tmp_path / "serve.log") as base:
        port = int(base.rsplit(":", 1)[1])
        slow = SlowClients(port, bodies=200, headers=200)
        slow.thread.start()
        try:
            answered = []
            with requests.Session() as poller:
                for _ in range(30):
                    # 10 s only bounds a hang; the figures are in bench/slowclients.py.
                    response = poller.get(base + "/feeds/all.atom.xml", timeout=10)
                    answered.append(response.status_code)
                    time.sleep(0.2)
            assert answered == [200] * 30
            # Every slow body was answered: 408 after the 2 s deadline, or 503 at once when
            # the worker's body slots were taken. No slow body is still being waited for.
            eventually(lambda: "open" not in slow.done("body"), "every slow body answered", 20)
            bodies = slow.done("body")
            assert set(bodies) <= {"408", "503"}, bodies
            assert bodies.get("408", 0) >= 1
            # granian drops headers not complete within 10 s (server.HEADER_READ_TIMEOUT_MS).
            eventually(lambda: "open" not in slow.done("header"), "slow headers dropped", 20)
            assert set(slow.done("header")) <= {"closed", "408"}, slow.done("header")
        finally:
            slow.close()


def test_under_gunicorn_the_body_is_read_on_its_socket_with_the_time_left() -> None:
    """gunicorn hands the app its connection (``gunicorn.socket``): the read runs in the worker
    thread with the remaining time as the socket's timeout, so a trickle ends in a 408."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [environ["wsgi.input"].read()]

    layer = BodyLimit(app, max_bytes=1024, timeout=0.3)
    server, client = socket.socketpair()
    with server, client:
        stream = server.makefile("rb", buffering=0)
        client.sendall(b"hub.")  # then nothing more
        environ = {
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "100",
            "wsgi.input": stream,
            "gunicorn.socket": server,
        }
        seen: list[str] = []
        out = b"".join(layer(environ, lambda status, headers, exc=None: seen.append(status)))
        assert seen[0].startswith("408") and b"0.3 s" in out
        assert server.gettimeout() is None  # the socket is left as gunicorn had it

    server, client = socket.socketpair()  # gunicorn closes a connection answered 408
    with server, client:
        stream = server.makefile("rb", buffering=0)
        client.sendall(b"x" * 10)
        environ = {
            "REQUEST_METHOD": "POST",
            "CONTENT_LENGTH": "10",
            "wsgi.input": stream,
            "gunicorn.socket": server,
        }
        seen.clear()
        out = b"".join(layer(environ, lambda status, headers, exc=None: seen.append(status)))
        assert seen == ["200 OK"] and out == b"x" * 10
