"""The web worker, through Flask's test client, against an output dir laid down by hand.

Nothing here runs a build: :class:`Output` writes feed files, their ``.gz`` sidecars,
``index.json`` and ``index.opml`` the way ``output.publish`` does, so these tests pin the HTTP
behaviour alone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsmith.core.config import Config
from feedsmith.serve.app import create_app
from feedsmith.serve.health import REBUILD_REQUEST_FILE
from feedsmith.serve.negotiate import accepts_gzip, etag_matches
from feedsmith.serve.status import record_build
from feedsmith.serve.stores import FeedStore

# What pollers must see, spelled out here rather than taken from the code under test.
CT_ATOM = "application/atom+xml; charset=utf-8"
CT_RSS = "application/rss+xml; charset=utf-8"
CT_JSONFEED = "application/feed+json; charset=utf-8"
CT_OPML = "text/x-opml; charset=utf-8"
CT_JSON = "application/json"

JA = "最新ニュース"
EVIL = "<script>alert(1)</script>"
T0 = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)
NOW = datetime(2025, 11, 17, 8, 0, 0, tzinfo=UTC)
INTERVAL = 120


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(dt: datetime) -> str:
    return format_datetime(dt, usegmt=True)


@dataclass
class Feed:
    kind: str
    name: str
    slug: str
    entries: int = 2
    changed: datetime = T0
    formats: tuple[str, ...] = ("atom", "rss", "json")
    marker: str = "v1"

    def rel(self, fmt: str) -> str:
        ext = {"atom": ".atom.xml", "rss": ".rss.xml", "json": ".json"}[fmt]
        folder = {"all": "", "category": "categories/", "tag": "tags/"}[self.kind]
        return f"{folder}{self.slug}{ext}"

    def content(self, fmt: str) -> bytes:
        # Big and repetitive enough that gzip really is smaller.
        line = f"{fmt} feed {self.name} {self.marker}\n"
        if fmt == "json":
            return json.dumps(
                {"version": "https://jsonfeed.org/version/1.1", "pad": line * 40},
                ensure_ascii=False,
            ).encode()
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed>{line * 40}</feed>\n').encode()


@dataclass
class Output:
    """An output dir written like ``output.publish``: files, sidecars, then the manifest."""

    root: Path
    feeds: list[Feed] = field(default_factory=list)
    gone: dict[str, str] = field(default_factory=dict)
    generated: datetime = T0
    sidecars: bool = True

    def publish(self) -> None:
        entries = []
        for feed in self.feeds:
            files = {}
            urls = {}
            for fmt in feed.formats:
                rel = feed.rel(fmt)
                data = feed.content(fmt)
                self.write(rel, data)
                files[rel] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                    "changed": iso(feed.changed),
                }
                urls[fmt] = "/feeds/" + quote(rel)
            entries.append(
                {
                    "kind": feed.kind,
                    "name": feed.name,
                    "slug": feed.slug,
                    "entries": feed.entries,
                    "updated": iso(feed.changed),
                    "urls": urls,
                    "files": files,
                }
            )
        self.write("index.opml", b'<?xml version="1.0"?>\n<opml version="2.0"></opml>\n' * 5)
        manifest = {"generated": iso(self.generated), "feeds": entries, "gone": self.gone}
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
        tmp = self.root / ".index.json.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / "index.json")

    def write(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if self.sidecars:
            Path(f"{path}.gz").write_bytes(gzip.compress(data, mtime=0))

    def feed(self, slug: str) -> Feed:
        return next(f for f in self.feeds if f.slug == slug)


def default_feeds() -> list[Feed]:
    return [
        Feed("all", "all", "all", entries=3, changed=T0),
        Feed("category", "技術動向", "技術動向", entries=2, changed=T0 - timedelta(days=1)),
        Feed("tag", JA, JA, entries=3, changed=T0),
        Feed("tag", "AI", "ai", entries=1, changed=T0 - timedelta(days=2)),
        Feed("tag", EVIL, "script-alert-1-script", entries=1, changed=T0),
    ]


@pytest.fixture(autouse=True)
def _no_ambient_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("FEEDSMITH_REBUILD_TOKEN", raising=False)


@pytest.fixture
def config(site: Any) -> Config:
    return site.config(schedule={"interval_seconds": INTERVAL})


@pytest.fixture
def output(config: Config) -> Output:
    config.output_dir.mkdir(parents=True, exist_ok=True)
    out = Output(config.output_dir, default_feeds(), gone={"tags/old.atom.xml": iso(T0)})
    out.publish()
    return out


@pytest.fixture
def app(config: Config) -> Flask:
    return create_app(config, FeedStore.for_config(config), clock=lambda: NOW)


@pytest.fixture
def client(app: Flask, output: Output) -> FlaskClient:
    return app.test_client()


def ja_url(ext: str = ".atom.xml") -> str:
    return "/feeds/tags/" + quote(JA) + ext


# -- content types, validators, encodings ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/feeds/all.atom.xml", CT_ATOM),
        ("/feeds/all.rss.xml", CT_RSS),
        ("/feeds/all.json", CT_JSONFEED),
        ("/feeds/index.opml", CT_OPML),
        ("/feeds/index.json", CT_JSON),
        ("/feeds/categories/" + quote("技術動向") + ".rss.xml", CT_RSS),
    ],
)
def test_each_published_file_is_served_with_its_content_type(
    client: FlaskClient, config: Config, path: str, content_type: str
) -> None:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == content_type
    rel = path.removeprefix("/feeds/")
    from urllib.parse import unquote

    assert resp.data == (config.output_dir / unquote(rel)).read_bytes()


def test_percent_encoded_japanese_tag_url_serves_the_unicode_file(
    client: FlaskClient, output: Output
) -> None:
    resp = client.get(ja_url())
    assert resp.status_code == 200
    assert resp.data == output.feed(JA).content("atom")
    assert client.get(ja_url(".json")).headers["Content-Type"] == CT_JSONFEED


def test_feed_has_strong_etag_and_last_modified_from_manifest_changed(
    client: FlaskClient, output: Output
) -> None:
    resp = client.get("/feeds/tags/ai.atom.xml")
    etag = resp.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert resp.headers["Last-Modified"] == http_date(output.feed("ai").changed)


def test_feed_headers_for_caches_and_browsers(client: FlaskClient) -> None:
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        resp = client.get("/feeds/all.atom.xml", headers=headers)
        assert resp.headers["Cache-Control"] == f"public, max-age={INTERVAL}"
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "Expires" not in resp.headers


def test_if_none_match_with_the_etag_gives_304_without_body(client: FlaskClient) -> None:
    first = client.get("/feeds/all.atom.xml")
    resp = client.get("/feeds/all.atom.xml", headers={"If-None-Match": first.headers["ETag"]})
    assert resp.status_code == 304
    assert resp.data == b""
    assert resp.headers["ETag"] == first.headers["ETag"]
    assert resp.headers["Cache-Control"] == f"public, max-age={INTERVAL}"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Last-Modified"] == first.headers["Last-Modified"]
    assert "Expires" not in resp.headers


@pytest.mark.parametrize(
    "template",
    [
        '"nope", {etag}',
        '{etag},"nope"',
        'W/"x", {etag} , "y"',
        "W/{etag}",
        "w/{etag}",
        "*",
        "{bare}",
    ],
)
def test_if_none_match_lists_star_weak_and_bare_forms_match(
    client: FlaskClient, template: str
) -> None:
    etag = client.get("/feeds/all.rss.xml").headers["ETag"]
    header = template.format(etag=etag, bare=etag.strip('"'))
    assert client.get("/feeds/all.rss.xml", headers={"If-None-Match": header}).status_code == 304


@pytest.mark.parametrize("header", ['"nope"', 'W/"nope", "other"', "", '"a,b"'])
def test_if_none_match_without_our_etag_gives_the_full_body(
    client: FlaskClient, header: str
) -> None:
    resp = client.get("/feeds/all.rss.xml", headers={"If-None-Match": header})
    assert resp.status_code == 200 and resp.data


def test_client_echoing_either_representations_etag_gets_304(client: FlaskClient) -> None:
    plain = client.get("/feeds/all.json")
    zipped = client.get("/feeds/all.json", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] != zipped.headers["ETag"]
    assert "gzip" not in zipped.headers["ETag"]
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        for accept in ("gzip", "identity"):
            resp = client.get(
                "/feeds/all.json", headers={"If-None-Match": etag, "Accept-Encoding": accept}
            )
            assert resp.status_code == 304
            # The 304 names the representation this request would have got.
            expected = zipped if accept == "gzip" else plain
            assert resp.headers["ETag"] == expected.headers["ETag"]


def test_if_modified_since_gives_304_unless_the_file_changed_later(
    client: FlaskClient, output: Output
) -> None:
    changed = output.feed("ai").changed
    path = "/feeds/tags/ai.atom.xml"
    for since, expected in (
        (changed, 304),
        (changed + timedelta(hours=1), 304),
        (changed - timedelta(seconds=1), 200),
    ):
        resp = client.get(path, headers={"If-Modified-Since": http_date(since)})
        assert resp.status_code == expected, since
    # Other HTTP-date spellings (RFC 850) are understood too.
    rfc850 = changed.strftime("%A, %d-%b-%y %H:%M:%S GMT")
    assert client.get(path, headers={"If-Modified-Since": rfc850}).status_code == 304


def test_if_modified_since_later_than_the_server_clock_is_ignored(
    config: Config, output: Output
) -> None:
    """RFC 9110 §13.1.3: a date after the server's "now" is invalid: a full 200, never 304.
    "Now" is the app's injected clock, so the test does not depend on the wall clock."""
    changed = output.feed("all").changed
    assert changed < NOW
    client = create_app(config, FeedStore.for_config(config), clock=lambda: NOW).test_client()
    path = "/feeds/all.atom.xml"
    for value in (
        "Fri, 31 Dec 9999 23:59:59 GMT",
        http_date(NOW + timedelta(seconds=1)),
        (NOW + timedelta(days=1)).strftime("%A, %d-%b-%y %H:%M:%S GMT"),  # RFC 850 spelling
    ):
        resp = client.get(path, headers={"If-Modified-Since": value})
        assert resp.status_code == 200, value
        assert resp.data == (config.output_dir / "all.atom.xml").read_bytes()
    # In the past (or now) and not before Last-Modified: still 304.
    for since in (NOW, changed, changed + timedelta(seconds=1)):
        resp = client.get(path, headers={"If-Modified-Since": http_date(since)})
        assert resp.status_code == 304, since
        assert resp.data == b""
    # The same header is honoured once the server's clock has passed it.
    later = NOW + timedelta(days=1)
    late_client = create_app(
        config, FeedStore.for_config(config), clock=lambda: later + timedelta(hours=1)
    ).test_client()
    resp = late_client.get(path, headers={"If-Modified-Since": http_date(later)})
    assert resp.status_code == 304


