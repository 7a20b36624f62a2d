"""Publishing to an S3-compatible bucket (``publish.s3``, :mod:`feedsmith.publish.s3.sink`).

The bucket is moto in server mode: real HTTP, real SigV4, boto3 on both sides. The only
instrument is a botocore event hook on the sink's own client, which records each request
(operation, key) so a test can say exactly what a build sent, in which order.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError, ConnectionClosedError

from feedsmith.cli import main
from feedsmith.core.config import Config, S3Config
from feedsmith.core.layout import MANIFEST, content_type_for
from feedsmith.core.state import BuildState
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish.changes import published_changes
from feedsmith.publish.output import LocalWriter, plan_publish
from feedsmith.publish.s3.client import BucketError
from feedsmith.publish.s3.delivery import Delivered, plan_delivery
from feedsmith.publish.s3.sink import GONE_BODY, GONE_META, S3Sink
from feedsmith.publish.sinks import configured_sinks
from s3_fixtures import BUCKET, Moto, free_port, post, s3_config

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
PREFIX = "feeds/"


class Requests:
    """Every request the sink's client makes, as (operation, key), in order."""

    def __init__(self, sink: S3Sink) -> None:
        self.calls: list[tuple[str, str]] = []
        self.succeeded: list[tuple[str, str]] = []  # answered 2xx
        sink.client.meta.events.register("before-parameter-build.s3", self._record)
        sink.client.meta.events.register("after-call.s3", self._answered)

    def _record(self, params: dict[str, Any], model: Any, context: Any, **_: Any) -> None:
        context["test-key"] = str(params.get("Key", ""))
        self.calls.append((model.name, context["test-key"]))

    def _answered(self, http_response: Any, model: Any, context: Any, **_: Any) -> None:
        if http_response.status_code < 300:
            self.succeeded.append((model.name, context.get("test-key", "")))

    @property
    def puts(self) -> list[str]:
        return [key for op, key in self.calls if op == "PutObject"]

    def clear(self) -> None:
        self.calls.clear()
        self.succeeded.clear()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def builder_with_sink(config: Config, clock: Clock | None = None) -> tuple[SiteBuilder, S3Sink]:
    if clock is None:
        (sink,) = configured_sinks(config)
        assert isinstance(sink, S3Sink)
    else:
        assert config.publish.s3 is not None
        sink = S3Sink(config.publish.s3, config.state_dir, "public, max-age=300", clock=clock)
    return SiteBuilder(config, watch=False, sinks=[sink]), sink


