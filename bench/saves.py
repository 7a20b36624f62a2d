"""Save-to-visible: how long after a save a running `feedsmith serve` shows it over HTTP.

Starts `feedsmith serve` on a generated blog (default 10,000 posts, the corpus of
bench/build.py), waits for its first build, then makes saves — a new post, edits and a deletion,
each both as an atomic rename and as an in-place write — and times each from the end of the
write until `/feeds/all.json` shows it. Prints p50/p95/max in milliseconds.

    python bench/saves.py [--posts 10000] [--rounds 5]

A save is seen when the new title is in (or, for the deletion, gone from) the site feed; the
feed is polled every 5 ms, so figures include up to 5 ms of polling granularity.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus

POLL = 0.005


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def titles(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return [item.get("title", "") for item in json.loads(resp.read())["items"]]


def wait_until(check: object, limit: float) -> float:
    """Seconds until ``check()`` holds (raises after ``limit``)."""
    start = time.perf_counter()
    while True:
        if check():  # type: ignore[operator]
            return time.perf_counter() - start
        if time.perf_counter() - start > limit:
            raise TimeoutError("the save never became visible")
        time.sleep(POLL)


def post(title: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
    return f"---\ntitle: {json.dumps(title)}\ndate: {now}\ntags: [bench]\n---\n\nBody.\n".encode()


def write(path: Path, data: bytes, atomic: bool) -> None:
    if atomic:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    else:
        with path.open("r+b" if path.exists() else "wb") as fh:
            fh.truncate(0)
            fh.write(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="4 saves a round")
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "feedsmith-bench"))
    args = parser.parse_args(argv)

    site = Path(args.out) / f"saves-{args.posts}"
    config_path = corpus.ensure_corpus(args.posts, site)
    config = yaml.safe_load(config_path.read_text("utf-8"))
    config["schedule"] = {"interval_seconds": 3600}
    serve_config = site / "serve.yaml"
    serve_config.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}/feeds/all.json"
    log = (site / "serve.log").open("wb")
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(serve_config), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    times: dict[str, list[float]] = {}
    try:
        started = time.perf_counter()
        wait_until(lambda: _answers(url), 600)
        print(
            f"{args.posts} posts: first build served after {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        path = site / "posts" / "bench-save.md"
        for k in range(args.rounds):
            steps = [
                ("new (rename)", f"new {k}", True),
                ("edit (in place)", f"edited {k}", False),
                ("edit (rename)", f"edited again {k}", True),
            ]
            for label, title, atomic in steps:
                write(path, post(title), atomic)
                seconds = wait_until(lambda t=title: t in titles(url), 60)
                times.setdefault(label, []).append(seconds)
            path.unlink()
            gone = f"edited again {k}"
            times.setdefault("delete", []).append(
                wait_until(lambda t=gone: t not in titles(url), 60)
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        (site / "posts" / "bench-save.md").unlink(missing_ok=True)
    every = [s for values in times.values() for s in values]
    print(f"{'save':<18}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for label, values in [*times.items(), ("all", every)]:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"{label:<18}{len(values):>4}{1000 * statistics.median(values):>9.0f}"
            f"{1000 * p95:>9.0f}{1000 * max(values):>9.0f}"
        )
    return 0


def _answers(url: str) -> bool:
    try:
        titles(url)
    except OSError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
