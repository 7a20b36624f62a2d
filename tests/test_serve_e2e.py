"""`feedsmith serve` as a real process: builder + WSGI server + workers, over real sockets.

The real-server tests are slow by nature (a few seconds each), so they are marked ``slow``; every
one kills the whole process group in ``finally`` so a failed assertion never leaves a server
behind. The pure helpers of ``server.py`` (command line, environment, binding) are tested fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feedsmith.serve.server import (
    Bind,
    check_bindable,
    reset_metrics_dir,
    resolve_bind,
    server_command,
    worker_environ,
)

TOKEN = "e2e-secret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:  # server not listening yet / connection reset
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def post_text(title: str, day: int, tags: str = "[AI, 最新ニュース]") -> str:
    return (
        f'---\nlayout: post\ntitle: "{title}"\ndate: 2025-11-{day:02d} 20:35:04 +0000\n'
        f'categories: ["技術動向"]\ntags: {tags}\nauthor: "編集部"\n---\n\n'
        f"{title}の本文です。**太字**もあります。\n\n二段落目。\n"
    )


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path
    site: Any

    def url(self, path: str) -> str:
        return self.base + path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def healthz(self) -> dict[str, Any]:
        status, _, body = http(self.url("/healthz"))
        data = json.loads(body)
        data["_status"] = status
        return data


@contextlib.contextmanager
def run_serve(
    site: Any,
    log: Path,
    interval: int,
    *,
    watch: bool = True,
    port: int | None = None,
    server: dict[str, Any] | None = None,
    web_server: str | None = None,
) -> Iterator[Served]:
    """``feedsmith serve`` on a free port (or ``port``) until it answers /healthz 200; torn down
    whatever happens: the supervisor gets SIGTERM (then SIGKILL), and the web server's own
    process group is killed too in case the supervisor could not do it. ``server`` adds to the
    config's ``server:`` section, ``web_server`` picks granian or gunicorn."""
    port = port or free_port()
    site.config(
        schedule={"interval_seconds": interval, "watch": watch},
        server={"workers": 2, **(server or {})},
    )
    env = {**os.environ, "FEEDSMITH_REBUILD_TOKEN": TOKEN}
    if web_server is not None:
        env["FEEDSMITH_SERVER"] = web_server
    env.pop("FEEDSMITH_CONFIG", None)
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(site.config_path), "serve"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)],
            stdout=sink,
            stderr=sink,
            env=env,
            cwd=site.root,
            start_new_session=True,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log, site)
    web_groups: list[int] = []
    try:
        eventually(lambda: served.healthz()["_status"] == 200, "/healthz 200", timeout=30)
        web_groups = _children(proc.pid)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pgid in web_groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def served(site: Any, tmp_path: Path) -> Iterator[Served]:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    site.write_post("2025-11-02-second.md", post_text("Second post", 2, "[AI, Amazon]"))
    with run_serve(site, tmp_path / "serve.log", interval=1) as served:
        yield served


def feed_titles(body: bytes) -> list[str]:
    return [e.title for e in feedparser.parse(body).entries]