@pytest.mark.parametrize("value", ["yesterday", "", "Sun, 99 Nov 2025 20:35:04 GMT"])
def test_invalid_if_modified_since_is_ignored(client: FlaskClient, value: str) -> None:
    resp = client.get("/feeds/all.atom.xml", headers={"If-Modified-Since": value})
    assert resp.status_code == 200


def test_if_modified_since_is_ignored_when_if_none_match_is_present(
    client: FlaskClient, output: Output
) -> None:
    later = http_date(output.feed("all").changed + timedelta(days=1))
    resp = client.get(
        "/feeds/all.atom.xml", headers={"If-None-Match": '"stale"', "If-Modified-Since": later}
    )
    assert resp.status_code == 200 and resp.data


def test_a_request_without_validators_never_gets_304(client: FlaskClient) -> None:
    for _ in range(3):
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            resp = client.get("/feeds/all.atom.xml", headers=headers)
            assert resp.status_code == 200 and resp.data


def test_head_sends_the_get_headers_without_a_body(client: FlaskClient) -> None:
    for headers in ({}, {"Accept-Encoding": "gzip"}):
        get = client.get("/feeds/all.atom.xml", headers=headers)
        head = client.head("/feeds/all.atom.xml", headers=headers)
        assert head.status_code == 200
        assert head.data == b""
        assert head.headers["Content-Length"] == str(len(get.data))
        for name in ("ETag", "Last-Modified", "Content-Type", "Vary", "Cache-Control"):
            assert head.headers[name] == get.headers[name]
        assert head.headers.get("Content-Encoding") == get.headers.get("Content-Encoding")


