"""Archive pages in the bucket (one object of gzip bytes under the plain key, no twin) and gone
documents of fresh-clone deploys (deleted ``gone_days`` after they were put, although no
manifest names them).

End to end against moto in server mode: the builder's sink, a replica's store answering plain
and gzip clients, and a series of CI-style deploys from fresh clones with an injected clock.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import test_s3_fresh_state as fresh
from feedsmith.config import load_config
from feedsmith.core.config import Config
from feedsmith.core.layout import MANIFEST, content_type_for, iso_seconds
from feedsmith.pipeline import SiteBuilder
from feedsmith.publish.s3.delivery import GONE_BODY
from feedsmith.publish.s3.remote import Listed, known_from_bucket
from feedsmith.publish.s3.sink import S3Sink
from feedsmith.serve.app import create_app
from feedsmith.serve.bucket_store import BucketStore
from feedsmith.serve.stores import FeedStore
from published import read_published
from s3_fixtures import BUCKET, Moto, post, s3_config
from test_s3_publish import Clock, Requests, bucket_keys, get
from test_s3_replicas import replica_config

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
PREFIX = "feeds/"


@pytest.fixture
def history(blog: Any) -> Any:
    """The two-post blog with eight more posts and pages of two: archive pages in every feed
    with enough posts."""
    for n in range(3, 11):
        day = f"2025-10-{n:02d}"
        blog.write_post(f"{day}-p{n}.md", post(f"P{n}", day, ["python"]), dedent=False)
    blog.settings["feed"] = {"max_entries": 2, "archive_page_size": 2}
    return blog


def archive_records(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rel: rec
        for feed in manifest["feeds"]
        for rel, rec in feed.get("archive", {}).get("files", {}).items()
    }


def sink_for(config: Config, clock: Clock | None = None) -> S3Sink:
    assert config.publish.s3 is not None
    return S3Sink(config.publish.s3, config.state_dir, "public, max-age=300", clock=clock)


def fresh_clone_puts(site: Any, config: Config, at: datetime) -> set[str]:
    """The keys a build from a fresh clone (no output, no state_dir) of ``site`` puts."""
    shutil.rmtree(site.output_dir)
    shutil.rmtree(config.state_dir)
    sink = sink_for(config)
    requests = Requests(sink)
    assert SiteBuilder(config, watch=False, sinks=[sink]).build(at).sink_errors == []
    return set(requests.puts)


@pytest.mark.slow
def test_an_archive_page_is_one_gzip_object_under_its_plain_key_checked_by_its_sha(
    history: Any, moto: Moto
) -> None:
    config = s3_config(history, moto.url)
    sink = sink_for(config)
    assert SiteBuilder(config, watch=False, sinks=[sink]).build(T1).sink_errors == []
    client = moto.client()
    manifest = json.loads(get(client, PREFIX + MANIFEST)[0])
    pages = archive_records(manifest)
    assert len(pages) >= 12
    keys = bucket_keys(client)
    for rel, rec in pages.items():
        assert PREFIX + rel in keys and PREFIX + rel + ".gz" not in keys, rel
        stored, obj = get(client, PREFIX + rel)
        assert obj["ContentEncoding"] == "gzip" and obj["ContentType"] == content_type_for(rel)
        assert len(stored) == rec["gz_bytes"] == obj["ContentLength"]
        plain = gzip.decompress(stored)
        assert plain == read_published(history.output_dir / rel)
        assert hashlib.sha256(plain).hexdigest() == rec["sha256"]
        assert obj["Metadata"]["feedsmith-sha256"] == rec["sha256"]
    # Subscription documents keep the plain object and its twin.
    assert {PREFIX + "all.atom.xml", PREFIX + "all.atom.xml.gz"} <= keys


@pytest.mark.slow
def test_a_fresh_clone_of_an_unchanged_site_with_archives_puts_the_manifest_at_most(
    history: Any, moto: Moto
) -> None:
    config = s3_config(history, moto.url)
    assert SiteBuilder(config, watch=False, sinks=[sink_for(config)]).build(T1).sink_errors == []
    puts = fresh_clone_puts(history, config, T1 + timedelta(hours=1))
    assert puts <= {PREFIX + MANIFEST, PREFIX + MANIFEST + ".gz"}


@pytest.mark.slow
def test_a_replica_sends_gzip_clients_the_stored_bytes_and_others_them_decompressed(
    history: Any, moto: Moto, tmp_path: Any
) -> None:
    config = s3_config(history, moto.url)
    assert SiteBuilder(config, watch=False, sinks=[sink_for(config)]).build(T1).sink_errors == []
    local = create_app(config, FeedStore.for_config(config), clock=lambda: T1).test_client()
    replica_cfg = load_config(replica_config(tmp_path, "replica", moto.url), serve_only=True)
    store = BucketStore.for_config(replica_cfg)
    try:
        replica = create_app(replica_cfg, store, clock=lambda: T1).test_client()
        url = "/feeds/archive/all/1.atom.xml"
        stored = get(moto.client(), PREFIX + "archive/all/1.atom.xml")[0]
        for client in (local, replica):
            plain = client.get(url)
            assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
            assert plain.data == gzip.decompress(stored)
            zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
            assert zipped.headers["Content-Encoding"] == "gzip" and zipped.data == stored
            assert plain.headers["ETag"] != zipped.headers["ETag"]
            for answer in (plain, zipped):
                etag = answer.headers["ETag"]
                enc = {"Accept-Encoding": "gzip"} if answer is zipped else {}
                again = client.get(url, headers={"If-None-Match": etag, **enc})
                assert again.status_code == 304
                head = client.head(url, headers=enc)
                assert head.headers["Content-Length"] == str(len(answer.data))
                assert head.data == b""
        for name in ("ETag", "Cache-Control", "Content-Type", "Last-Modified"):
            assert local.get(url).headers[name] == replica.get(url).headers[name], name
    finally:
        store.stop()


@pytest.mark.slow
def test_fresh_clone_deploys_give_a_vanished_category_the_gone_treatment_then_delete_it(
    blog: Any, moto: Moto
) -> None:
    """Every deploy is a CI job from a fresh clone: no output_dir, no state_dir. The bucket
    lists times by the real clock, so the injected clock starts from it."""
    gadget = "---\ntitle: Gamma\ndate: 2025-10-03\ncategories: [Gadgets]\n---\n\nGamma body.\n"
    blog.write_post("2025-10-03-gamma.md", gadget, dedent=False)
    config = s3_config(blog, moto.url, gone_days=2)
    start = datetime.now(UTC).replace(microsecond=0)
    clock = Clock(start)

    def deploy(at: timedelta) -> Requests:
        shutil.rmtree(blog.output_dir, ignore_errors=True)
        shutil.rmtree(config.state_dir, ignore_errors=True)
        clock.now = start + at
        sink = sink_for(config, clock)
        requests = Requests(sink)
        report = SiteBuilder(config, watch=False, sinks=[sink]).build(clock.now)
        assert report.sink_errors == []
        return requests

    deploy(timedelta(0))
    client = moto.client()
    manifest = json.loads(get(client, PREFIX + MANIFEST)[0])
    (feed,) = [f for f in manifest["feeds"] if f["name"] == "Gadgets"]
    vanished = sorted(feed["files"])
    assert vanished and all(rel.startswith("categories/") for rel in vanished)

    (blog.posts_dir / "2025-10-03-gamma.md").unlink()
    deploy(timedelta(hours=1))
    for rel in vanished:
        assert get(client, PREFIX + rel)[0] == GONE_BODY, rel
    assert not any(rel in json.loads(get(client, PREFIX + MANIFEST)[0])["gone"] for rel in vanished)

    requests = deploy(timedelta(days=1))  # no manifest names them now; not due yet
    assert not [op for op, _ in requests.calls if op == "DeleteObjects"]
    assert all(get(client, PREFIX + rel)[0] == GONE_BODY for rel in vanished)

    deploy(timedelta(days=3))
    keys = bucket_keys(client)
    assert not {PREFIX + rel + gz for rel in vanished for gz in ("", ".gz")} & keys
    assert PREFIX + "all.atom.xml" in keys and BUCKET


# -- the trust rules, on hand-made listings ------------------------------------------------------


def test_a_gzip_only_page_is_trusted_by_its_stored_size_without_a_twin() -> None:
    page, old_layout = "archive/all/1.atom.xml", "archive/all/2.atom.xml"
    files = {
        page: {**fresh.rec("1", 100), "gz_bytes": 30},
        old_layout: {**fresh.rec("2", 100), "gz_bytes": 30},
    }
    objects = {
        page: Listed(30, '"e"', fresh.OLD),
        **fresh.listed(old_layout, 100),  # plain bytes and a twin: not what this layout stores
    }
    known = known_from_bucket(fresh.view(fresh.manifest(files), objects), fresh.TARGET)
    assert known.objects == {page: "1"}


def test_gone_documents_no_manifest_names_count_as_put_when_the_listing_says() -> None:
    gone_etag = '"' + hashlib.md5(GONE_BODY, usedforsecurity=False).hexdigest() + '"'
    objects = {
        "categories/old.atom.xml": Listed(len(GONE_BODY), gone_etag, fresh.OLD),
        "categories/old.atom.xml.gz": Listed(50, '"z"', fresh.OLD),
        "notes/mine.txt": Listed(len(GONE_BODY), '"someone-else"', fresh.OLD),  # same size only
        "tags/kept.json": Listed(len(GONE_BODY), gone_etag, fresh.OLD),  # listed: not gone
    }
    files = {"tags/kept.json": fresh.rec("9", 999)}
    known = known_from_bucket(fresh.view(fresh.manifest(files), objects), fresh.TARGET)
    assert known.gone == {"categories/old.atom.xml": iso_seconds(fresh.OLD)}
    assert "notes/mine.txt" not in known.objects and not known.deleted


@pytest.mark.slow
def test_a_full_send_removes_the_twins_an_older_layout_left_beside_archive_pages(
    history: Any, moto: Moto
) -> None:
    client = moto.client()
    stale = PREFIX + "archive/all/1.atom.xml.gz"  # what layout 1 put beside each page
    client.put_object(Bucket=BUCKET, Key=stale, Body=b"old twin", ContentEncoding="gzip")
    config = s3_config(history, moto.url)
    assert SiteBuilder(config, watch=False, sinks=[sink_for(config)]).build(T1).sink_errors == []
    keys = bucket_keys(client)
    assert stale not in keys and PREFIX + "archive/all/1.atom.xml" in keys
    assert PREFIX + "all.atom.xml.gz" in keys  # subscription documents keep theirs