@pytest.mark.slow
def test_serve_polls_updates_breaks_recovers_and_stops_on_sigterm(served: Served) -> None:
    site = served.site
    feed = served.url("/feeds/all.atom.xml")

    # A poller: full fetch, then a conditional fetch with what it was given → 304.
    first = feedparser.parse(feed)
    assert first.status == 200
    assert sorted(e.title for e in first.entries) == ["Second post", "最初の記事"]
    assert first.get("etag")
    again = feedparser.parse(feed, etag=first.etag, modified=first.get("modified"))
    assert again.status == 304
    assert not again.entries

    # One access-log line per request (a unique 404 path makes the line findable).
    marker = f"/nope-{uuid.uuid4().hex}"
    assert http(served.url(marker))[0] == 404
    eventually(lambda: marker in served.log_text(), "the access-log line")
    assert served.log_text().count(marker) == 1

    # A new post appears after the next scheduled build, and the validator changes with it.
    site.write_post("2025-11-03-third.md", post_text("三番目の記事", 3))
    eventually(lambda: "三番目の記事" in feed_titles(http(feed)[2]), "the new post in the feed")
    after = feedparser.parse(feed, etag=first.etag, modified=first.get("modified"))
    assert after.status == 200 and after.etag != first.etag
    good_body = http(feed)[2]

    # A build that fails as a whole (here: the folder the tag feeds go in is blocked by a file,
    # so publishing fails before anything is renamed) keeps the last good feeds served and
    # /healthz says so. Invalid posts would not do: they are skipped, not a failed build.
    tags = served.site.output_dir / "tags"
    parked = served.site.root / "tags-parked"
    tags.rename(parked)
    tags.write_text("not a folder", "utf-8")
    site.write_post("2025-11-04-fourth.md", post_text("四番目の記事", 4, "[新しいタグ]"))
    try:
        health = eventually(
            lambda: (h := served.healthz()) and _last_build_failed(h) and h,
            "/healthz to report the failed build",
        )
        assert health["_status"] == 200  # feeds are still served: degraded, not down
        status, _, body = http(feed)
        assert status == 200 and body == good_body
        assert "build failed" in served.log_text()
    finally:
        tags.unlink()
        parked.rename(tags)
    eventually(lambda: "四番目の記事" in feed_titles(http(feed)[2]), "recovery: the fourth post")
    # The feed is renamed into place a moment before the builder records the build's status.
    eventually(lambda: not _last_build_failed(served.healthz()), "/healthz to report recovery")

    # The webhook: refused without the token, accepted (202) with it, and the builder acts on it.
    assert http(served.url("/-/rebuild"), method="POST")[0] in (401, 403)
    status, _, _ = http(
        served.url("/-/rebuild"), method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 202
    eventually(lambda: "rebuild requested" in served.log_text(), "the requested build")
    assert not (site.root / ".feedsmith" / "rebuild.request").exists()

    # Metrics are summed across the web workers (multiprocess mode).
    for _ in range(20):
        assert http(feed)[0] == 200
    metrics = http(served.url("/metrics"))[2].decode()
    assert _sum_samples(metrics, "200") >= 20

    # SIGTERM: graceful stop, exit 0 well within 10 s, no process of the group left behind.
    t0 = time.monotonic()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 10
    assert not _listening(served)
    assert "SIGTERM received" in served.log_text()


@pytest.mark.slow
def test_serve_exits_nonzero_when_the_web_server_dies(served: Served) -> None:
    children = _children(served.proc.pid)
    assert children, "feedsmith serve should have started a web server child"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    assert served.proc.wait(timeout=10) != 0
    assert "exited unexpectedly" in served.log_text()
    # The dead master's workers must not linger holding the port.
    eventually(lambda: not _listening(served), "the port to be released", timeout=5)


@pytest.mark.slow
def test_web_server_stops_when_the_supervisor_is_killed(served: Served) -> None:
    assert _listening(served)
    os.kill(served.proc.pid, signal.SIGKILL)
    served.proc.wait(timeout=5)
    # No builder left: the web server must not keep serving ever-staler feeds on the port.
    eventually(lambda: not _listening(served), "the orphaned web server to stop", timeout=10)


def _listening(served: Served) -> bool:
    try:
        socket.create_connection(("127.0.0.1", int(served.base.rsplit(":", 1)[1])), 1).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_a_post_scheduled_for_later_appears_at_its_time_without_waiting_an_interval(
    site: Any, tmp_path: Path
) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    # An interval far longer than the test and no watcher: only the webhook build sees the
    # future post, and only the one-shot job can publish it.
    with run_serve(site, tmp_path / "serve.log", interval=3600, watch=False) as served:
        feed = served.url("/feeds/all.atom.xml")
        assert feed_titles(http(feed)[2]) == ["最初の記事"]
        auth = {"Authorization": f"Bearer {TOKEN}"}
        # The webhook build must run before the post is due, which a busy machine may not
        # manage: then the due time is pushed further out and the step tried again. What is
        # asserted never depends on the timing, only which build published the post.
        for attempt, delay in enumerate((4, 8, 16, 32, 64)):
            title = f"予約投稿 {attempt}"
            due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=delay)
            text = post_text(title, 1).replace(
                "2025-11-01 20:35:04 +0000", due.strftime("%Y-%m-%d %H:%M:%S +0000")
            )
            seen = served.log_text().count("build ok (rebuild requested)")
            scheduled = served.log_text().count("build ok (scheduled post due)")
            site.write_post(f"{due:%Y-%m-%d}-later-{attempt}.md", text)
            assert http(served.url("/-/rebuild"), method="POST", headers=auth)[0] == 202
            eventually(
                lambda seen=seen: served.log_text().count("build ok (rebuild requested)") > seen,
                "the webhook build",
                60,
            )
            if title not in feed_titles(http(feed)[2]):
                break  # the webhook build ran before the due time and armed the one-shot
        else:
            pytest.fail("no webhook build ran before its post was due")
        eventually(lambda: title in feed_titles(http(feed)[2]), "the scheduled post", 120)
        assert datetime.now(UTC) >= due
        eventually(
            lambda: served.log_text().count("build ok (scheduled post due)") > scheduled,
            "the one-shot build's log line",
            30,
        )
        # Stopping right after a one-shot build (which re-arms the job) still exits cleanly.
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=10) == 0


