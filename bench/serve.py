"""Serving benchmark: `feedsmith serve` under load on loopback, next to nginx on the same files.

    .venv/bin/python bench/serve.py [--duration 5] [--runs 3] [--server granian|gunicorn]
                                    [--stats on|off|both]

Starts ``feedsmith serve`` on a copy of the bundled sample site's config (posts read in place,
feeds and state written to a temp dir), waits for ``/healthz``, and drives the site feed from a
second process for a bounded time: full GET, gzip GET, and a conditional GET answered 304. With
``wrk`` installed it is the load generator (2 threads, 50 connections by default); without it a
small Python generator takes over (much slower itself, so its figures are a floor, not a
measurement of the server). When ``nginx`` is installed, the same load is run against nginx
serving the same output directory statically (``gzip_static on``, ``etag on``) and the ratio
feedsmith/nginx is printed. Everything started here is stopped at the end. Nothing is installed.

``--stats both`` (the default) serves twice, subscriber counting on (the default config) and
off (``stats.enabled: false``), and prints the ratio: the cost of counting, which must stay
under 5 % of requests per second. The load sends a personal reader's User-Agent, so every
request is queued, hashed and written by the background writer like a real poll.

Not a test: it prints figures (medians of ``--runs`` runs) for the project notes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import memory  # bench/ is not a package: the path is set just above

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.yaml"


@dataclass(frozen=True)
class Scenario:
    name: str
    headers: Mapping[str, str]
    expect: int


@dataclass(frozen=True)
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, _lower(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, _lower(exc.headers.items()), exc.read()


def _lower(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float, want: int = 200) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering {url}")
        try:
            if fetch(url)[0] == want:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer {want} within {timeout:.0f} s")


# -- the sites under test --------------------------------------------------------------------


def sample_posts(config_path: Path, work: Path) -> Path:
    """The bundled posts, or a generated stand-in while the sample blog does not exist yet."""
    raw = yaml.safe_load(config_path.read_text("utf-8")) or {}
    posts = (config_path.parent / raw.get("posts_dir", "posts")).resolve()
    if posts.is_dir() and any(posts.rglob("*.md")):
        return posts
    print(f"note: no posts in {posts}; generating 30 stand-in posts", file=sys.stderr)
    gen = work / "posts"
    gen.mkdir(parents=True)
    para = "フィードの配信とキャッシュ検証について書いた段落です。" * 12
    for i in range(30):
        day = 1 + i % 28
        (gen / f"2025-10-{day:02d}-post-{i}.md").write_text(
            f"---\ntitle: 'Post {i} — テスト'\ndate: 2025-10-{day:02d} 09:{i:02d}:00 +0900\n"
            f"categories: [技術動向]\ntags: [AI, 最新ニュース, tag{i % 5}]\n---\n\n"
            + "\n\n".join(f"**{j}.** {para}" for j in range(8))
            + "\n",
            "utf-8",
        )
    return gen


#: What the load says it is: a personal reader, so counting does its full work per request.
READER_UA = "NetNewsWire (RSS Reader; https://netnewswire.com/)"


def write_config(
    config_path: Path, work: Path, port: int, workers: int, stats: bool = True
) -> Path:
    raw = yaml.safe_load(config_path.read_text("utf-8")) or {}
    raw["stats"] = {"enabled": stats}
    raw["posts_dir"] = str(sample_posts(config_path, work))
    raw["output_dir"] = str(work / "feeds")
    raw["state_dir"] = str(work / "state")
    raw.setdefault("server", {}).update({"host": "127.0.0.1", "port": port, "workers": workers})
    out = work / "config.yaml"
    out.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    return out


@contextmanager
def feedsmith_server(
    config: Path, port: int, server: str | None, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    if server:
        env["FEEDSMITH_SERVER"] = server
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(config), "serve", "--port", str(port)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=sink, env=env, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc, timeout=120)
        yield proc
    finally:
        if proc.poll() is None:
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
                print(f"feedsmith stopped on SIGTERM: exit {code} in {time.monotonic() - t0:.1f} s")
            except subprocess.TimeoutExpired:
                print("feedsmith did not stop within 15 s of SIGTERM; killed")
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def nginx_server(root: Path, port: int, work: Path) -> Iterator[None]:
    """nginx serving ``root`` under /feeds/ the way a static host would: precompressed .gz
    sidecars (the same bytes feedsmith serves), ETags, an access log like ours."""
    prefix = work / "nginx"
    prefix.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        textwrap.dedent(
            f"""\
            {user}
            daemon off;
            worker_processes 2;
            pid {prefix}/nginx.pid;
            error_log {prefix}/error.log warn;
            events {{ worker_connections 1024; }}
            http {{
                access_log {prefix}/access.log;
                sendfile on;
                keepalive_requests 1000000;
                types {{ application/atom+xml xml; application/json json; }}
                server {{
                    listen 127.0.0.1:{port};
                    location /feeds/ {{
                        alias {root}/;
                        gzip_static on;
                        etag on;
                    }}
                }}
            }}
            """
        ),
        "utf-8",
    )
    proc = subprocess.Popen(
        ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"nginx exited with {proc.returncode}; see {prefix}/error.log")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful stop
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# -- load generators --------------------------------------------------------------------------

_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_ERR = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*?(\d+) timeout")


def run_wrk(url: str, headers: Mapping[str, str], args: argparse.Namespace) -> Result:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=args.duration + 30
    ).stdout
    rps = float(_WRK_RPS.search(out).group(1))  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    pct = {int(m[0]): float(m[1]) * scale[m[2]] for m in _WRK_PCT.findall(out)}
    errors = sum(int(a or 0) + int(b or 0) for a, b in _WRK_ERR.findall(out))
    return Result(rps, pct[50], pct[99], errors)


def _py_worker(url: str, headers: dict[str, str], conns: int, seconds: float, q: object) -> None:
    """One load process: ``conns`` threads, each with its own keep-alive connection."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        nonlocal errors
        conn = HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                conn.request("GET", parts.path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    bad += 1
            except OSError:
                bad += 1
                conn.close()
                conn = HTTPConnection(parts.hostname, parts.port, timeout=10)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=loop) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put((latencies, errors))  # type: ignore[attr-defined]


