"""Save-to-push: how long after a save the built-in WebSub hub delivers it to subscribers.

Starts `feedsmith serve` with ``websub.builtin`` on a generated blog (default 10,000 posts, the
corpus of bench/build.py), runs an in-process subscriber (a threaded HTTP server answering the
verification GET with the challenge and recording each content-distribution POST), subscribes
callbacks ``/cb/0`` … to the site feed's topic (its Atom ``rel=self`` URL) through
``POST /websub`` and waits until every one is verified. Then, per round, it saves a new post
(an atomic rename) and times, from the end of the write,

* the first delivery (any callback) of a body containing the new title, and
* the last one (the N-th callback to receive it).

This runs twice on the same server: with one subscriber (the save-to-subscriber latency), then
with ``--subscribers`` (default 1,000) — the first one plus the rest subscribed afterwards.
Prints p50/p95/max in milliseconds.

    python bench/push.py [--posts 10000] [--subscribers 1000] [--rounds 5]
                         [--hosts 1] [--delay-ms 0]

Loopback callbacks answer in about a millisecond; real ones are further away. ``--delay-ms``
makes every callback wait that long before answering a delivery, and ``--hosts K`` spreads the
callbacks over K loopback addresses (127.0.1.1 … 127.0.K.1, distinct /24 networks to the
hub's per-network limit), to see how delivery scales when it is the subscribers that are slow.

The new posts are removed at the end; the hub's state (``websub.sqlite``) is reset at the start
so subscriptions of an earlier run (on a port gone since) are not delivered to.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

POLL = 0.005
SITE_FEED = "all.atom.xml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Any, limit: float, what: str) -> float:
    """Seconds until ``check()`` holds (raises after ``limit``)."""
    start = time.perf_counter()
    while True:
        if check():
            return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(POLL)


class Subscriber:
    """The callbacks' server: echoes challenges, records deliveries (path → arrival times)."""

    def __init__(self, hosts: int = 1, delay: float = 0.0) -> None:
        self.lock = threading.Condition()
        self.verified: set[str] = set()  # callback paths whose subscribe GET was answered
        self.marker: bytes = b""  # the title the current round waits for
        self.arrivals: dict[str, float] = {}  # path → first arrival of a body with the marker
        self.other_posts = 0  # deliveries without the marker (an earlier change)
        sub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Status line, headers and body in one write: unbuffered, the body is a second
            # small segment that Nagle holds back until the client's delayed ACK (40 ms).
            wbufsize = 65536

            def do_GET(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(parts.query)
                body = query.get("hub.challenge", [""])[0].encode()
                self._answer(200, body)
                if query.get("hub.mode") == ["subscribe"]:
                    with sub.lock:
                        sub.verified.add(parts.path)
                        sub.lock.notify_all()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                arrived = time.perf_counter()
                if delay:
                    time.sleep(delay)  # a subscriber further away than loopback
                self._answer(204, b"")
                path = urllib.parse.urlsplit(self.path).path
                with sub.lock:
                    if sub.marker and sub.marker in body:
                        sub.arrivals.setdefault(path, arrived)
                        sub.lock.notify_all()
                    else:
                        sub.other_posts += 1

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        # Callback hosts 127.0.1.1, 127.0.2.1, …: the hub limits its connections per /24.
        self.servers = [Server((f"127.0.{k + 1}.1", 0), Handler) for k in range(hosts)]
        self.bases = [
            f"http://127.0.{k + 1}.1:{s.server_address[1]}" for k, s in enumerate(self.servers)
        ]
        for server in self.servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def callback(self, i: int) -> str:
        return f"{self.bases[i % len(self.bases)]}/cb/{i}"

    def expect(self, marker: str) -> None:
        with self.lock:
            self.marker = marker.encode()
            self.arrivals = {}

    def wait_arrivals(self, n: int, limit: float) -> list[float]:
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.arrivals) >= n, limit):
                raise TimeoutError(f"{len(self.arrivals)} of {n} deliveries after {limit} s")
            return sorted(self.arrivals.values())

    def wait_verified(self, paths: list[str], limit: float) -> None:
        with self.lock:
            if not self.lock.wait_for(lambda: self.verified.issuperset(paths), limit):
                missing = len(set(paths) - self.verified)
                raise TimeoutError(f"{missing} callbacks not verified after {limit} s")

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def post(title: str, when: datetime) -> bytes:
    stamp = when.strftime("%Y-%m-%d %H:%M:%S +0000")
    return f"---\ntitle: {json.dumps(title)}\ndate: {stamp}\ntags: [bench]\n---\n\nBody.\n".encode()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def healthz(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
        return json.loads(resp.read())


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def topic_of(base: str) -> str:
    """The site feed's ``rel=self`` URL, i.e. its WebSub topic."""
    with urllib.request.urlopen(f"{base}/feeds/{SITE_FEED}", timeout=10) as resp:
        xml = resp.read().decode("utf-8")
    for link in re.findall(r"<link\b[^>]*>", xml):
        if re.search(r'rel="self"', link):
            found = re.search(r'href="([^"]+)"', link)
            if found:
                return found.group(1)
    raise RuntimeError(f"no rel=self link in {SITE_FEED}")


def subscribe(base: str, topic: str, callback: str) -> None:
    data = urllib.parse.urlencode(
        {"hub.callback": callback, "hub.mode": "subscribe", "hub.topic": topic}
    ).encode()
    req = urllib.request.Request(f"{base}/websub", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        if resp.status != 202:
            raise RuntimeError(f"subscription refused: {resp.status} {resp.read()!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="saves per subscriber count")
    parser.add_argument(
        "--hosts", type=int, default=1, help="callback hosts (127.0.1.1 …), default: %(default)s"
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="each callback answers a delivery after this long (a remote subscriber)",
    )
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "feedsmith-bench"))
    args = parser.parse_args(argv)
    n = max(1, args.subscribers)

    site = Path(args.out) / f"push-{args.posts}"
    config_path = corpus.ensure_corpus(args.posts, site)
    config = yaml.safe_load(config_path.read_text("utf-8"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config["site"]["url"] = base
    config["schedule"] = {"interval_seconds": 3600}
    config["websub"] = {
        "builtin": True,
        "allow_private_callbacks": True,
        "max_per_host": n + 10,
        "max_subscriptions": n + 10,
    }
    push_config = site / "push.yaml"
    push_config.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    state = site / config.get("state_dir", ".feedsmith")
    for name in ("websub.sqlite", "websub.sqlite-wal", "websub.sqlite-shm"):
        (state / name).unlink(missing_ok=True)
    posts_dir = site / "posts" / "push-bench"
    posts_dir.mkdir(parents=True, exist_ok=True)
    for old in posts_dir.glob("*.md"):
        old.unlink()

    subscriber = Subscriber(max(1, args.hosts), args.delay_ms / 1000)
    log = (site / "push.log").open("wb")
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(push_config), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    results: list[tuple[int, list[float], list[float]]] = []
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    seq = 0
    try:
        started = time.perf_counter()
        wait_until(lambda: _answers(base), 900, "the first build")
        print(
            f"{args.posts} posts: first build served after {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        topic = topic_of(base)
        subscribed = 0
        for count in sorted({1, n}):
            paths = [f"/cb/{i}" for i in range(subscribed, count)]
            t0 = time.perf_counter()
            for i in range(subscribed, count):
                subscribe(base, topic, subscriber.callback(i))
            subscriber.wait_verified(paths, 600)
            wait_until(
                lambda c=count: healthz(base)["websub"]["subscriptions"] == c,
                60,
                "the subscriptions",
            )
            subscribed = count
            print(
                f"{count} subscribers to {topic} verified in {time.perf_counter() - t0:.1f} s",
                file=sys.stderr,
            )
            firsts: list[float] = []
            lasts: list[float] = []
            for _ in range(args.rounds):
                seq += 1
                title = f"push bench {seq} {time.time_ns()}"
                subscriber.expect(title)
                when += timedelta(seconds=1)  # each new post is the newest
                write_atomic(posts_dir / f"push-{seq}.md", post(title, when))
                saved = time.perf_counter()
                arrivals = subscriber.wait_arrivals(count, 120)
                firsts.append(arrivals[0] - saved)
                lasts.append(arrivals[-1] - saved)
                print(
                    f"  N={count} save {seq}: first {1000 * firsts[-1]:.0f} ms,"
                    f" last {1000 * lasts[-1]:.0f} ms",
                    file=sys.stderr,
                )
                wait_until(
                    lambda: healthz(base)["websub"]["pending_deliveries"] == 0,
                    60,
                    "the outbox to empty",
                )
            results.append((count, firsts, lasts))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        subscriber.close()
        for old in posts_dir.glob("*.md"):
            old.unlink()
        posts_dir.rmdir()

    print(
        f"{args.posts} posts, topic {SITE_FEED}, {args.rounds} saves per row, callbacks on"
        f" {max(1, args.hosts)} host(s) answering after {args.delay_ms:g} ms;"
        " ms from the end of the write"
    )
    print(f"{'subscribers':<12}{'delivery':<10}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for count, firsts, lasts in results:
        rows = [("first", firsts)] if count == 1 else [("first", firsts), ("last", lasts)]
        for label, values in rows:
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            print(
                f"{count:<12}{label:<10}{len(values):>4}{1000 * statistics.median(values):>9.0f}"
                f"{1000 * p95:>9.0f}{1000 * max(values):>9.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