def test_command_line_flags_override_the_config_file(site: Any) -> None:
    config = site.config(server={"host": "127.0.0.1", "port": 8080, "workers": 2})
    assert resolve_bind(config, None, None, None) == Bind("127.0.0.1", 8080, 2)
    assert resolve_bind(config, "::1", 9000, 4) == Bind("::1", 9000, 4)
    assert resolve_bind(config, None, None, None).url == "http://127.0.0.1:8080/"
    assert resolve_bind(config, "::1", 9000, 1).url == "http://[::1]:9000/"


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_web_server_command_serves_the_factory_without_its_own_access_log(server: str) -> None:
    cmd = server_command(server, Bind("127.0.0.1", 8123, 3), python="/py")
    joined = " ".join(cmd)
    # granian's CLI through feedsmith.serve.granian_master, which only adds how its master forks
    module = {"granian": "feedsmith.serve.granian_master", "gunicorn": "gunicorn"}[server]
    assert cmd[:3] == ["/py", "-m", module]
    assert "feedsmith.serve.worker:wsgi_app" in joined
    assert "flask" not in joined.lower()
    assert "--access-log " not in joined + " " and "--access-logfile" not in joined
    if server == "granian":
        assert cmd[cmd.index("--host") : cmd.index("--host") + 2] == ["--host", "127.0.0.1"]
        assert cmd[cmd.index("--workers") + 1] == "3" and "--no-access-log" in cmd
    else:
        assert cmd[cmd.index("--bind") + 1] == "127.0.0.1:8123"
        assert cmd[cmd.index("--workers") + 1] == "3"
    assert server_command("gunicorn", Bind("::1", 8, 1))[4] == "[::1]:8"


def test_web_workers_get_the_absolute_config_path_and_the_metrics_dir(site: Any) -> None:
    config = site.config()
    env = worker_environ(config, {"PATH": "/bin", "FEEDSMITH_CONFIG": "elsewhere.yaml"})
    assert env["FEEDSMITH_CONFIG"] == str(site.config_path.absolute())
    assert Path(env["FEEDSMITH_CONFIG"]).is_absolute()
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(config.state_dir / "metrics")
    assert env["PATH"] == "/bin"


def test_metrics_dir_is_emptied_at_start(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_123.db").write_bytes(b"old run")
    reset_metrics_dir(metrics)
    assert metrics.is_dir() and list(metrics.iterdir()) == []
    reset_metrics_dir(tmp_path / "fresh")
    assert (tmp_path / "fresh").is_dir()


def test_a_port_already_in_use_is_reported_before_building() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        problem = check_bindable("127.0.0.1", port)
    assert problem is not None and str(port) in problem
    assert check_bindable("127.0.0.1", free_port()) is None


def _last_build_failed(health: dict[str, Any]) -> bool:
    """Reads the last build's result from /healthz without pinning its exact layout."""
    last = health.get("last_build") or {}
    if isinstance(last, dict) and "ok" in last:
        return last["ok"] is False
    return health.get("last_build_ok") is False or health.get("last_result") == "failed"


def _sum_samples(metrics: str, status: str) -> float:
    """Total of every request-counter sample labelled with ``status``."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("#") or "_total" not in line or f'status="{status}"' not in line:
            continue
        if "request" in line.split("{", 1)[0]:
            total += float(line.rsplit(" ", 1)[1])
    return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


# -- SIGTERM: a clean stop, no worker killed ------------------------------------------------------

#: What granian logs when a worker did not stop within ``--workers-kill-timeout`` and was killed.
KILLED_MARKERS = ("refused to gracefully stop", "Killing")


def _killed_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in KILLED_MARKERS)]


@pytest.mark.slow
def test_sigterm_stops_serve_cleanly_and_no_worker_is_killed(site: Any, tmp_path: Path) -> None:
    """The whole ``serve`` (builder + granian + 2 workers) stopped by SIGTERM as soon as it
    answers: exit 0, and the combined log has no worker killed after refusing to stop. On a busy
    machine the second worker may still be loading the app at that moment, which is the case
    that used to be killed after the 5 s kill timeout."""
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    log = tmp_path / "serve.log"
    with run_serve(site, log, interval=3600, watch=False) as served:
        # A browser's CORS preflight through the real server: 204, no body, the CORS headers.
        status, raw_headers, body = http(
            served.url("/feeds/all.atom.xml"),
            method="OPTIONS",
            headers={"Origin": "https://reader.example", "Access-Control-Request-Method": "GET"},
        )
        headers = {name.lower(): value for name, value in raw_headers.items()}  # granian: lower
        assert (status, body) == (204, b"")
        assert headers["access-control-allow-origin"] == "*"
        assert "If-None-Match" in headers["access-control-allow-headers"]
        assert "content-length" not in headers or headers["content-length"] == "0"
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=30) == 0  # the timeout only bounds a hang
    text = log.read_text("utf-8", errors="replace")
    assert "SIGTERM received" in text and "web server granian stopped" in text
    assert _killed_lines(text) == []


class _GranianLog:
    """granian's output (it logs to stdout) read line by line in a thread, so the test can wait
    for a given line (an event) instead of sleeping."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self._thread.start()

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            with self._changed:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: any(text in line for line in self.lines), timeout=timeout
            )

    def text(self) -> str:
        self._thread.join(timeout=10)  # EOF once every process holding the pipe is gone
        return "\n".join(self.lines)


