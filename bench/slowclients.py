"""Slow-client benchmark: feed poller latency while many clients trickle one byte a second.

    .venv/bin/python bench/slowclients.py [--bodies 200] [--headers 200] [--polls 200]
                                          [--server granian|gunicorn] [--body-timeout 10]

Starts ``feedsmith serve`` (built-in WebSub hub on, 2 workers) on a throw-away site on
loopback, then measures a poller fetching ``/feeds/all.atom.xml`` over one keep-alive
connection: first alone, then while ``--bodies`` raw sockets send a form post to ``/websub``
(``Content-Length`` under the body cap) one body byte a second and ``--headers`` raw sockets
send a request's headers one byte a second. Prints p50/p99/max of the poller in both phases,
how many poller requests failed or took over 2 s, and what the server did to the slow sockets
(``408``/``503`` answers, ``closed``, still ``open``). Bounded: every phase ends after
``--polls`` requests (each with a 10 s timeout) and everything started here is stopped.

Not a test: it prints figures for the README.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path

import yaml

POST = """---
title: "Slow clients"
date: 2025-11-01 20:35:04 +0000
tags: [bench]
---

A post to serve.
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(work: Path, server: str, body_timeout: float) -> Iterator[int]:
    (work / "posts").mkdir()
    (work / "posts" / "2025-11-01-slow.md").write_text(POST, "utf-8")
    config = {
        "site": {"title": "Bench", "url": "https://blog.example.com", "author": "Bench"},
        "posts_dir": "posts",
        "output_dir": "feeds",
        "state_dir": "state",
        "schedule": {"interval_seconds": 3600, "watch": False},
        "server": {"workers": 2, "body_timeout_seconds": body_timeout},
        "websub": {"builtin": True},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config), "utf-8")
    port = free_port()
    env = {**os.environ, "FEEDSMITH_SERVER": server}
    env.pop("FEEDSMITH_CONFIG", None)
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "feedsmith", "-c", "config.yaml", "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited: {(work / 'serve.log').read_text()}")
            with contextlib.suppress(OSError):
                conn = HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            time.sleep(0.2)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def poll(port: int, count: int) -> tuple[list[float], int]:
    """Latencies (ms) of ``count`` feed GETs, one keep-alive connection, and the failures."""
    times: list[float] = []
    failed = 0
    conn = HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        t0 = time.perf_counter()
        try:
            conn.request("GET", "/feeds/all.atom.xml")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failed += 1
        except OSError:
            failed += 1
            conn.close()
            conn = HTTPConnection("127.0.0.1", port, timeout=10)
        times.append((time.perf_counter() - t0) * 1000.0)
        time.sleep(0.02)
    conn.close()
    return times, failed


class Trickler:
    """Raw sockets sending their request one byte a second from one thread."""

    def __init__(self, port: int, bodies: int, headers: int) -> None:
        head = (
            b"POST /websub HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20000\r\n\r\n"
        )
        self.pending: dict[socket.socket, bytes] = {}
        self.kind: dict[socket.socket, str] = {}
        self.outcome: dict[socket.socket, str] = {}
        for i in range(bodies + headers):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i < bodies:
                sock.sendall(head)
                self.pending[sock], self.kind[sock] = b"hub.mode=subscribe&" * 100, "body"
            else:
                self.pending[sock] = b"GET /feeds/all.atom.xml HTTP/1.1\r\nX-Slow: " + b"a" * 999
                self.kind[sock] = "header"
            sock.setblocking(False)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            live = [s for s in self.pending if s not in self.outcome]
            for sock in live:
                with contextlib.suppress(OSError):
                    sock.send(self.pending[sock][:1])
                self.pending[sock] = self.pending[sock][1:]
            deadline = time.monotonic() + 1.0
            while (left := deadline - time.monotonic()) > 0 and not self.stop.is_set():
                live = [s for s in live if s not in self.outcome]
                readable, _, _ = select.select(live, [], [], min(left, 0.2)) if live else ([], 0, 0)
                for sock in readable:
                    try:
                        got = sock.recv(200)
                    except OSError:
                        got = b""
                    self.outcome[sock] = (
                        got[9:12].decode() if got.startswith(b"HTTP/") else "closed"
                    )

    def summary(self, kind: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for sock, k in self.kind.items():
            if k == kind:
                key = self.outcome.get(sock, "open")
                counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.kind:
            sock.close()


def figures(label: str, times: list[float], failed: int) -> None:
    times = sorted(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    slow = sum(1 for t in times if t > 2000)
    print(
        f"{label:<34} p50 {statistics.median(times):8.1f} ms  p99 {p99:8.1f} ms  "
        f"max {times[-1]:8.1f} ms  over 2 s: {slow}  failed: {failed}  (n={len(times)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=200)
    parser.add_argument("--headers", type=int, default=200)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    parser.add_argument("--body-timeout", type=float, default=10.0)
    args = parser.parse_args()
    print(
        f"{args.server}, 2 workers, hub on, body timeout {args.body_timeout:g} s; "
        f"{os.cpu_count()} cores (shared)"
    )
    with (
        tempfile.TemporaryDirectory(prefix="feedsmith-slow-") as tmp,
        serve(Path(tmp), args.server, args.body_timeout) as port,
    ):
        figures("poller alone", *poll(port, args.polls))
        trickler = Trickler(port, args.bodies, args.headers)
        try:
            time.sleep(1.0)  # every slow client has sent its first byte
            figures(
                f"with {args.bodies} slow bodies + {args.headers} slow headers",
                *poll(port, args.polls),
            )
            print(f"slow bodies:  {trickler.summary('body')}")
            print(f"slow headers: {trickler.summary('header')}")
        finally:
            trickler.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
