"""``media_dir`` in the bucket: uploaded under ``media/`` with their types (in parts when large),
only when their bytes changed, deleted when removed; and ``serve --from-bucket`` answers
``/media/`` with ranges. moto in server mode, boto3 on both sides, real replica processes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsmith.cli import main
from s3_fixtures import BUCKET, Moto, eventually, post, s3_config
from test_s3_publish import Requests, bucket_keys, builder_with_sink
from test_s3_replicas import Replica, replica_config

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
PREFIX = "feeds/"
BIG = 20 * 1024 * 1024  # above the sink's 16 MiB threshold: two parts
AUDIO = bytes(range(256)) * 40


def media_site(blog: Any) -> Path:
    media = blog.root / "media"
    (media / "episodes").mkdir(parents=True)
    (media / "episodes" / "ep1.mp3").write_bytes(AUDIO)
    (media / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with (media / "talk.mp4").open("wb") as fh:
        fh.truncate(BIG)
    blog.settings["media_dir"] = "media"
    return media


def uploads(requests: Requests) -> set[str]:
    """Keys sent (whole or in parts) by the requests recorded."""
    ops = ("PutObject", "CreateMultipartUpload")
    return {key for op, key in requests.calls if op in ops}


@pytest.mark.slow
def test_media_go_up_with_their_types_in_parts_when_large_once_and_leave_when_removed(
    blog: Any, moto: Moto
) -> None:
    media = media_site(blog)
    config = s3_config(blog, moto.url, gone_days=0)
    builder, sink = builder_with_sink(config)
    requests = Requests(sink)
    report = builder.build(T1)
    assert not report.sink_errors, report.sink_errors
    client = moto.client()

    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    assert set(manifest["media"]) == {"episodes/ep1.mp3", "cover.jpg", "talk.mp4"}
    assert manifest["media"]["episodes/ep1.mp3"]["bytes"] == len(AUDIO)
    assert manifest["media"]["talk.mp4"]["type"] == "video/mp4"
    assert not (blog.output_dir / "media").exists()  # never copied beside the feeds

    audio = client.get_object(Bucket=BUCKET, Key=PREFIX + "media/episodes/ep1.mp3")
    assert audio["Body"].read() == AUDIO
    assert audio["ContentType"] == "audio/mpeg"
    assert "ContentEncoding" not in audio
    cover = client.head_object(Bucket=BUCKET, Key=PREFIX + "media/cover.jpg")
    assert cover["ContentType"] == "image/jpeg"
    talk = client.head_object(Bucket=BUCKET, Key=PREFIX + "media/talk.mp4")
    assert talk["ContentType"] == "video/mp4" and talk["ContentLength"] == BIG
    assert talk["ETag"].strip('"').endswith("-2")  # a multipart upload of two parts
    assert ("UploadPart", PREFIX + "media/talk.mp4") in requests.calls
    assert f"{PREFIX}media/talk.mp4.gz" not in bucket_keys(client)

    # A new post: the feeds go up again, the media do not.
    requests.clear()
    blog.write_post("2025-10-03-gamma.md", post("Gamma", "2025-10-03", ["web"]), dedent=False)
    assert not builder.build(T1).sink_errors
    assert requests.puts and not any("/media/" in key for key in uploads(requests))

    # Nothing changed: nothing sent. One media file changed (no post did): only it goes up.
    requests.clear()
    assert not builder.build(T1).sink_errors
    assert uploads(requests) == set()
    (media / "episodes" / "ep1.mp3").write_bytes(AUDIO[::-1])
    assert not builder.build(T1).sink_errors
    assert uploads(requests) == {
        PREFIX + "media/episodes/ep1.mp3",
        PREFIX + "index.json",
        PREFIX + "index.json.gz",
    }
    got = client.get_object(Bucket=BUCKET, Key=PREFIX + "media/episodes/ep1.mp3")
    assert got["Body"].read() == AUDIO[::-1]

    # Removed from media_dir: out of the manifest, deleted from the bucket (gone_days: 0).
    (media / "cover.jpg").unlink()
    assert not builder.build(T1).sink_errors
    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    assert "cover.jpg" not in manifest["media"]
    assert PREFIX + "media/cover.jpg" not in bucket_keys(client)
    assert PREFIX + "media/talk.mp4" in bucket_keys(client)

    # A fresh state (a CI clone): the bucket's manifest says the media are there already.
    (config.state_dir / "s3-publish.json").unlink()
    builder2, sink2 = builder_with_sink(config)
    requests2 = Requests(sink2)
    assert not builder2.build(T1).sink_errors
    assert not any("/media/" in key for key in uploads(requests2))


@pytest.mark.slow
def test_a_replica_serves_media_from_the_bucket_with_ranges_and_conditionals(
    blog: Any, moto: Moto, tmp_path: Path
) -> None:
    media_site(blog)
    s3_config(blog, moto.url)
    assert main(["-c", str(blog.config_path), "build", "--no-progress"]) == 0
    replica = Replica(replica_config(tmp_path, "replica", moto.url), tmp_path / "replica.log")
    try:
        eventually(lambda: replica.health()["_status"] == 200, "the replica's /healthz 200")
        url = "/media/episodes/ep1.mp3"
        status, headers, body = replica.get(url)
        assert (status, body) == (200, AUDIO)
        assert headers["Content-Type"] == "audio/mpeg"
        assert headers["Accept-Ranges"] == "bytes"
        etag = headers["ETag"]

        status, headers, body = replica.get(url, Range="bytes=0-99")
        assert (status, body) == (206, AUDIO[:100])
        assert headers["Content-Range"] == f"bytes 0-99/{len(AUDIO)}"
        status, _, body = replica.get(url, Range="bytes=-10")
        assert (status, body) == (206, AUDIO[-10:])
        status, _, body = replica.get(url, Range="bytes=100-")
        assert (status, body) == (206, AUDIO[100:])
        status, headers, _ = replica.get(url, Range=f"bytes={len(AUDIO)}-")
        assert status == 416 and headers["Content-Range"] == f"bytes */{len(AUDIO)}"
        assert replica.get(url, **{"If-None-Match": etag})[0] == 304

        # A range deep inside the large file: only that range is fetched and sent.
        status, headers, body = replica.get("/media/talk.mp4", Range="bytes=10000000-10000099")
        assert (status, body) == (206, b"\0" * 100)
        assert headers["Content-Range"] == f"bytes 10000000-10000099/{BIG}"

        assert replica.get("/media/missing.mp3")[0] == 404
        assert replica.get("/media/../index.json")[0] == 404
    finally:
        replica.process.stop()
