"""A bucket sink with no record of the bucket (a CI job's fresh clone) reads the bucket's own
manifest and sends only what differs (:mod:`feedsmith.publish.s3.remote`).

End to end against moto in server mode, counting the PutObject requests of the sink's own client;
the trust rules themselves on hand-made listings, without a bucket.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsmith.core.config import Config
from feedsmith.core.layout import MANIFEST
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish.s3.remote import (
    BucketView,
    Listed,
    Untrusted,
    known_from_bucket,
    target_digest,
)
from feedsmith.publish.s3.sink import GONE_BODY, S3Sink
from feedsmith.publish.sinks import configured_sinks
from s3_fixtures import BUCKET, Moto, post, s3_config
from test_s3_publish import Requests, bucket_keys, get, local_tree

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
PREFIX = "feeds/"


def fresh_clone_builder(blog: Any, config: Config) -> tuple[SiteBuilder, S3Sink, Requests]:
    """What a CI job starts from: the posts, and neither output_dir nor state_dir."""
    shutil.rmtree(blog.output_dir, ignore_errors=True)
    shutil.rmtree(config.state_dir, ignore_errors=True)
    (sink,) = configured_sinks(config)
    assert isinstance(sink, S3Sink)
    return SiteBuilder(config, watch=False, sinks=[sink]), sink, Requests(sink)


def publish(config: Config) -> None:
    (sink,) = configured_sinks(config)
    assert SiteBuilder(config, watch=False, sinks=[sink]).build(T1).sink_errors == []


def assert_bucket_mirrors(client: Any, blog: Any) -> None:
    for rel, data in local_tree(blog.output_dir).items():
        assert get(client, PREFIX + rel)[0] == data, rel


# -- a real bucket -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_fresh_clone_of_an_unchanged_site_puts_the_manifest_at_most(
    blog: Any, moto: Moto
) -> None:
    config = s3_config(blog, moto.url)
    publish(config)
    files = len(local_tree(blog.output_dir))
    builder, _, requests = fresh_clone_builder(blog, config)
    assert builder.build(T1 + timedelta(hours=1)).sink_errors == []
    assert files > 10
    assert set(requests.puts) <= {PREFIX + MANIFEST, PREFIX + MANIFEST + ".gz"}
    assert_bucket_mirrors(moto.client(), blog)
    # The record is written: the next build of this clone sends nothing and asks nothing.
    requests.clear()
    assert builder.build(T1 + timedelta(hours=2)).sink_errors == []
    assert requests.calls == []


@pytest.mark.slow
def test_a_fresh_clone_with_one_post_changed_puts_only_the_files_that_changed(
    blog: Any, moto: Moto
) -> None:
    config = s3_config(blog, moto.url)
    publish(config)
    before = local_tree(blog.output_dir)
    blog.write_post(
        "2025-10-01-alpha.md", post("Alpha, edited", "2025-10-01", ["python"]), dedent=False
    )
    builder, _, requests = fresh_clone_builder(blog, config)
    assert builder.build(T1 + timedelta(hours=1)).sink_errors == []
    after = local_tree(blog.output_dir)
    changed = {rel for rel, data in after.items() if before.get(rel) != data} | {MANIFEST}
    assert "all.atom.xml" in changed and "tags/web.atom.xml" not in changed
    assert sorted(requests.puts) == sorted(
        PREFIX + rel + gz for rel in changed for gz in ("", ".gz")
    )
    assert requests.puts[-1] == PREFIX + MANIFEST
    assert_bucket_mirrors(moto.client(), blog)


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    ["not json", "a json list", "deleted", "no twin of a file", "another cache_control"],
)
def test_a_bucket_manifest_that_tells_nothing_means_everything_is_uploaded_and_correct(
    blog: Any, moto: Moto, damage: str
) -> None:
    config = s3_config(blog, moto.url)
    publish(config)
    client = moto.client()
    key = PREFIX + MANIFEST
    if damage == "not json":
        client.put_object(Bucket=BUCKET, Key=key, Body=b"{oops")
    elif damage == "a json list":
        client.put_object(Bucket=BUCKET, Key=key, Body=b"[]")
    elif damage == "deleted":
        client.delete_object(Bucket=BUCKET, Key=key)
    elif damage == "no twin of a file":
        client.delete_object(Bucket=BUCKET, Key=PREFIX + "all.atom.xml.gz")
    else:
        config = s3_config(blog, moto.url, cache_control="public, max-age=60")
    tree = local_tree(blog.output_dir)
    builder, _, requests = fresh_clone_builder(blog, config)
    assert builder.build(T1 + timedelta(hours=1)).sink_errors == []
    sent = {PREFIX + rel + gz for rel in tree for gz in ("", ".gz")}
    if damage == "no twin of a file":  # only that file is in doubt
        sent = {PREFIX + "all.atom.xml", PREFIX + "all.atom.xml.gz", key, key + ".gz"}
    assert set(requests.puts) == sent and len(requests.puts) == len(sent)
    assert_bucket_mirrors(client, blog)
    assert PREFIX + "all.atom.xml.gz" in bucket_keys(client)
    if damage == "another cache_control":
        assert get(client, PREFIX + "all.atom.xml")[1]["CacheControl"] == "public, max-age=60"


@pytest.mark.slow
def test_a_fresh_clone_turns_files_the_site_dropped_into_gone_documents_and_deletes_nothing(
    blog: Any, moto: Moto
) -> None:
    config = s3_config(blog, moto.url)
    publish(config)
    client = moto.client()
    client.put_object(Bucket=BUCKET, Key=PREFIX + "not-ours.txt", Body=b"hand-made")
    (blog.posts_dir / "2025-10-02-beta.md").unlink()
    builder, _, requests = fresh_clone_builder(blog, config)
    assert builder.build(T1 + timedelta(hours=1)).sink_errors == []
    web = {rel for rel in ("tags/web.atom.xml", "tags/web.rss.xml", "tags/web.json")}
    for rel in web:
        assert get(client, PREFIX + rel)[0] == GONE_BODY
    assert [op for op, _ in requests.calls if op.startswith("Delete")] == []
    keys = bucket_keys(client)
    assert PREFIX + "not-ours.txt" in keys  # never delete what the manifest does not name
    assert PREFIX + "tags/python.atom.xml" in keys
    assert_bucket_mirrors(client, blog)


# -- the trust rules, without a bucket ---------------------------------------------------------

TARGET = '[1, null, "b", "feeds/", "public, max-age=300"]'
OLD = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
AT = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


def view(
    manifest: dict[str, Any] | bytes, objects: dict[str, Listed], target: str | None = None
) -> BucketView:
    data = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    listing = {MANIFEST: Listed(len(data), '"m"', AT), MANIFEST + ".gz": Listed(9, '"z"', AT)}
    listing.update(objects)
    return BucketView(data, '"m"', target_digest(TARGET) if target is None else target, listing)


def rec(sha: str, size: int) -> dict[str, Any]:
    return {"sha256": sha, "bytes": size, "changed": "2025-12-01T08:00:00Z"}


def manifest(files: dict[str, dict[str, Any]], gone: dict[str, str] | None = None) -> Any:
    return {"generated": "x", "feeds": [], "files": files, "gone": gone or {}}


def listed(rel: str, size: int, when: datetime = OLD, twin_when: datetime | None = None) -> Any:
    return {
        rel: Listed(size, '"e"', when),
        rel + ".gz": Listed(size // 2, '"g"', twin_when or when),
    }


def test_a_file_is_trusted_when_it_and_its_twin_are_there_no_newer_than_the_manifest() -> None:
    files = {"a": rec("1", 10), "b": rec("2", 20), "c": rec("3", 30), "d": rec("4", 40)}
    objects = {
        **listed("a", 10, AT),  # same second as the manifest: the same delivery
        **listed("b", 20, OLD, twin_when=LATER),  # twin rewritten by a delivery that failed
        **listed("c", 31),  # not the size the manifest says
        "d": Listed(40, '"e"', OLD),  # no twin
    }
    known = known_from_bucket(view(manifest(files), objects), TARGET)
    assert known.objects == {"a": "1"}
    assert known.manifest == hashlib.sha256(json.dumps(manifest(files)).encode()).hexdigest()
    assert known.manifest_etag == '"m"'
    later = known_from_bucket(view(manifest(files), listed("a", 10, LATER)), TARGET)
    assert later.objects == {}  # written after the manifest: its bytes are unknown


def test_gone_paths_deleted_replaced_or_still_old_bytes() -> None:
    gone = {"x": "2025-11-01T00:00:00Z", "y": "2025-11-01T00:00:00Z", "z": "2025-11-01T00:00:00Z"}
    objects = {**listed("y", 33, LATER), **listed("z", 500, OLD)}
    known = known_from_bucket(view(manifest({}, gone), objects), TARGET)
    assert known.deleted == {"x"}
    assert known.gone == {"y": "2025-12-01T10:00:00Z"}  # its gone document's delay runs from then
    assert known.objects == {"z": ""}  # the gone document never replaced it: the plan will


@pytest.mark.parametrize(
    ("data", "target", "why"),
    [
        (b"{oops", None, "is not JSON"),
        (b"[1, 2]", None, "is not a feedsmith manifest"),
        (b'{"gone": []}', None, "is not a feedsmith manifest"),
        (b"{}", target_digest("another target"), "other settings"),
        (b"{}", "", "other settings"),
    ],
)
def test_a_manifest_that_tells_nothing_is_untrusted(
    data: bytes, target: str | None, why: str
) -> None:
    with pytest.raises(Untrusted, match=why):
        known_from_bucket(view(data, {}, target), TARGET)


def test_a_manifest_replaced_while_it_was_read_is_untrusted() -> None:
    v = view(b"{}", {MANIFEST: Listed(2, '"another"', LATER)})
    with pytest.raises(Untrusted, match="changed while it was read"):
        known_from_bucket(v, TARGET)


def test_without_its_twin_the_manifest_itself_is_sent_again() -> None:
    v = view(b"{}", {})
    v = BucketView(v.manifest, v.etag, v.target, {MANIFEST: v.listing[MANIFEST]})
    assert known_from_bucket(v, TARGET).manifest is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())))
def test_any_bytes_as_the_bucket_manifest_trust_only_what_it_names_or_nothing(data: bytes) -> None:
    objects = {**listed("a", 10), **listed("gone", 10)}
    try:
        known = known_from_bucket(view(data, objects), TARGET)
    except Untrusted:
        return
    assert set(known.objects) <= {"a", "gone"}
    assert set(known.gone) | known.deleted <= set(json.loads(data).get("gone", {}))
