"""``serve --from-bucket``: stateless web replicas answering from what the builder published.

Real processes against moto in server mode: a ``feedsmith build`` publishes, two replicas on
different ports (each with its own config folder holding neither posts nor feeds) serve it,
and a local ``serve``'s app (the Flask test client over ``output_dir``) is the reference they
must match byte for byte, header for header.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from feedsmith.cli import main
from feedsmith.config import load_config
from feedsmith.serve.app import create_app
from feedsmith.serve.bucket_store import BucketStore
from feedsmith.serve.health import REBUILD_REQUEST_FILE
from feedsmith.serve.stores import FeedStore
from s3_fixtures import BUCKET, Moto, Process, eventually, free_port, http, post

pytestmark = pytest.mark.slow

HEADERS = ("ETag", "Content-Type", "Last-Modified", "Cache-Control", "Link", "Vary")


def replica_config(tmp_path: Path, name: str, endpoint: str, **s3: Any) -> Path:
    """A replica's own folder: a config file and nothing else (no posts, no feeds)."""
    root = tmp_path / name
    root.mkdir()
    settings = {
        "site": {"title": "Test Blog", "url": "https://blog.example.com"},
        "posts_dir": "posts-not-here",
        "output_dir": "feeds-not-here",
        "state_dir": "state",
        "server": {"workers": 1},
        "publish": {
            "s3": {"bucket": BUCKET, "endpoint_url": endpoint, "refresh_seconds": 0.2, **s3}
        },
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(settings), "utf-8")
    return path


class Replica:
    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = Process(
            ["-c", str(config), "serve", "--from-bucket", "--port", str(self.port)],
            config.parent,
            log,
        )

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return http(self.base + path, headers=headers)

    def health(self) -> dict[str, Any]:
        status, _, body = self.get("/healthz")
        data = json.loads(body)
        data["_status"] = status
        return data


@pytest.fixture
def published(site: Any, moto: Moto) -> Any:
    site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["python"]), dedent=False)
    site.write_post("2025-10-02-beta.md", post("Beta", "2025-10-02", ["日本語"]), dedent=False)
    site.write_post("2025-10-03-gamma.md", post("Gamma", "2025-10-03", ["gone-soon"]), dedent=False)
    site.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
    assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 0
    return site


@pytest.fixture
def replicas(published: Any, moto: Moto, tmp_path: Path) -> Iterator[list[Replica]]:
    started = [
        Replica(replica_config(tmp_path, f"replica{i}", moto.url), tmp_path / f"r{i}.log")
        for i in (1, 2)
    ]
    try:
        for replica in started:
            eventually(lambda r=replica: r.health()["_status"] == 200, "a replica's /healthz 200")
        yield started
    finally:
        for replica in started:
            replica.process.stop()


def paths(site: Any) -> list[str]:
    manifest = json.loads((site.root / "feeds" / "index.json").read_bytes())
    rels = ["index.json", "index.opml"]
    for feed in manifest["feeds"]:
        rels.extend(feed["files"])
    rels.extend(manifest.get("files", {}))
    return ["/feeds/" + quote(rel) for rel in rels]


def test_two_replicas_answer_exactly_as_a_local_serve_bytes_etags_304_and_gzip(
    published: Any, replicas: list[Replica]
) -> None:
    config = load_config(published.config_path)
    local = create_app(config, FeedStore.for_config(config)).test_client()
    checked = paths(published)
    assert "/feeds/tags/" + quote("日本語") + ".atom.xml" in checked
    for path in checked:
        for encoding in ("identity", "gzip"):
            want = local.get(path, headers={"Accept-Encoding": encoding})
            assert want.status_code == 200, path
            for replica in replicas:
                status, headers, body = replica.get(path, **{"Accept-Encoding": encoding})
                assert (status, body) == (200, want.data), (replica.base, path, encoding)
                for name in HEADERS:
                    assert headers.get(name) == want.headers.get(name), (path, name)
                assert headers.get("Content-Encoding") == want.headers.get("Content-Encoding")
                again, _, empty = replica.get(
                    path, **{"Accept-Encoding": encoding, "If-None-Match": headers["ETag"]}
                )
                assert (again, empty) == (304, b""), path
    status, headers, body = replicas[0].get("/feeds/all.atom.xml", **{"Accept-Encoding": "gzip"})
    assert gzip.decompress(body).startswith(b"<?xml")


