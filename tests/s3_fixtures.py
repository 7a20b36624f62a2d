"""A real S3 endpoint for the tests: moto in server mode (real HTTP, real SigV4, boto3).

Shared by the bucket tests (publishing, replicas, the builders' lease). Subprocesses (``serve``,
``build``) reach it over HTTP with the same fake credentials, taken from the environment.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

BUCKET = "test-feeds"


def post(title: str, date: str, tags: list[str]) -> str:
    return (
        f"---\ntitle: {json.dumps(title)}\ndate: {date}\ncategories: [Tech]\n"
        f"tags: {json.dumps(tags)}\n---\n\n{title} body.\n"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