def run_python(url: str, headers: Mapping[str, str], args: argparse.Namespace) -> Result:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    per = max(1, args.connections // args.threads)
    procs = [
        ctx.Process(target=_py_worker, args=(url, dict(headers), per, args.duration, q))
        for _ in range(args.threads)
    ]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        lat, err = q.get(timeout=args.duration + 60)
        latencies.extend(lat)
        errors += err
    for p in procs:
        p.join()
    latencies.sort()
    if not latencies:
        return Result(0.0, float("nan"), float("nan"), errors)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return Result(len(latencies) / args.duration, pct(0.50), pct(0.99), errors)


# -- driver -----------------------------------------------------------------------------------


def scenarios(url: str) -> list[Scenario]:
    """The three requests a poller makes; the 304 validator is fetched from the server itself."""
    status, headers, _ = fetch(url)
    if status != 200 or "etag" not in headers:
        raise SystemExit(f"GET {url} answered {status} without an ETag")
    ua = {"User-Agent": READER_UA}
    return [
        Scenario("full GET", ua, 200),
        Scenario("gzip GET", {**ua, "Accept-Encoding": "gzip"}, 200),
        Scenario("304", {**ua, "If-None-Match": headers["etag"]}, 304),
    ]


def measure(url: str, args: argparse.Namespace, label: str) -> dict[str, Result]:
    load = run_wrk if args.loadgen == "wrk" else run_python
    results: dict[str, Result] = {}
    for sc in scenarios(url):
        status, headers, body = fetch(url, sc.headers)
        if status != sc.expect:
            raise SystemExit(f"{label} {sc.name}: expected {sc.expect}, got {status}")
        if sc.name == "gzip GET" and headers.get("content-encoding") != "gzip":
            raise SystemExit(f"{label} gzip GET: no Content-Encoding: gzip")
        runs = [load(url, sc.headers, args) for _ in range(args.runs)]
        res = Result(
            statistics.median(r.requests_per_s for r in runs),
            statistics.median(r.p50_ms for r in runs),
            statistics.median(r.p99_ms for r in runs),
            sum(r.errors for r in runs),
        )
        results[sc.name] = res
        spread = ", ".join(f"{r.requests_per_s:,.0f}" for r in runs)
        print(
            f"  {label:<10} {sc.name:<9} {res.requests_per_s:>9,.0f} req/s  "
            f"p50 {res.p50_ms:6.2f} ms  p99 {res.p99_ms:6.2f} ms  "
            f"({len(body):,} bytes; runs: {spread}; errors {res.errors})",
            flush=True,
        )
    return results


def memory_line(pid: int) -> str:
    """RSS of ``serve`` with its workers, after the load: the builder (the ``serve`` process)
    plus the web server's master and all web workers, summed (psutil, ``bench/memory.py``)."""
    procs = memory.tree(pid)
    builder, rest = memory.tree_rss_bytes(pid)
    mb = 2**20
    return (
        f"memory after the load: {(builder + rest) / mb:.0f} MB in all (builder"
        f" {builder / mb:.0f} MB + web server and workers {rest / mb:.0f} MB,"
        f" {max(len(procs) - 1, 0)} processes)"
    )


def counting_cost_in_process(config: Path, requests: int = 20_000, rounds: int = 7) -> None:
    """The hot path alone, without the network's noise: the WSGI app called in this process
    for the 304 a poller mostly gets, counting on and off in alternating rounds, the writer's
    flush included once per 10,000 requests (the default 10 s interval at 1,000 req/s, far
    more than any blog's pollers send)."""
    from feedsmith.config import load_config
    from feedsmith.serve.app import create_app
    from feedsmith.serve.stores import FeedStore

    apps = {}
    for counting in (True, False):
        raw = yaml.safe_load(config.read_text("utf-8"))
        raw["stats"] = {"enabled": counting, "flush_seconds": 3600}
        path = config.with_name(f"config-{counting}.yaml")
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
        cfg = load_config(path)
        apps[counting] = create_app(cfg, FeedStore.for_config(cfg))
    environ_base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/feeds/all.atom.xml",
        "REMOTE_ADDR": "127.0.0.2",
        "HTTP_USER_AGENT": READER_UA,
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
    }
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: object = None) -> None:
        seen.append(status)

    first: list[list[tuple[str, str]]] = []
    apps[False].wsgi_app(dict(environ_base), lambda _s, headers, _e=None: first.append(headers))
    environ_base["HTTP_IF_NONE_MATCH"] = dict(first[0])["ETag"]
    per_request: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for counting, app in apps.items():
            subs = app.extensions["feedsmith"].get("subscribers")
            t0 = time.perf_counter()
            for i in range(requests):
                app.wsgi_app(dict(environ_base), start_response)
                if subs is not None and i % 10_000 == 9_999:
                    subs.flush()
            per_request[counting].append((time.perf_counter() - t0) / requests * 1e6)
    on = statistics.median(per_request[True])
    off = statistics.median(per_request[False])
    print(
        f"in-process 304 (median of {rounds} x {requests:,}): counting {on:.1f} us/request, "
        f"off {off:.1f} us/request: {(on / off - 1) * 100:+.1f} % time per request "
        f"({off / on:.3f} of the requests per second)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--feed", default="all.atom.xml", help="path under /feeds/ to hit")
    parser.add_argument("--duration", type=int, default=5, help="seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="feedsmith web workers")
    parser.add_argument("--server", choices=("granian", "gunicorn"), help="$FEEDSMITH_SERVER")
    parser.add_argument("--loadgen", choices=("wrk", "python"), default=None)
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument(
        "--stats",
        choices=("on", "off", "both"),
        default="both",
        help="subscriber counting on, off, or both and their ratio",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="only the cost of counting on the hot path, WSGI calls in this process",
    )
    args = parser.parse_args()
    if args.loadgen is None:
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
    if args.loadgen == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk not found (apt-get install wrk), or use --loadgen python")

    print(
        f"load: {args.loadgen}, {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s x {args.runs} runs (medians); feedsmith: "
        f"{args.server or os.environ.get('FEEDSMITH_SERVER') or 'default server'}, "
        f"{args.workers} workers; {os.cpu_count()} CPUs shared with the load generator"
    )
    if args.in_process:
        with tempfile.TemporaryDirectory(prefix="feedsmith-bench-") as tmp:
            work = Path(tmp)
            config = write_config(args.config, work, free_port(), 1)
            subprocess.run(
                [sys.executable, "-m", "feedsmith", "-c", str(config), "build", "--no-progress"],
                check=True,
                capture_output=True,
            )
            counting_cost_in_process(config)
        return 0
    with tempfile.TemporaryDirectory(prefix="feedsmith-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # nginx workers may run as another user
        modes = {"on": [True], "off": [False], "both": [True, False]}[args.stats]
        by_mode: dict[bool, dict[str, Result]] = {}
        for counting in modes:
            port = free_port()
            config = write_config(args.config, work, port, args.workers, stats=counting)
            log = work / "serve.log"
            label = "counting" if counting else "no count"
            with feedsmith_server(config, port, args.server, log) as served:
                manifest = json.loads((work / "feeds" / "index.json").read_text("utf-8"))
                feeds = len(manifest.get("feeds", []))
                print(f"target: /feeds/{args.feed} ({feeds} feeds built), stats {label}")
                url = f"http://127.0.0.1:{port}/feeds/{args.feed}"
                by_mode[counting] = measure(url, args, label)
                print(memory_line(served.pid), flush=True)
            lines = sum(1 for line in log.open("rb") if b"feedsmith.access" in line)
            print(f"  (feedsmith wrote {lines:,} access-log lines)")
        ours = by_mode[modes[0]]
        if len(by_mode) == 2:
            print("counting on / off (req/s; the cost of counting is 1 - ratio):")
            for name, res in by_mode[True].items():
                ratio = res.requests_per_s / by_mode[False][name].requests_per_s
                print(f"  {name:<9} {ratio:6.3f}  ({(1 - ratio) * 100:+.1f} % cost)")

        if args.no_nginx or not shutil.which("nginx"):
            print("nginx: not measured" + ("" if args.no_nginx else " (not installed)"))
            return 0
        nport = free_port()
        with nginx_server(work / "feeds", nport, work):
            theirs = measure(f"http://127.0.0.1:{nport}/feeds/{args.feed}", args, "nginx")
        print("feedsmith / nginx (req/s):")
        for name, res in ours.items():
            ratio = res.requests_per_s / theirs[name].requests_per_s
            print(f"  {name:<9} {ratio:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