def test_an_app_over_a_bucket_store_answers_as_a_replica(
    published: Any, moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller chooses the store; what a replica does differently comes with it: the bucket's
    ``/healthz`` and gauges, and no rebuild webhook even with a token (no builder to ask)."""
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", "replica-token")
    config = load_config(replica_config(tmp_path, "in-process", moto.url), serve_only=True)
    store = BucketStore.for_config(config)
    try:
        client = create_app(config, store).test_client()
        assert client.get("/feeds/all.atom.xml").status_code == 200
        health = client.get("/healthz")
        assert health.status_code == 200 and health.get_json()["mode"] == "replica"
        answer = client.post("/-/rebuild", headers={"Authorization": "Bearer replica-token"})
        assert answer.status_code == 404
        assert not (config.state_dir / REBUILD_REQUEST_FILE).exists()
        assert "feedsmith_bucket_polls" in client.get("/metrics").get_data(as_text=True)
    finally:
        store.stop()


def test_replicas_pick_up_a_new_build_without_a_restart_and_say_410_for_a_removed_feed(
    published: Any, replicas: list[Replica]
) -> None:
    gone_tag = "/feeds/tags/gone-soon.atom.xml"
    assert all(r.get(gone_tag)[0] == 200 for r in replicas)
    before = [r.get("/feeds/all.atom.xml")[1]["ETag"] for r in replicas]
    (published.posts_dir / "2025-10-03-gamma.md").unlink()
    published.write_post(
        "2025-10-04-delta.md", post("Delta", "2025-10-04", ["python"]), dedent=False
    )
    assert main(["-c", str(published.config_path), "build", "--no-progress"]) == 0
    config = load_config(published.config_path)
    local = create_app(config, FeedStore.for_config(config)).test_client()
    want = local.get("/feeds/all.atom.xml")
    for replica, old in zip(replicas, before, strict=True):
        eventually(lambda r=replica: r.get(gone_tag)[0] == 410, "410 for the removed tag feed")
        status, headers, body = replica.get("/feeds/all.atom.xml")
        assert (status, body, headers["ETag"]) == (200, want.data, want.headers["ETag"])
        assert headers["ETag"] != old and b"Delta" in body
        assert replica.get(gone_tag)[2] == local.get(gone_tag).data
        health = replica.health()
        assert health["status"] == "ok" and health["mode"] == "replica"
        assert health["bucket"]["manifests_loaded"] >= 2


def test_a_replica_whose_bucket_goes_down_serves_what_it_has_and_says_degraded(
    published: Any, moto: Moto, tmp_path: Path
) -> None:
    replica = Replica(replica_config(tmp_path, "replica", moto.url), tmp_path / "r.log")
    try:
        eventually(lambda: replica.health()["_status"] == 200, "the replica's /healthz 200")
        status, headers, body = replica.get("/feeds/all.atom.xml")
        assert status == 200
        moto.stop()
        eventually(lambda: replica.health()["status"] == "degraded", "/healthz degraded")
        health = replica.health()
        assert health["_status"] == 200
        assert health["bucket"]["error"]["kind"] == "bucket_unreachable"
        shown = json.dumps(health)  # a public page: no endpoint, bucket name or holder
        assert moto.url.split("//")[1] not in shown and "holder" not in shown
        again = replica.get("/feeds/all.atom.xml")
        assert (again[0], again[2], again[1]["ETag"]) == (200, body, headers["ETag"])
        # Never fetched before the outage: not a 404 or 410, a retry-later.
        status, headers, _ = replica.get("/feeds/tags/python.json")
        assert status == 503 and headers["Retry-After"]
        metrics = replica.get("/metrics")[2].decode()
        assert "feedsmith_bucket_refresh_ok 0.0" in metrics
    finally:
        replica.process.stop()


def test_a_replica_before_anything_was_published_answers_503_then_serves(
    site: Any, moto: Moto, tmp_path: Path
) -> None:
    replica = Replica(replica_config(tmp_path, "replica", moto.url), tmp_path / "r.log")
    try:
        eventually(lambda: replica.health()["_status"] == 503, "/healthz 503 (starting)")
        status, headers, _ = replica.get("/feeds/all.atom.xml")
        assert status == 503 and headers["Retry-After"]
        site.write_post("2025-10-01-alpha.md", post("Alpha", "2025-10-01", ["x"]), dedent=False)
        site.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
        assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 0
        eventually(lambda: replica.get("/feeds/all.atom.xml")[0] == 200, "the first build")
    finally:
        replica.process.stop()


@pytest.mark.parametrize(
    ("problem", "words"),
    [
        ("missing bucket", "does not exist"),
        ("endpoint down", "cannot reach"),
        ("refused credentials", "refused the credentials"),
    ],
)
def test_a_replica_that_cannot_read_its_bucket_at_start_exits_6_with_one_line(
    moto: Moto,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    problem: str,
    words: str,
) -> None:
    endpoint, extra = moto.url, {}
    if problem == "missing bucket":
        extra = {"bucket": "no-such-bucket"}
    elif problem == "endpoint down":
        endpoint = f"http://127.0.0.1:{free_port()}"
    else:
        moto.api("reset-auth", b"1")  # from now on moto checks credentials: ours are unknown
    config = replica_config(tmp_path, "replica", endpoint, **extra)
    code = main(["-c", str(config), "serve", "--from-bucket", "--port", str(free_port())])
    assert code == 6
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert words in line and "\n" not in line


def test_from_bucket_needs_a_bucket_in_the_config(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    site.config()
    assert main(["-c", str(site.config_path), "serve", "--from-bucket"]) == 2
    err = capsys.readouterr().err
    assert "publish.s3" in err and str(site.config_path) in err


def test_the_environment_variable_makes_serve_a_replica(
    site: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site.config()
    monkeypatch.setenv("FEEDSMITH_FROM_BUCKET", "1")
    assert main(["-c", str(site.config_path), "serve"]) == 2
    assert "publish.s3" in capsys.readouterr().err