def local_tree(out: Path) -> dict[str, bytes]:
    """Published files (sidecars aside) by path relative to output_dir."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and p.suffix != ".gz"
    }


def bucket_keys(client: Any) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def get(client: Any, key: str) -> tuple[bytes, dict[str, Any]]:
    obj = client.get_object(Bucket=BUCKET, Key=key)
    return obj["Body"].read(), obj


# -- a real bucket -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_build_publishes_every_file_with_its_gzip_twin_and_the_headers_serve_sends(
    blog: Any, moto: Moto
) -> None:
    builder, sink = builder_with_sink(s3_config(blog, moto.url))
    requests = Requests(sink)
    report = builder.build(T1)
    assert report.sink_errors == []
    client = moto.client()
    tree = local_tree(blog.output_dir)
    assert {"all.atom.xml", "all.rss.xml", "all.json", "index.opml", MANIFEST} <= set(tree)
    assert bucket_keys(client) == {PREFIX + rel + gz for rel in tree for gz in ("", ".gz")}
    for rel, data in tree.items():
        body, obj = get(client, PREFIX + rel)
        assert body == data, rel
        assert obj["ContentType"] == content_type_for(rel)
        assert obj["CacheControl"] == "public, max-age=300"  # serve's: interval_seconds
        assert "ContentEncoding" not in obj
        gz_body, gz_obj = get(client, PREFIX + rel + ".gz")
        assert gzip.decompress(gz_body) == data, rel
        assert gz_obj["ContentEncoding"] == "gzip"
        assert gz_obj["ContentType"] == content_type_for(rel)
        if rel != MANIFEST:
            assert obj["Metadata"]["feedsmith-sha256"] == hashlib.sha256(data).hexdigest()
    assert get(client, PREFIX + "all.atom.xml")[1]["ContentType"] == (
        "application/atom+xml; charset=utf-8"
    )
    pages = [rel for rel in tree if rel.endswith(".html")]
    assert "tags/python.html" in pages
    for rel in pages:  # feed.pages (on by default): served as text/html
        assert get(client, PREFIX + rel)[1]["ContentType"] == "text/html; charset=utf-8"
    assert requests.puts[-1] == PREFIX + MANIFEST  # after everything it lists


@pytest.mark.slow
def test_cache_control_and_prefix_come_from_the_config(blog: Any, moto: Moto) -> None:
    config = s3_config(blog, moto.url, prefix="/site/feeds", cache_control="public, max-age=60")
    builder, _ = builder_with_sink(config)
    assert builder.build(T1).sink_errors == []
    _, obj = get(moto.client(), "site/feeds/all.atom.xml")
    assert obj["CacheControl"] == "public, max-age=60"


@pytest.mark.slow
def test_one_edit_uploads_only_the_files_whose_bytes_changed_and_the_manifest_last(
    blog: Any, moto: Moto
) -> None:
    builder, sink = builder_with_sink(s3_config(blog, moto.url))
    requests = Requests(sink)
    builder.build(T1)
    before = local_tree(blog.output_dir)
    requests.clear()
    blog.write_post(
        "2025-10-01-alpha.md", post("Alpha, edited", "2025-10-01", ["python"]), dedent=False
    )
    assert builder.build(T1 + timedelta(minutes=5)).sink_errors == []
    after = local_tree(blog.output_dir)
    changed = {rel for rel, data in after.items() if before.get(rel) != data}
    assert "all.atom.xml" in changed and "tags/web.atom.xml" not in changed
    assert sorted(requests.puts) == sorted(
        PREFIX + rel + gz for rel in changed for gz in ("", ".gz")
    )
    assert requests.puts[-1] == PREFIX + MANIFEST
    assert get(moto.client(), PREFIX + "all.atom.xml")[0] == after["all.atom.xml"]


@pytest.mark.slow
def test_a_build_that_changed_nothing_sends_no_request_at_all(blog: Any, moto: Moto) -> None:
    builder, sink = builder_with_sink(s3_config(blog, moto.url))
    requests = Requests(sink)
    builder.build(T1)
    requests.clear()
    report = builder.build(T1 + timedelta(minutes=5))
    assert report.feeds_written == 0 and report.sink_errors == []
    assert requests.calls == []


@pytest.mark.slow
def test_a_removed_feed_becomes_the_gone_document_then_is_deleted_after_gone_days(
    blog: Any, moto: Moto
) -> None:
    clock = Clock(T1)
    builder, sink = builder_with_sink(s3_config(blog, moto.url, gone_days=2), clock)
    requests = Requests(sink)
    builder.build(T1)
    (blog.posts_dir / "2025-10-02-beta.md").unlink()
    clock.now = T1 + timedelta(minutes=5)
    requests.clear()
    assert builder.build(clock.now).sink_errors == []
    client = moto.client()
    manifest = json.loads(get(client, PREFIX + MANIFEST)[0])
    gone = sorted(rel for rel in manifest["gone"] if rel.startswith("tags/web."))
    assert {"tags/web.atom.xml", "tags/web.rss.xml", "tags/web.json"} <= set(gone)
    for rel in gone:
        body, obj = get(client, PREFIX + rel)
        assert body == GONE_BODY
        assert obj["ContentType"] == "text/plain; charset=utf-8"
        assert obj["Metadata"][GONE_META] == manifest["gone"][rel]
        gz_body, gz_obj = get(client, PREFIX + rel + ".gz")
        assert gzip.decompress(gz_body) == GONE_BODY and gz_obj["ContentEncoding"] == "gzip"
    # The manifest goes up before the gone documents: it never lists a file that is gone.
    assert requests.puts.index(PREFIX + MANIFEST) < requests.puts.index(PREFIX + gone[0])

    clock.now = T1 + timedelta(days=1)  # not yet
    requests.clear()
    builder.build(clock.now)
    assert requests.calls == []
    clock.now = T1 + timedelta(days=2, minutes=5)
    assert builder.build(clock.now).sink_errors == []
    assert [op for op, _ in requests.calls] == ["DeleteObjects"] * len(gone)
    keys = bucket_keys(client)
    assert not {PREFIX + rel + gz for rel in gone for gz in ("", ".gz")} & keys
    assert PREFIX + "tags/python.atom.xml" in keys
    requests.clear()
    builder.build(clock.now + timedelta(days=30))
    assert requests.calls == []  # deleted once, remembered


@pytest.mark.slow
def test_an_upload_that_fails_half_way_never_publishes_the_manifest_and_the_next_build_resumes(
    blog: Any, moto: Moto
) -> None:
    builder, sink = builder_with_sink(s3_config(blog, moto.url))
    builder.build(T1)
    client = moto.client()
    old_manifest = get(client, PREFIX + MANIFEST)[0]
    failing = PREFIX + "categories/tech.atom.xml"

    def drop_connection(request: Any, **_: Any) -> None:
        if request.url.endswith("/" + failing):  # the connection drops on every attempt
            raise ConnectionClosedError(endpoint_url=request.url)

    sink.client.meta.events.register("before-send.s3.PutObject", drop_connection)
    requests = Requests(sink)
    before = local_tree(blog.output_dir)
    blog.write_post(
        "2025-10-01-alpha.md", post("Alpha, edited", "2025-10-01", ["python"]), dedent=False
    )
    report = builder.build(T1 + timedelta(minutes=5))
    ((name, reason),) = report.sink_errors
    assert name == "s3" and "\n" not in reason
    assert reason.startswith("BucketError: cannot reach") and BUCKET in reason
    assert failing in requests.puts and ("PutObject", failing) not in requests.succeeded
    assert PREFIX + MANIFEST not in requests.puts
    assert get(client, PREFIX + MANIFEST)[0] == old_manifest  # nothing half-published
    assert (blog.output_dir / "categories/tech.atom.xml").read_bytes() != get(client, failing)[0]

    uploaded = {key for op, key in requests.succeeded if op == "PutObject"}
    sent = {key for key in uploaded if key.endswith(".gz") and key[:-3] in uploaded}
    sent |= {key[:-3] for key in sent}  # whole files (.gz and plain) that made it
    sink.client.meta.events.unregister("before-send.s3.PutObject", drop_connection)
    requests.clear()
    report = builder.build(T1 + timedelta(minutes=10))
    assert report.sink_errors == [] and report.feeds_written == 0
    tree = local_tree(blog.output_dir)
    changed = {rel for rel, data in tree.items() if before.get(rel) != data and rel != MANIFEST}
    missing = {PREFIX + rel + gz for rel in changed for gz in (".gz", "")} - sent
    assert sorted(requests.puts[:-2]) == sorted(missing)  # only what had not made it
    assert requests.puts[-2:] == [PREFIX + MANIFEST + ".gz", PREFIX + MANIFEST]
    for rel, data in tree.items():
        assert get(client, PREFIX + rel)[0] == data, rel


@pytest.mark.slow
def test_bytes_the_manifest_does_not_describe_are_never_uploaded(blog: Any, moto: Moto) -> None:
    config = s3_config(blog, moto.url)
    SiteBuilder(config, watch=False).build(T1)  # published locally, not yet to the bucket
    (blog.output_dir / "all.atom.xml").write_bytes(b"<feed>edited by hand</feed>")
    (sink,) = configured_sinks(config)
    changes = published_changes(blog.output_dir)
    assert changes is not None
    with pytest.raises(BucketError, match=r"^all.atom.xml on disk differs from the manifest"):
        sink.consume(changes)
    keys = bucket_keys(moto.client())
    assert PREFIX + "all.atom.xml" not in keys and PREFIX + MANIFEST not in keys


@pytest.mark.slow
def test_endpoint_down_exits_4_keeps_the_local_feeds_and_the_next_build_catches_up(
    blog: Any, aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    server = Moto(free_port())
    s3_config(blog, server.url)
    argv = ["-c", str(blog.config_path), "build", "--no-progress"]
    assert main(argv) == 4
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("feedsmith: feeds published"))
    assert f"cannot reach {server.url} for bucket '{BUCKET}'" in line
    tree = local_tree(blog.output_dir)
    assert "all.atom.xml" in tree and MANIFEST in tree

    server.start()
    try:
        server.client().create_bucket(Bucket=BUCKET)
        assert main(argv) == 0  # nothing changed locally: the sink catches up all the same
        client = server.client()
        for rel, data in tree.items():
            assert get(client, PREFIX + rel)[0] == data, rel
        assert local_tree(blog.output_dir) == tree
    finally:
        server.stop()


@pytest.mark.slow
def test_a_missing_bucket_is_named_and_exits_4(
    blog: Any, moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    blog.config(publish={"s3": {"bucket": "no-such-bucket", "endpoint_url": moto.url}})
    assert main(["-c", str(blog.config_path), "build", "--no-progress"]) == 4
    err = capsys.readouterr().err
    assert f"s3 failed: BucketError: bucket 'no-such-bucket' does not exist at {moto.url}" in err
    assert (blog.output_dir / "all.atom.xml").is_file()


@pytest.mark.slow
def test_credentials_the_endpoint_refuses_are_named_and_exit_4(
    blog: Any, moto: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    s3_config(blog, moto.url)
    moto.api("reset-auth", b"0")  # from now on moto checks keys against its (empty) IAM
    assert main(["-c", str(blog.config_path), "build", "--no-progress"]) == 4
    err = capsys.readouterr().err
    assert f"bucket '{BUCKET}' at {moto.url} refused the credentials (InvalidAccessKeyId)" in err


@pytest.mark.slow
@pytest.mark.parametrize("bucket", [BUCKET, "no-such-bucket"])
def test_the_builds_of_serve_deliver_too_and_status_json_names_a_failure(
    blog: Any, moto: Moto, bucket: str
) -> None:
    from feedsmith.serve.schedule import BuildService

    config = blog.config(
        schedule={"watch": False},
        publish={"s3": {"bucket": bucket, "endpoint_url": moto.url}},
    )
    service = BuildService(config)
    outcome = service.build_now("test")
    assert outcome is not None and outcome.ok
    status = json.loads((config.state_dir / "status.json").read_text("utf-8"))
    if bucket == BUCKET:
        body, _ = get(moto.client(), PREFIX + "all.atom.xml")
        assert body == (blog.output_dir / "all.atom.xml").read_bytes()
        assert status["sink_errors"] == []
    else:
        (error,) = status["sink_errors"]
        assert error == (f"s3: BucketError: bucket 'no-such-bucket' does not exist at {moto.url}")


def test_no_credentials_at_all_is_a_clear_error_before_anything_is_sent(
    blog: Any, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    config = s3_config(blog, f"http://127.0.0.1:{free_port()}")
    builder, _ = builder_with_sink(config)
    ((_, reason),) = builder.build(T1).sink_errors
    assert reason.startswith(f"BucketError: no AWS credentials for bucket '{BUCKET}'")


@pytest.mark.slow
def test_a_big_file_goes_up_in_parts(tmp_path: Path, moto: Moto) -> None:
    out = tmp_path / "feeds"
    big = hashlib.shake_256(b"feedsmith").digest(6 * 1024 * 1024)  # incompressible, > 5 MiB
    planned = plan_publish(out, {"all.json": big}, [], BuildState(), T1)
    LocalWriter().consume(planned.changes)
    settings = S3Config(bucket=BUCKET, endpoint_url=moto.url)
    sink = S3Sink(settings, tmp_path / "state", "public, max-age=300", multipart_threshold=5 << 20)
    requests = Requests(sink)
    sink.consume(planned.changes)
    ops = [op for op, _ in requests.calls]
    assert ops.count("CreateMultipartUpload") == 2 and "UploadPart" in ops  # file and .gz
    assert get(moto.client(), PREFIX + "all.json")[0] == big
    assert requests.calls[-1] == ("PutObject", PREFIX + MANIFEST)


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("publish", "key"),
    [
        ({"s3": {}}, "publish.s3.bucket"),
        ({"s3": {"bucket": ""}}, "publish.s3.bucket"),
        ({"s3": {"bucket": "s3://x/y"}}, "publish.s3.bucket"),
        ({"s3": {"bucket": "b", "prefx": "feeds/"}}, "publish.s3.prefx"),
        ({"s3": {"bucket": "b", "endpoint_url": "localhost:9000"}}, "publish.s3.endpoint_url"),
        ({"s3": {"bucket": "b", "region": 1}}, "publish.s3.region"),
        ({"s3": {"bucket": "b", "cache_control": ["x"]}}, "publish.s3.cache_control"),
        ({"s3": {"bucket": "b", "gone_days": "30"}}, "publish.s3.gone_days"),
        ({"s3": {"bucket": "b", "gone_days": -1}}, "publish.s3.gone_days"),
        ({"s3": "my-bucket"}, "publish.s3"),
        ({"ftp": {}}, "publish.ftp"),
        ("s3", "publish"),
    ],
)
def test_a_bad_publish_setting_exits_2_naming_the_key_and_the_file(
    site: Any, publish: Any, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {**site.settings, "publish": publish}
    site.config_path.write_text(yaml.safe_dump(settings), "utf-8")
    assert main(["-c", str(site.config_path), "build", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{site.config_path}: {key}:" in err
    assert not site.output_dir.exists()


def test_the_defaults_of_publish_s3(site: Any) -> None:
    s3 = site.config(publish={"s3": {"bucket": "b"}}).publish.s3
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region) == ("b", "feeds/", None, None)
    assert (s3.cache_control, s3.gone_days) == (None, 30)
    assert site.config().publish.s3 is None and configured_sinks(site.config()) == []


# -- the plan, without a bucket ----------------------------------------------------------------

DAY = timedelta(days=1)


def plan(delivered: Delivered, files: dict[str, str], gone: dict[str, str], **kw: Any) -> Any:
    return plan_delivery(files, kw.get("manifest", "m"), gone, delivered, T1, kw.get("after", DAY))


def test_the_plan_sends_what_differs_and_the_manifest_only_when_it_changed() -> None:
    delivered = Delivered("t", objects={"a": "1", "b": "2"}, manifest="m")
    assert plan(delivered, {"a": "1", "b": "2"}, {}).empty
    changed = plan(delivered, {"a": "1", "b": "3", "c": "4"}, {}, manifest="m2")
    assert changed.uploads == ("b", "c") and changed.manifest


def test_the_plan_for_vanished_paths() -> None:
    since = "2025-12-01T08:00:00Z"
    old = "2025-11-01T08:00:00Z"
    delivered = Delivered("t", objects={"a": "1", "b": "2"}, gone={"c": since}, manifest="m")
    p = plan(delivered, {"a": "1"}, {"b": since, "c": since, "d": since, "e": old})
    # b: delivered; d: never delivered but recent; e: old and never ours; c: already gone doc.
    assert p.gone_docs == (("b", since), ("d", since)) and p.deletions == ()
    later = plan_delivery({"a": "1"}, "m", {"c": since}, delivered, T1 + 2 * DAY, DAY)
    assert later.deletions == ("c",)
    # c: its gone document is due although this manifest no longer names it (a fresh clone's)
    assert plan(delivered, {"a": "1"}, {"b": since}, after=timedelta(0)).deletions == ("b", "c")
    assert plan(delivered, {"a": "1"}, {}).deletions == ()  # c: not due yet
    # dropped from the manifest without a gone record: gone from now
    assert plan(delivered, {"a": "1"}, {}).gone_docs == (("b", "2025-12-01T09:00:00Z"),)
    # published again: uploaded, not gone
    again = plan(delivered, {"a": "1", "b": "2", "c": "9"}, {})
    assert again.uploads == ("c",) and again.gone_docs == () and again.deletions == ()


def test_a_state_for_another_target_or_unreadable_is_nothing_delivered() -> None:
    delivered = Delivered("t", objects={"a": "1"}, manifest="m", deleted={"x"})
    assert Delivered.from_bytes(delivered.to_bytes(), "t") == delivered
    assert Delivered.from_bytes(delivered.to_bytes(), "other") == Delivered("other")
    assert Delivered.from_bytes(b"{not json", "t") == Delivered("t")
    assert Delivered.from_bytes(None, "t") == Delivered("t")


def test_an_error_is_one_line_naming_bucket_and_endpoint() -> None:
    sink = S3Sink(S3Config(bucket="b", endpoint_url="http://h:1"), Path("/nonexistent"), "x")
    exc = ClientError({"Error": {"Code": "SlowDown", "Message": "Please\nslow down"}}, "PutObject")
    err = sink._error("upload of feeds/a", exc)
    assert isinstance(err, BucketError)
    assert (
        str(err)
        == "upload of feeds/a to bucket 'b' at http://h:1 failed: SlowDown: Please slow down"
    )
