"""A real S3 endpoint for the tests: moto in server mode (real HTTP, real SigV4, boto3).

Shared by the bucket tests (publishing, replicas, the builders' lease). Subprocesses (``serve``,
``build``) reach it over HTTP with the same fake credentials, taken from the environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from feedsmith.core.config import Config

BUCKET = "test-feeds"


def post(title: str, date: str, tags: list[str]) -> str:
    return (
        f"---\ntitle: {json.dumps(title)}\ndate: {date}\ncategories: [Tech]\n"
        f"tags: {json.dumps(tags)}\n---\n\n{title} body.\n"
    )


class Moto:
    """A moto server on 127.0.0.1 (``start`` may be called again after ``stop``)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]
        self.api("reset", b"")

    def stop(self) -> None:
        if self.server is not None:
            self.api("reset-auth", b"inf")  # moto's auth switch is process-wide
            self.server.stop()
            self.server = None

    def api(self, what: str, data: bytes) -> None:
        url = f"{self.url}/moto-api/{what}"
        # Not a form: moto reads the raw body.
        req = urllib.request.Request(url, data, {"Content-Type": "text/plain"}, method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")


@pytest.fixture
def blog(site: Any) -> Any:
    """A two-post site (``site`` from conftest) that the bucket tests publish."""
    site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["python"]), dedent=False)
    site.write_post("2025-10-02-beta.md", post("Beta", "2025-10-02", ["web"]), dedent=False)
    return site


def s3_config(blog: Any, endpoint: str, **s3: Any) -> Config:
    return blog.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": endpoint, **s3}})


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the environment only: no profile, no instance metadata lookups."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def moto(aws_env: None) -> Iterator[Moto]:
    server = Moto()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    try:
        yield server
    finally:
        server.stop()


# -- real feedsmith processes ------------------------------------------------------------------


def http(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, Any, bytes]:
    """Status, headers (looked up case-insensitively, as HTTP names are) and body."""
    from requests.structures import CaseInsensitiveDict

    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, CaseInsensitiveDict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, CaseInsensitiveDict(exc.headers.items()), exc.read()


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:  # not listening yet, connection reset
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Process:
    """A ``python -m feedsmith …`` in its own process group, its output in a log file."""

    def __init__(self, args: list[str], cwd: Path, log: Path) -> None:
        self.log = log
        env = dict(os.environ)
        env.pop("FEEDSMITH_CONFIG", None)
        env.pop("FEEDSMITH_FROM_BUCKET", None)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "feedsmith", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def kill9(self) -> None:
        """The whole group at once, web workers included: a machine that died."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        code = self.proc.poll()
        self.kill9()  # and whatever it left behind in its group
        return code


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
