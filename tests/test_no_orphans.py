"""``kill -9`` of ``feedsmith build`` or ``serve`` leaves no process behind (see lifeline).

Real processes only. Every process of the tree is found by a marker in its environment (each
child inherits it: forkserver, resource tracker, pool workers, web server and its workers), so
nothing depends on how the tree is shaped. The moment to kill is caught by an event (a DEBUG
line of ``-v``, a file appearing, the pool's processes showing up), never by a guessed sleep;
the waits only bound a hang. Whatever a test finds, it SIGKILLs every marked process before
it ends, so a failure never leaks one into the next test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from feedsmith.pipeline.scheduler import POOL_THRESHOLD, POOL_WORKERS, RENDER_POOL_THRESHOLD

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux-only"
)

MARKER_VAR = "FEEDSMITH_TEST_TREE"
GONE_TIMEOUT = 20.0  # bounds a hang only: the tree normally goes in well under a second


def marked(marker: str) -> list[int]:
    """Pids of live (not zombie) processes whose environment carries ``marker``."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in env.split(b"\0") and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            out.append(
                f"{pid}: "
                + Path(f"/proc/{pid}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")[:120]
            )
    return out


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Tree:
    """A ``feedsmith`` command run with a marker; its stderr read line by line."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.marker = uuid.uuid4().hex
        env = {**os.environ, **(env or {}), MARKER_VAR: self.marker}
        env.pop("FEEDSMITH_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "feedsmith", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._seen:
                self.lines.append(raw.decode("utf-8", errors="replace"))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()  # EOF: the process ended, stop waiting for a line

    def wait_line(self, text: str, timeout: float = 30.0) -> None:
        with self._seen:
            ok = self._seen.wait_for(
                lambda: any(text in line for line in self.lines) or self.proc.poll() is not None,
                timeout,
            )
        assert ok and any(text in line for line in self.lines), (
            f"no line with {text!r}; stderr: {''.join(self.lines)[-2000:]}"
        )

    def kill9(self) -> None:
        assert self.proc.poll() is None, "finished before the moment came: " + "".join(self.lines)
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def assert_nothing_left(self) -> None:
        left: list[int] = []
        deadline = time.monotonic() + GONE_TIMEOUT
        while time.monotonic() < deadline:
            left = marked(self.marker)
            if not left:
                return
            time.sleep(0.05)
        raise AssertionError(f"left behind after kill -9: {describe(left)}")

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in marked(self.marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Iterator[Tree]:
    tree = Tree(args, cwd, env)
    try:
        yield tree
    finally:
        tree.cleanup()


def write_corpus(site: Any, posts: int, tags: int) -> None:
    """``posts`` posts over ``tags`` tags: enough files for the parse pool, enough groups
    (one feed per tag, plus categories and authors) for the render pool."""
    for i in range(posts):
        body = "\n\n".join(f"Paragraph {j} of post {i}, with *some* text." for j in range(30))
        site.write_post(
            f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}-post-{i}.md",
            f'---\ntitle: "Post {i}"\ndate: 2025-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00 +0000\n'
            f"tags: [tag{i % tags}, tag{(i * 7) % tags}]\ncategories: [cat{i % 9}]\n---\n\n"
            f"{body}\n",
            dedent=False,
        )


def pool_running(marker: str) -> bool:
    """The builder, its forkserver and resource tracker, and every pool worker are up."""
    return len(marked(marker)) >= 3 + POOL_WORKERS


@pytest.fixture
def big_site(site: Any) -> Any:
    write_corpus(site, POOL_THRESHOLD + 100, RENDER_POOL_THRESHOLD + 20)
    site.config()
    return site


@pytest.mark.slow
def test_kill9_of_build_while_parsing_leaves_nothing(big_site: Any) -> None:
    with running(
        ["-v", "-c", str(big_site.config_path), "build", "--no-progress"], big_site.root
    ) as tree:
        tree.wait_line("files in a pool of")
        wait_for(lambda: pool_running(tree.marker), "the parse pool's processes")
        tree.kill9()
        tree.assert_nothing_left()


@pytest.mark.slow
def test_kill9_of_build_while_rendering_leaves_nothing(big_site: Any) -> None:
    with running(
        ["-v", "-c", str(big_site.config_path), "build", "--no-progress"], big_site.root
    ) as tree:
        tree.wait_line("groups in the pool")
        tree.kill9()
        tree.assert_nothing_left()


@pytest.mark.slow
def test_kill9_of_build_while_publishing_leaves_nothing(big_site: Any) -> None:
    """Publishing has begun once the first staged file is in output_dir."""
    out = big_site.output_dir
    with running(
        ["-v", "-c", str(big_site.config_path), "build", "--no-progress"], big_site.root
    ) as tree:
        tree.wait_line("groups in the pool")
        wait_for(lambda: out.is_dir() and any(out.rglob("*.xml*")), "a staged feed file")
        tree.kill9()
        tree.assert_nothing_left()


@pytest.mark.slow
@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_kill9_of_serve_leaves_nothing(big_site: Any, server: str) -> None:
    """Builder (its start-up build used the pool, so its forkserver and resource tracker live
    on), web server master and two workers, built-in hub on."""
    pytest.importorskip(server)
    big_site.config(
        schedule={"interval_seconds": 3600, "watch": False},
        server={"workers": 2},
        websub={"builtin": True},
    )
    args = ["-v", "-c", str(big_site.config_path), "serve", "--port", "0"]
    with running(args, big_site.root, {"FEEDSMITH_SERVER": server}) as tree:
        tree.wait_line("serving ")
        # builder + forkserver + resource tracker + web master + 2 web workers
        wait_for(lambda: len(marked(tree.marker)) >= 6, "every process of the tree")
        tree.kill9()
        tree.assert_nothing_left()


STUBBORN = """
import os, signal, sys, time
from feedsmith.system.lifeline import end_group_after_parent
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a master that never finishes stopping
end_group_after_parent(int(sys.argv[1]), grace=0.2, poll=0.05)
print(os.getpid(), flush=True)
time.sleep(600)
"""
PARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(__import__("os").getpid())])
child.wait()
"""


def test_a_web_server_that_outlives_its_parent_is_killed_with_its_group() -> None:
    """granian's master escalates: its parent gone, a stop that does not end is ended."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, STUBBORN],
        start_new_session=True,  # as serve starts the web server: a group of its own
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.monotonic() + GONE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the orphaned master was not killed")