def test_head_honours_validators(client: FlaskClient) -> None:
    etag = client.head("/feeds/all.atom.xml").headers["ETag"]
    resp = client.head("/feeds/all.atom.xml", headers={"If-None-Match": etag})
    assert resp.status_code == 304


def test_gzip_is_served_when_accepted_and_decompresses_to_the_feed(
    client: FlaskClient, output: Output
) -> None:
    resp = client.get(ja_url(), headers={"Accept-Encoding": "br, gzip;q=0.8, deflate"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"] == CT_ATOM
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    assert gzip.decompress(resp.data) == output.feed(JA).content("atom")
    assert len(resp.data) < len(output.feed(JA).content("atom"))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;q=0.001", True),
        ("*", True),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("deflate, br", False),
        ("br;q=1.0, gzip;q=0.5", True),
        ("gzip;q=bogus", False),
    ],
)
def test_accept_encoding_negotiation(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_gzip_q0_gets_the_identity_body(client: FlaskClient, output: Output) -> None:
    resp = client.get("/feeds/all.atom.xml", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in resp.headers
    assert resp.data == output.feed("all").content("atom")
    assert resp.headers["Vary"] == "Accept-Encoding"


def test_missing_or_stale_gzip_sidecar_is_replaced_by_our_own_compression(
    client: FlaskClient, output: Output, config: Config
) -> None:
    ai = config.output_dir / "tags" / "ai.rss.xml"
    Path(f"{ai}.gz").unlink()
    other = config.output_dir / "tags" / "ai.atom.xml"
    Path(f"{other}.gz").write_bytes(gzip.compress(b"an older version"))
    for path, file in (("/feeds/tags/ai.rss.xml", ai), ("/feeds/tags/ai.atom.xml", other)):
        resp = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert resp.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(resp.data) == file.read_bytes()


def test_etags_come_from_the_bytes_served_not_the_manifest(
    client: FlaskClient, config: Config
) -> None:
    path = config.output_dir / "all.json"
    before = client.get("/feeds/all.json").headers["ETag"]
    # A new file renamed into place a moment before its manifest: new bytes, new validator.
    path.write_bytes(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}')
    Path(f"{path}.gz").unlink()
    resp = client.get("/feeds/all.json")
    assert resp.data == path.read_bytes()
    assert resp.headers["ETag"] != before
    assert client.get("/feeds/all.json", headers={"If-None-Match": before}).status_code == 200


# -- what exists, what does not ---------------------------------------------------------------


def test_feeds_answer_503_with_retry_after_before_the_first_build(
    app: Flask, config: Config
) -> None:
    client = app.test_client()
    for method in (client.get, client.head):
        resp = method("/feeds/all.atom.xml")
        assert resp.status_code == 503
        assert 1 <= int(resp.headers["Retry-After"]) <= INTERVAL
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/").status_code == 503


def test_unknown_feed_is_404_and_vanished_feed_is_410(client: FlaskClient) -> None:
    assert client.get("/feeds/tags/never.atom.xml").status_code == 404
    assert client.get("/feeds/nope").status_code == 404
    assert client.get("/nope").status_code == 404
    gone = client.get("/feeds/tags/old.atom.xml")
    assert gone.status_code == 410
    assert client.head("/feeds/tags/old.atom.xml").status_code == 410


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_other_methods_on_a_feed_are_405_with_allow(client: FlaskClient, method: str) -> None:
    resp = client.open("/feeds/all.atom.xml", method=method)
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    "path", ["/feeds/all.atom.xml", "/feeds/tags/old.atom.xml", "/feeds/no.json"]
)
def test_options_is_a_cors_preflight(client: FlaskClient, path: str) -> None:
    resp = client.open(
        path,
        method="OPTIONS",
        headers={
            "Origin": "https://reader.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert resp.status_code == 204
    assert resp.data == b""
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert {m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(",")} == {
        "GET",
        "HEAD",
    }
    allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"if-none-match", "if-modified-since"}
    assert int(resp.headers["Access-Control-Max-Age"]) > 0


@pytest.mark.parametrize("path", ["/feeds/", "/feeds/tags/", "/feeds/tags", "/feeds/categories/"])
def test_directories_are_never_listed(client: FlaskClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    assert b"all.atom.xml" not in resp.data


SECRET = b"TOP-SECRET-CONTENT"


@pytest.fixture
def secret(config: Config) -> Path:
    path = config.output_dir.parent / "secret.txt"
    path.write_bytes(SECRET)
    return path


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/../secret.txt",
        "/feeds/%2e%2e/secret.txt",
        "/feeds/%2E%2E/secret.txt",
        "/feeds/..%2fsecret.txt",
        "/feeds/tags/..%2f..%2fsecret.txt",
        "/feeds/tags/%2e%2e/%2e%2e/secret.txt",
        "/feeds/..\\secret.txt",
        "/feeds/tags\\..\\..\\secret.txt",
        "/feeds//etc/passwd",
        "/feeds/%2fetc%2fpasswd",
        "/feeds/all.atom.xml%00",
        "/feeds/all.atom.xml%00.json",
        "/feeds/./all.atom.xml/../../secret.txt",
        "/feeds/all.atom.xml.gz",
        "/feeds/.index.json.tmp",
    ],
)
def test_traversal_attempts_never_read_outside_or_unlisted(
    client: FlaskClient, secret: Path, path: str
) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    assert SECRET not in resp.data
    assert b"root:" not in resp.data


def test_a_manifest_naming_paths_outside_output_dir_is_not_obeyed(
    config: Config, output: Output, secret: Path, app: Flask
) -> None:
    manifest = json.loads((config.output_dir / "index.json").read_text("utf-8"))
    manifest["feeds"][0]["files"]["../secret.txt"] = {"changed": iso(T0)}
    manifest["feeds"][0]["files"][str(secret)] = {"changed": iso(T0)}
    (config.output_dir / "index.json").write_text(json.dumps(manifest), "utf-8")
    client = app.test_client()
    assert client.get("/feeds/../secret.txt").status_code == 404
    assert client.get("/feeds/" + str(secret)).status_code == 404
    assert client.get("/feeds/all.atom.xml").status_code == 200


def test_a_symlink_inside_output_dir_is_not_followed_out_of_it(
    config: Config, output: Output, secret: Path, app: Flask
) -> None:
    link = config.output_dir / "tags" / "ai.atom.xml"
    link.unlink()
    link.symlink_to(secret)
    Path(f"{link}.gz").unlink()
    dirlink = config.output_dir / "linked"
    dirlink.symlink_to(secret.parent)
    manifest = json.loads((config.output_dir / "index.json").read_text("utf-8"))
    manifest["feeds"][0]["files"]["linked/secret.txt"] = {"changed": iso(T0)}
    (config.output_dir / "index.json").write_text(json.dumps(manifest), "utf-8")
    client = app.test_client()
    for path in ("/feeds/tags/ai.atom.xml", "/feeds/linked/secret.txt"):
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            resp = client.get(path, headers=headers)
            assert resp.status_code == 404
            assert SECRET not in resp.data


def test_a_symlink_that_stays_inside_output_dir_is_served(
    config: Config, output: Output, app: Flask
) -> None:
    link = config.output_dir / "tags" / "ai.atom.xml"
    target = config.output_dir / "tags" / "ai.rss.xml"
    link.unlink()
    link.symlink_to(target)
    resp = app.test_client().get("/feeds/tags/ai.atom.xml")
    assert resp.status_code == 200 and resp.data == target.read_bytes()


# -- new builds are picked up ------------------------------------------------------------------


def test_a_new_build_is_picked_up_without_a_new_app(
    client: FlaskClient, output: Output, config: Config
) -> None:
    old = client.get(ja_url())
    assert client.get("/feeds/tags/fresh.atom.xml").status_code == 404

    for feed in output.feeds:
        if feed.slug == JA:
            feed.marker = "v2"
            feed.changed = T0 + timedelta(hours=1)
    output.feeds = [f for f in output.feeds if f.slug != "ai"]
    output.feeds.append(Feed("tag", "Fresh", "fresh", changed=T0 + timedelta(hours=1)))
    output.gone = {**output.gone, "tags/ai.atom.xml": iso(NOW)}
    output.generated = T0 + timedelta(hours=1)
    for suffix in (".atom.xml", ".rss.xml", ".json"):
        (config.output_dir / "tags" / f"ai{suffix}").unlink()
    output.publish()

    new = client.get(ja_url(), headers={"If-None-Match": old.headers["ETag"]})
    assert new.status_code == 200
    assert b"v2" in new.data
    assert new.headers["ETag"] != old.headers["ETag"]
    assert new.headers["Last-Modified"] == http_date(T0 + timedelta(hours=1))
    assert client.get("/feeds/tags/fresh.atom.xml").status_code == 200
    assert client.get("/feeds/tags/ai.atom.xml").status_code == 410
    assert b"Fresh" in client.get("/").data


def test_an_unparseable_manifest_keeps_the_previous_one_in_service(
    client: FlaskClient, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/feeds/all.atom.xml").status_code == 200
    (config.output_dir / "index.json").write_text("{ not json", "utf-8")
    with caplog.at_level(logging.ERROR, logger="feedsmith.web"):
        assert client.get("/feeds/all.atom.xml").status_code == 200
        assert client.get("/feeds/all.rss.xml").status_code == 200
    assert len([r for r in caplog.records if "index.json" in r.getMessage()]) == 1


def test_cache_eviction_keeps_serving_correct_bytes(config: Config, output: Output) -> None:
    app = create_app(config, FeedStore.for_config(config, cache_bytes=3000))
    client = app.test_client()
    for _ in range(2):
        for feed in output.feeds:
            for fmt in feed.formats:
                resp = client.get("/feeds/" + quote(feed.rel(fmt)))
                assert resp.data == feed.content(fmt)
    store = app.extensions["feedsmith"]["store"]
    assert store._bodies.bytes <= 3000


def test_etag_matching_helper() -> None:
    tags = ('"abc"', '"def"')
    assert etag_matches('"abc"', tags)
    assert etag_matches('W/"def"', tags)
    assert etag_matches(' "zzz" ,W/"abc"', tags)
    assert etag_matches("*", tags)
    assert not etag_matches('"ab"', tags)
    assert not etag_matches('"abc-gzip"', tags)
    assert not etag_matches(",", tags)


# -- the HTML page ------------------------------------------------------------------------------


def test_index_page_lists_feeds_by_kind_with_counts_links_and_opml(
    client: FlaskClient, config: Config
) -> None:
    record_build(
        config.state_dir, started=NOW, finished=NOW + timedelta(seconds=2), ok=True,
        seconds=2.0, posts=3, feeds=5, problems=0,
    )  # fmt: skip
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    html = resp.get_data(as_text=True)
    assert html.index("Site") < html.index("Categories") < html.index("Tags")
    assert JA in html and "技術動向" in html
    assert f'href="/feeds/tags/{quote(JA)}.atom.xml"' in html
    assert 'href="/feeds/index.opml"' in html
    assert '<td class="num">3</td>' in html
    assert "2025-11-16" in html  # last update
    assert "2025-11-17 08:00:02" in html and "succeeded" in html  # last build


def test_index_page_has_autodiscovery_links_for_the_site_feeds(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    head = html[: html.index("</head>")]
    for kind, href in (
        ("application/atom+xml", "/feeds/all.atom.xml"),
        ("application/rss+xml", "/feeds/all.rss.xml"),
        ("application/feed+json", "/feeds/all.json"),
    ):
        assert f'<link rel="alternate" type="{kind}"' in head
        assert f'href="{href}"' in head
    assert head.count('rel="alternate"') == 3  # only the site feeds, not every tag


def test_index_page_escapes_names_and_has_a_strict_csp(client: FlaskClient) -> None:
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    assert " style=" not in html and "<style" not in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    css = client.get("/static/feedsmith.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_index_page_shows_a_failed_last_build(client: FlaskClient, config: Config) -> None:
    record_build(config.state_dir, started=T0, finished=T0, ok=True, seconds=1.0)
    record_build(
        config.state_dir, started=NOW, finished=NOW, ok=False, seconds=0.5,
        error="scan: FileNotFoundError: posts_dir not found: /srv/<secret>/posts",
    )  # fmt: skip
    html = client.get("/").get_data(as_text=True)
    assert "failed" in html and "the posts folder is missing" in html
    assert "/srv/" not in html and "secret" not in html  # the detail is for the log only


# -- health, metrics, rebuild ---------------------------------------------------------------------


def test_healthz_is_503_until_a_build_succeeded_then_200(
    client: FlaskClient, config: Config
) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.headers["Retry-After"]
    assert resp.get_json()["status"] == "starting"

    record_build(config.state_dir, started=T0, finished=T0, ok=False, seconds=0.1, error="boom")
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["last_build"]["ok"] is False

    record_build(
        config.state_dir, started=NOW, finished=NOW + timedelta(seconds=1.5), ok=True,
        seconds=1.5, posts=3, feeds=5, problems=1,
    )  # fmt: skip
    body = client.get("/healthz").get_json()
    assert client.get("/healthz").status_code == 200
    assert body["status"] == "ok"
    assert body["last_build"] == {
        "started": "2025-11-17T08:00:00Z",
        "finished": "2025-11-17T08:00:01.500000Z",
        "ok": True,
        "seconds": 1.5,
        "error": None,
    }
    assert body["last_success"] == "2025-11-17T08:00:01.500000Z"
    assert body["counts"] == {"posts": 3, "feeds": 5, "problems": 1}

    later = NOW + timedelta(minutes=5)
    record_build(
        config.state_dir, started=later, finished=later, ok=False, seconds=0.2, error="disk full"
    )
    resp = client.get("/healthz")
    assert resp.status_code == 200  # last good feeds are still served
    body = resp.get_json()
    assert body["status"] == "degraded"
    assert body["last_build"]["error"] == {"kind": "disk_full", "message": "the disk is full"}
    assert body["counts"]["posts"] == 3
    assert resp.headers["Cache-Control"] == "no-store"


def test_metrics_count_requests_by_status_and_report_builds(
    client: FlaskClient, config: Config
) -> None:
    record_build(config.state_dir, started=T0, finished=T0, ok=False, seconds=0.5, error="x")
    record_build(
        config.state_dir, started=NOW, finished=NOW, ok=True, seconds=2.5,
        posts=7, feeds=9, problems=2,
    )  # fmt: skip
    for _ in range(3):
        client.get("/feeds/all.atom.xml")
    client.get("/feeds/missing.xml")
    client.head("/feeds/all.atom.xml")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    assert 'feedsmith_http_requests_total{method="GET",status="200"} 3.0' in text
    assert 'feedsmith_http_requests_total{method="GET",status="404"} 1.0' in text
    assert 'feedsmith_http_requests_total{method="HEAD",status="200"} 1.0' in text
    assert 'feedsmith_builds_total{result="ok"} 1.0' in text
    assert 'feedsmith_builds_total{result="failed"} 1.0' in text
    assert "feedsmith_last_build_duration_seconds 2.5" in text
    assert "feedsmith_posts 7.0" in text
    assert "feedsmith_feeds 9.0" in text
    assert "feedsmith_problems 2.0" in text


TOKEN = "s3cret-token"


def test_rebuild_is_404_when_no_token_is_configured(client: FlaskClient, config: Config) -> None:
    resp = client.post("/-/rebuild", headers={"Authorization": "Bearer anything"})
    assert resp.status_code == 404
    assert not (config.state_dir / REBUILD_REQUEST_FILE).exists()


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN],
)
def test_rebuild_with_a_missing_or_wrong_token_is_401(
    client: FlaskClient,
    config: Config,
    monkeypatch: pytest.MonkeyPatch,
    authorization: str | None,
) -> None:
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", TOKEN)
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = client.post("/-/rebuild", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert not (config.state_dir / REBUILD_REQUEST_FILE).exists()


def test_rebuild_with_the_token_writes_the_request_file_and_answers_202(
    client: FlaskClient, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", TOKEN)
    resp = client.post("/-/rebuild", headers={"Authorization": f"bearer  {TOKEN}"})
    assert resp.status_code == 202
    request_file = config.state_dir / REBUILD_REQUEST_FILE
    assert json.loads(request_file.read_text("utf-8")) == {"requested": "2025-11-17T08:00:00Z"}
    assert [p.name for p in config.state_dir.iterdir() if p.name.endswith(".tmp")] == []
    assert client.get("/-/rebuild").status_code == 405


def test_request_file_name_is_the_one_the_builder_watches() -> None:
    schedule = pytest.importorskip("feedsmith.serve.schedule")
    assert schedule.REQUEST_FILE == REBUILD_REQUEST_FILE


# -- every response -------------------------------------------------------------------------------


def test_every_response_has_nosniff(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", TOKEN)
    etag = client.get("/feeds/all.atom.xml").headers["ETag"]
    responses = [
        client.get("/"),
        client.get("/healthz"),
        client.get("/metrics"),
        client.get("/feeds/all.atom.xml"),
        client.get("/feeds/all.atom.xml", headers={"If-None-Match": etag}),
        client.get("/feeds/nope"),
        client.get("/feeds/tags/old.atom.xml"),
        client.post("/feeds/all.atom.xml"),
        client.get("/nope"),
        client.post("/-/rebuild"),
        client.get("/static/feedsmith.css"),
    ]
    for resp in responses:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.status


def test_one_access_log_line_per_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="feedsmith.access"):
        # A forged newline can only come from a raw server environ (clients cannot send one).
        client.get(ja_url(), environ_overrides={"HTTP_USER_AGENT": 'Reader/1.0 "quoted"\nforged'})
        client.get("/nope?x=1")
        client.head("/feeds/all.atom.xml")
    lines = [r.getMessage() for r in caplog.records if r.name == "feedsmith.access"]
    assert len(lines) == 3
    assert all("\n" not in line for line in lines)
    method, path, status, size, duration, agent = lines[0].split(" ", 5)
    assert (method, path, status) == ("GET", "/feeds/tags/" + quote(JA) + ".atom.xml", "200")
    assert int(size) > 0 and duration.endswith("ms")
    assert json.loads(agent) == 'Reader/1.0 "quoted"\nforged'
    assert lines[1].startswith("GET /nope?x=1 404 ")
    assert lines[2].startswith("HEAD /feeds/all.atom.xml 200 0 ")


def test_access_log_never_carries_raw_controls_from_a_client(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Header bytes arrive as latin-1: 0x9b is a one-byte CSI, 0x85 a NEL, 0x1b an ESC.
    agent = "Evil/1\x1b[2J\x9b31m\x85\x7fé\\"
    with caplog.at_level(logging.INFO, logger="feedsmith.access"):
        client.get("/feeds/all.atom.xml", environ_overrides={"HTTP_USER_AGENT": agent})
        client.open("/nope", method="G\x1bET\x9b")
    lines = [r.getMessage() for r in caplog.records if r.name == "feedsmith.access"]
    assert len(lines) == 2
    for line in lines:
        assert line.isprintable(), line
    assert json.loads(lines[0].split(" ", 5)[5]) == agent
    assert lines[0].endswith('"Evil/1\\u001b[2J\\u009b31m\\u0085\\u007fé\\\\"')
    assert lines[1].startswith("G\\x1bET\\x9b /nope ")


def test_index_page_never_links_to_a_non_feed_url_from_the_manifest(
    config: Config, output: Output, app: Flask
) -> None:
    manifest = json.loads((config.output_dir / "index.json").read_text("utf-8"))
    ai = next(f for f in manifest["feeds"] if f["slug"] == "ai")
    ai["urls"] = {"atom": "javascript:alert(1)", "rss": "data:text/html,x"}
    (config.output_dir / "index.json").write_text(json.dumps(manifest), "utf-8")
    html = app.test_client().get("/").get_data(as_text=True)
    assert "javascript:" not in html and "data:" not in html
    # The links are derived from the file list instead.
    for suffix in (".atom.xml", ".rss.xml", ".json"):
        assert f'href="/feeds/tags/ai{suffix}"' in html


def test_index_page_follows_new_build_results(client: FlaskClient, config: Config) -> None:
    assert "No build has been recorded yet" in client.get("/").get_data(as_text=True)
    record_build(config.state_dir, started=NOW, finished=NOW, ok=False, seconds=0.5, error="oops")
    html = client.get("/").get_data(as_text=True)
    assert "failed" in html and "the build failed" in html and "oops" not in html


def test_create_app_from_env_reads_the_config_path(
    config: Config, output: Output, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedsmith.serve.app import create_app_from_env

    monkeypatch.setenv("FEEDSMITH_CONFIG", str(config.path))
    app = create_app_from_env()
    assert app.test_client().get("/feeds/all.atom.xml").status_code == 200
    monkeypatch.delenv("FEEDSMITH_CONFIG")
    with pytest.raises(RuntimeError, match="FEEDSMITH_CONFIG"):
        create_app_from_env()


def test_an_unexpected_error_on_a_feed_is_a_logged_500(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Any, listed: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(FeedStore, "body", broken)
    with caplog.at_level(logging.INFO):
        resp = client.get("/feeds/all.atom.xml")
    assert resp.status_code == 500 and b"disk on fire" not in resp.data
    assert "disk on fire" in caplog.text
    assert any(r.name == "feedsmith.access" and " 500 " in r.getMessage() for r in caplog.records)
