"""``feed.archive_storage`` in the bucket: a switch leaves every archive page's objects in the new
form in that same build, and a removed plain page's twin goes the way of every other twin.

End to end against moto in server mode: the builder's sink (a new one per build, as a new
process would make), the objects read back with boto3, and a replica's store answering a client
that did not ask for gzip.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feedsmith.config import load_config
from feedsmith.core.config import Config
from feedsmith.core.layout import MANIFEST, content_type_for
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish.s3.delivery import GONE_BODY
from feedsmith.serve.app import create_app
from feedsmith.serve.bucket_store import BucketStore
from published import read_published
from s3_fixtures import Moto, s3_config
from test_s3_archive_storage import (  # noqa: F401
    archive_records,
    fresh_clone_puts,
    history,
    sink_for,
)
from test_s3_publish import bucket_keys, get
from test_s3_replicas import replica_config

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
PREFIX = "feeds/"


def build(site: Any, moto: Moto, storage: str, at: datetime, **s3: Any) -> Config:
    site.settings["feed"] = {**site.settings["feed"], "archive_storage": storage}
    config = s3_config(site, moto.url, **s3)
    assert SiteBuilder(config, watch=False, sinks=[sink_for(config)]).build(at).sink_errors == []
    return config


def pages(moto: Moto) -> dict[str, dict[str, Any]]:
    import json

    return archive_records(json.loads(get(moto.client(), PREFIX + MANIFEST)[0]))


def assert_form(site: Any, moto: Moto, storage: str) -> None:
    """Every archive page's objects as ``storage`` stores them (see publish/s3/sink.py)."""
    client = moto.client()
    keys = bucket_keys(client)
    listed = pages(moto)
    assert len(listed) >= 12
    for rel, rec in listed.items():
        plain = read_published(site.output_dir / rel)
        stored, obj = get(client, PREFIX + rel)
        assert obj["ContentType"] == content_type_for(rel), rel
        if storage == "plain":
            assert "gz_bytes" not in rec
            assert stored == plain and obj.get("ContentEncoding") is None, rel
            twin, twin_obj = get(client, PREFIX + rel + ".gz")
            assert twin_obj["ContentEncoding"] == "gzip" and gzip.decompress(twin) == plain, rel
        else:
            assert rec["gz_bytes"] == len(stored)
            assert obj["ContentEncoding"] == "gzip" and gzip.decompress(stored) == plain, rel
            assert PREFIX + rel + ".gz" not in keys, rel


def assert_replica_serves_plain(site: Any, tmp_path: Any, moto: Moto, name: str) -> None:
    """A replica (trusting the manifest) sends a client without Accept-Encoding the plain
    bytes, and a gzip client what decompresses to them."""
    replica_cfg = load_config(replica_config(tmp_path, name, moto.url), serve_only=True)
    store = BucketStore.for_config(replica_cfg)
    try:
        replica = create_app(replica_cfg, store, clock=lambda: T1).test_client()
        for rel in ("archive/all/1.atom.xml", "archive/all/2.json"):
            plain = read_published(site.output_dir / rel)
            answer = replica.get("/feeds/" + rel)
            assert answer.status_code == 200, rel
            assert "Content-Encoding" not in answer.headers and answer.data == plain, rel
            zipped = replica.get("/feeds/" + rel, headers={"Accept-Encoding": "gzip"})
            assert zipped.headers["Content-Encoding"] == "gzip", rel
            assert gzip.decompress(zipped.data) == plain, rel
    finally:
        store.stop()


@pytest.mark.slow
def test_switching_archive_storage_puts_every_page_in_the_new_form_in_that_build(
    history: Any,  # noqa: F811
    moto: Moto,
    tmp_path: Any,
) -> None:
    build(history, moto, "gzip", T1)
    assert_form(history, moto, "gzip")
    build(history, moto, "plain", T1 + timedelta(minutes=1))
    assert_form(history, moto, "plain")
    assert_replica_serves_plain(history, tmp_path, moto, "replica-plain")
    build(history, moto, "gzip", T1 + timedelta(minutes=2))
    assert_form(history, moto, "gzip")
    assert_replica_serves_plain(history, tmp_path, moto, "replica-gzip")


@pytest.mark.slow
@pytest.mark.parametrize("gone_days", [30, 0])
def test_a_removed_plain_page_takes_its_twin_with_it(
    history: Any,  # noqa: F811
    moto: Moto,
    gone_days: int,
) -> None:
    build(history, moto, "plain", T1, gone_days=gone_days)
    before = pages(moto)
    for n in range(5, 11):
        (history.posts_dir / f"2025-10-{n:02d}-p{n}.md").unlink()
    build(history, moto, "plain", T1 + timedelta(minutes=1), gone_days=gone_days)
    vanished = sorted(set(before) - set(pages(moto)))
    assert vanished
    client = moto.client()
    keys = bucket_keys(client)
    for rel in vanished:
        if gone_days:  # the gone document under both keys, as for any file with a twin
            assert get(client, PREFIX + rel)[0] == GONE_BODY, rel
            assert gzip.decompress(get(client, PREFIX + rel + ".gz")[0]) == GONE_BODY, rel
        else:
            assert not {PREFIX + rel, PREFIX + rel + ".gz"} & keys, rel


@pytest.mark.slow
def test_a_fresh_clone_of_an_unchanged_plain_site_puts_the_manifest_at_most(
    history: Any,  # noqa: F811
    moto: Moto,
) -> None:
    """The bucket's own manifest says which form each page is in: nothing is sent again."""
    config = build(history, moto, "plain", T1)
    puts = fresh_clone_puts(history, config, T1 + timedelta(hours=1))
    assert puts <= {PREFIX + MANIFEST, PREFIX + MANIFEST + ".gz"}
    assert_form(history, moto, "plain")
