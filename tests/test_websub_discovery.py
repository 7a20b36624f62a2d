"""WebSub discovery (§4): hubs and topic in every subscription document and its Link header.

Real builds into a tmp dir, then the documents parsed as XML/JSON and served by the Flask app;
the byte-identity test pins that a site without hubs is exactly what it was before WebSub.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from feedsmith.config import load_config
from feedsmith.core.config import ConfigError
from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from published import read_published, stored_pages

NOW = datetime(2025, 12, 1, tzinfo=UTC)
HUBS = ["https://hub.example.net/", "https://pubsubhubbub.appspot.com/"]
ATOM = "{http://www.w3.org/2005/Atom}"
JA = "最新ニュース"


def _posts(site: Any, count: int = 5) -> None:
    for day in range(1, count + 1):
        site.write_post(
            f"2025-11-{day:02d}-p{day}.md",
            f"---\ntitle: Post {day}\ntags: [{JA}, python]\ncategories: [tech]\n---\nBody {day}.\n",
        )


def _build(site: Any, **overrides: Any) -> dict[str, bytes]:
    config = site.config(**overrides)
    report = build_site(config, NOW)
    assert report.ok
    out = site.output_dir
    files = {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix != ".gz"
    }
    # Archive pages are stored only as their .gz: read as a reader gets them.
    files.update(
        (str(p.relative_to(out)), read_published(p)) for p in stored_pages(out / "archive")
    )
    return files


def _manifest(site: Any) -> dict[str, Any]:
    return json.loads((site.output_dir / "index.json").read_bytes())


def _links(doc: bytes, rel: str) -> list[str]:
    root = etree.fromstring(doc)
    return [el.get("href") for el in root.iter(f"{ATOM}link") if el.get("rel") == rel]


def test_without_hubs_every_published_byte_is_what_it_was(site: Any) -> None:
    _posts(site)
    paging = {"max_entries": 2, "archive_page_size": 2}
    before = _build(site, feed=paging)
    shutil.rmtree(site.output_dir)
    shutil.rmtree(site.root / ".feedsmith")
    after = _build(site, feed=paging, websub={"hubs": [], "builtin": False})
    assert before == after
    assert b'rel="hub"' not in b"".join(after.values())


def test_the_fingerprint_ignores_websub_until_a_hub_is_advertised(site: Any) -> None:
    base = site.config().fingerprint()
    assert site.config(websub={"allow_private_callbacks": True}).fingerprint() == base
    assert site.config(websub={"hubs": HUBS}).fingerprint() != base


@pytest.mark.parametrize("builtin", [False, True])
def test_every_subscription_document_advertises_its_hubs_and_self(site: Any, builtin: bool) -> None:
    _posts(site)
    files = _build(
        site,
        feed={"max_entries": 2, "archive_page_size": 2},
        websub={"hubs": HUBS, "builtin": builtin},
    )
    config = site.config(websub={"hubs": HUBS, "builtin": builtin})
    hubs = ([f"{config.site.url}/websub"] if builtin else []) + HUBS
    feeds = _manifest(site)["feeds"]
    assert any(f["slug"] == JA for f in feeds)
    topics = 0
    for feed in feeds:
        for rel in feed["files"]:
            topics += 1
            doc = files[rel]
            if rel.endswith(".json"):
                data = json.loads(doc)
                assert data["hubs"] == [{"type": "WebSub", "url": h} for h in hubs]
                assert data["feed_url"] == feed_url(config, rel)
            else:  # Atom <link>, RSS <atom:link>
                assert _links(doc, "hub") == hubs
                assert _links(doc, "self") == [feed_url(config, rel)]
        for rel in feed.get("archive", {}).get("files", {}):
            assert b"hub" not in files[rel].replace(b"github", b""), rel  # not a topic
    assert topics == len(feeds) * 3


def test_feed_responses_carry_the_link_header_and_archives_do_not(site: Any) -> None:
    _posts(site)
    settings = {"feed": {"max_entries": 2, "archive_page_size": 2}, "websub": {"hubs": HUBS}}
    _build(site, **settings)
    config = site.config(**settings)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    rel = f"tags/{JA}.atom.xml"
    path = "/feeds/" + rel
    expected = ", ".join(
        [*(f'<{h}>; rel="hub"' for h in HUBS), f'<{feed_url(config, rel)}>; rel="self"']
    )
    ok = client.get(path)
    assert ok.status_code == 200
    assert ok.headers["Link"] == expected
    assert client.head(path).headers["Link"] == expected
    etag = ok.headers["ETag"]
    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.headers["Link"] == expected
    page = _manifest(site)["feeds"][0]["archive"]["files"]
    archive_rel = next(iter(page))
    archived = client.get("/feeds/" + archive_rel)
    assert archived.status_code == 200
    assert "Link" not in archived.headers
    assert "Link" not in client.get("/feeds/index.json").headers


def test_without_hubs_feed_responses_have_no_link_header(site: Any) -> None:
    _posts(site, 2)
    _build(site)
    config = site.config()
    client = create_app(config, FeedStore.for_config(config)).test_client()
    assert "Link" not in client.get("/feeds/all.atom.xml").headers


@pytest.mark.parametrize(
    ("websub", "key"),
    [
        ({"hub": []}, "websub.hub"),
        ({"hubs": "https://hub.example/"}, "websub.hubs"),
        ({"hubs": ["ftp://hub.example/"]}, "websub.hubs"),
        ({"builtin": "yes"}, "websub.builtin"),
        ({"allow_private_callbacks": 1}, "websub.allow_private_callbacks"),
        ({"lease_seconds": {"default": 10}}, "websub.lease_seconds.default"),
        ({"lease_seconds": {"mn": 10}}, "websub.lease_seconds.mn"),
        ({"lease_seconds": {"min": 7200, "max": 3600}}, "websub.lease_seconds.max"),
        ({"lease_seconds": 5}, "websub.lease_seconds"),
        ([], "websub"),
    ],
)
def test_bad_websub_settings_name_the_key_and_file(site: Any, websub: Any, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        site.config(websub=websub)
    assert err.value.key == key
    assert str(site.config_path) in str(err.value)


def test_websub_defaults(site: Any, tmp_path: Path) -> None:
    ws = site.config().websub
    assert (ws.hubs, ws.builtin, ws.allow_private_callbacks) == ((), False, False)
    assert (ws.lease_seconds.default, ws.lease_seconds.min, ws.lease_seconds.max) == (
        864000,
        3600,
        2592000,
    )
    assert load_config(site.config_path).hub_urls == ()


def test_feeds_advertising_hubs_pass_the_validator_rules(site: Any) -> None:
    from validity import check_file

    _posts(site)
    files = _build(
        site,
        feed={"max_entries": 2, "archive_page_size": 2},
        websub={"hubs": HUBS, "builtin": True},
    )
    problems = {rel: found for rel, data in files.items() if (found := check_file(rel, data))}
    assert problems == {}
