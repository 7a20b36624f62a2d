"""Public pages say what kind of thing failed, never where: no paths, buckets, hosts or exception
text on ``/`` and ``/healthz``; the detail is in the log and the private status file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedsmith.serve import public
from feedsmith.serve.app import create_app
from feedsmith.serve.schedule import BuildService
from feedsmith.serve.status import read_status
from feedsmith.serve.stores import FeedStore

POST = "---\ntitle: Hello\ndate: 2025-11-01\ntags: [a]\n---\n\nBody.\n"


def test_a_missing_posts_dir_is_shown_by_kind_without_its_path(
    site: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    service = BuildService(config)
    assert service.build_now("startup").ok
    hidden = site.root / "posts-away"
    site.posts_dir.rename(hidden)
    outcome = service.build_now("interval")
    assert not outcome.ok
    client = create_app(config, FeedStore.for_config(config)).test_client()
    resp = client.get("/healthz")
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "degraded"
    assert body["last_build"]["error"] == {
        "kind": "posts_dir_missing",
        "message": "the posts folder is missing",
    }
    page = client.get("/").get_data(as_text=True)
    assert "the posts folder is missing" in page
    for text in (json.dumps(body), page):
        assert str(site.root) not in text and "FileNotFoundError" not in text
    # The operator still gets the detail: with the rebuild token, in the log, in the status file.
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", "s3cret")
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert str(site.root) not in client.get("/healthz?detail=1", headers=headers).text
    auth = {"Authorization": "Bearer s3cret"}
    detail = client.get("/healthz?detail=1", headers=auth).get_json()["detail"]
    assert str(site.posts_dir) in detail["error"]
    assert str(site.posts_dir) in caplog.text
    status = read_status(config.state_dir)
    assert status is not None and status.last_build is not None
    assert str(site.posts_dir) in (status.last_build.error or "")


@pytest.mark.parametrize(
    ("detail", "kind"),
    [
        ("scan: FileNotFoundError: posts_dir not found: /srv/blog/posts", "posts_dir_missing"),
        ("publish: OSError: [Errno 28] No space left on device: '/srv/x'", "disk_full"),
        ("render: PermissionError: [Errno 13] Permission denied: '/srv/x'", "permission_denied"),
        ("render: RenderError: template /srv/t/feed.html broke", "render_failed"),
        ("save state: OSError: /srv/state", "save_state_failed"),
        ("RuntimeError: bug at /srv/app.py", "build_failed"),
    ],
)
def test_build_errors_map_to_a_kind_and_a_message_without_the_detail(
    detail: str, kind: str
) -> None:
    shown = public.build_error(detail)
    assert shown is not None and shown["kind"] == kind
    assert "/srv" not in json.dumps(shown)


@pytest.mark.parametrize(
    ("detail", "kind"),
    [
        (
            "cannot reach http://10.0.0.5:9000 for bucket 'acme-private': timeout",
            "bucket_unreachable",
        ),
        ("bucket 'acme-private' does not exist at http://10.0.0.5:9000", "bucket_missing"),
        ("bucket 'acme-private' at AWS S3 refused the credentials (403)", "bucket_access_denied"),
        ("reading to bucket 'acme-private' at x failed: SlowDown: please", "bucket_error"),
    ],
)
def test_bucket_errors_name_neither_bucket_nor_endpoint(detail: str, kind: str) -> None:
    shown = public.bucket_error(detail)
    assert shown is not None and shown["kind"] == kind
    assert "acme" not in json.dumps(shown) and "10.0.0.5" not in json.dumps(shown)


def test_sink_errors_and_kept_posts_lose_their_reasons_and_outside_paths(tmp_path: Path) -> None:
    shown = public.sink_error("s3: BucketError: bucket 'acme-private' does not exist at http://h")
    assert shown["sink"] == "s3" and shown["kind"] == "delivery_failed"
    assert "acme" not in json.dumps(shown)
    posts = tmp_path / "srv" / "posts"
    kept = public.kept_line(f"{posts}/2025/a.md", posts)
    assert kept == "2025/a.md: broken, still publishing its last valid version"
    outside = public.kept_line(f"{tmp_path}/elsewhere/b.md", posts)
    assert outside == "b.md: broken, still publishing its last valid version"
    # A name that holds ':' and a whole fake report line stays one escaped name.
    hostile = public.kept_line(f"{posts}/a.md:1: error: x\nFORGED.md", posts)
    assert (
        hostile == "a.md:1: error: x\\nFORGED.md: broken, still publishing its last valid version"
    )


def test_the_lease_shows_no_holder_or_error_text() -> None:
    raw = {
        "role": "follower",
        "me": "build-1.internal:42:abc",
        "holder": "build-2.internal:7:def",
        "token": 3,
        "expires": "2025-11-01T00:00:00Z",
        "takeovers": 0,
        "error": "cannot reach http://10.0.0.5:9000 for bucket 'acme-private': refused",
    }
    shown = public.lease(raw)
    assert shown["role"] == "follower" and shown["token"] == 3
    assert shown["error"]["kind"] == "bucket_unreachable"
    text = json.dumps(shown)
    assert "internal" not in text and "acme" not in text and "10.0.0.5" not in text