#: A factory for the test: feedsmith's own, whose loading of the app (``create_app_from_env``,
#: the slow part) is held open in the workers past the first ``FEEDSMITH_TEST_GATE_PASS``, so
#: the test knows, by a file each worker creates there, that a worker is loading right now.
_LOADING_GATE = """
import os
import time
from pathlib import Path

import feedsmith.serve.app
from feedsmith.serve.worker import wsgi_app

_create = feedsmith.serve.app.create_app_from_env


def _claim(gate):
    for slot in range(64):
        try:
            os.close(os.open(gate / f"loading-{slot}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return slot
        except FileExistsError:
            continue
    raise RuntimeError("no free slot")


def _held():
    slot = _claim(Path(os.environ["FEEDSMITH_TEST_GATE"]))
    if slot >= int(os.environ["FEEDSMITH_TEST_GATE_PASS"]):
        while True:  # still loading: only a stop signal ends this worker
            time.sleep(1)
    return _create()


feedsmith.serve.app.create_app_from_env = _held
"""


@pytest.mark.slow
@pytest.mark.parametrize("worker", [1, 2])
def test_sigterm_while_a_web_worker_is_still_loading_the_app_stops_it_at_once(
    site: Any, tmp_path: Path, worker: int
) -> None:
    """The regression test for "Killing worker-2 after it refused to gracefully stop".

    granian runs as ``serve`` runs it (only its log level raised to see its lifecycle, and the
    factory wrapped to hold the loading of the app open), and gets SIGTERM once worker
    ``worker`` is known to be loading the app (the earlier ones serving): an event, not a
    race. It must stop at once, not be killed after ``--workers-kill-timeout``.
    """
    from feedsmith.config import load_config
    from feedsmith.serve.server import metrics_dir

    config = load_config(site.config(server={"workers": 2}).path)
    reset_metrics_dir(metrics_dir(config))
    (tmp_path / "loading_gate.py").write_text(_LOADING_GATE, "utf-8")
    gate = tmp_path / "gate"
    gate.mkdir()
    env = worker_environ(config, os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    env["FEEDSMITH_TEST_GATE"] = str(gate)
    env["FEEDSMITH_TEST_GATE_PASS"] = str(worker - 1)
    cmd = server_command("granian", Bind("127.0.0.1", free_port(), 2))
    cmd[cmd.index("--log-level") + 1] = "info"
    cmd[cmd.index("feedsmith.serve.worker:wsgi_app")] = "loading_gate:wsgi_app"
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        log = _GranianLog(proc)
        loading = gate / f"loading-{worker - 1}"
        eventually(loading.exists, f"worker {worker} loading the app", 60)
        if worker > 1:
            assert log.wait_for("Started worker-", timeout=60), log.lines  # the other serves
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)  # only bounds a hang; a clean stop takes well under 1 s
        text = log.text()
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert code == 0, text
    # The worker held loading the app is the regression: it must stop at once. A worker that
    # was serving stops on its own clock (granian's 5 s kill timeout is wall-clock), which a
    # machine saturated by other jobs can overrun: that is not what this test is about.
    held = f"worker-{worker} "
    assert [line for line in _killed_lines(text) if held in line + " "] == [], text
    assert "Granian shutdown completed" in text
    before_stop = text.split("Shutting down granian", 1)[0]
    assert before_stop.count("Started worker-") == worker - 1, text  # the held one never served
