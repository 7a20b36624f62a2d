"""``feed.archive_storage: plain``: archive pages as plain files plus their ``.gz`` twin, for
hosts that can neither send a ``.gz`` for a plain URL nor decompress one (GitHub Pages)."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
import pytest

from feedsmith.cli import main
from feedsmith.core.config import ConfigError
from feedsmith.pipeline import build_site
from feedsmith.pipeline.early import MEMO_FILE, early_build
from feedsmith.pipeline.memo import FastPath
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
POSTS = 53  # pages of 5: the site feed has 10 archive pages, "odd" 5


@pytest.fixture
def blog(site: Any) -> Any:
    for n in range(1, POSTS + 1):
        when = (START + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tag = "even" if n % 2 == 0 else "odd"
        site.write_post(
            f"p{n:03d}.md",
            f"---\ntitle: Post {n}\ndate: {when}\ntags: [{tag}]\n---\n\nBody {n}.\n",
            dedent=False,
        )
    return site


def use(site: Any, storage: str | None) -> None:
    feed: dict[str, Any] = {"max_entries": 10, "archive_page_size": 5}
    if storage is not None:
        feed["archive_storage"] = storage
    site.settings["feed"] = feed


def plain_file(site: Any, url: str) -> Path:
    """What a static host serves for ``url``: the file of that name, nothing else."""
    path = unquote(urlsplit(url).path)
    assert path.startswith("/feeds/"), url
    found = site.output_dir / path[len("/feeds/") :]
    assert found.is_file(), f"{url}: no plain file"
    return found


def walk(site: Any, rel: str) -> list[str]:
    """Entry ids from the subscription document back along prev-archive (next_url in JSON
    Feed), reading plain files only, as GitHub Pages would serve them."""
    ids: list[str] = []
    url: str | None = "/feeds/" + rel
    seen: set[str] = set()
    while url is not None:
        assert url not in seen
        seen.add(url)
        raw = plain_file(site, url).read_bytes()
        if rel.endswith(".json"):
            doc = json.loads(raw)
            ids += [item["id"] for item in doc["items"]]
            url = doc.get("next_url")
        else:
            parsed = feedparser.parse(raw)
            assert not parsed.bozo, parsed.bozo_exception
            ids += [e.id for e in parsed.entries]
            prev = [ln.href for ln in parsed.feed.get("links", []) if ln.rel == "prev-archive"]
            url = prev[0] if prev else None
    return ids


def owned_files(site: Any) -> set[str]:
    return {
        str(p.relative_to(site.output_dir))
        for p in site.output_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


@pytest.mark.parametrize("rel", ["all.atom.xml", "all.rss.xml", "all.json", "tags/odd.atom.xml"])
def test_plain_storage_makes_every_archive_page_a_plain_static_file(blog: Any, rel: str) -> None:
    use(blog, "plain")
    build_site(blog.config(), T1)
    ids = walk(blog, rel)
    expected = POSTS if rel.startswith("all") else (POSTS + 1) // 2
    assert len(set(ids)) == expected  # the subscription document overlaps the newest page


def test_plain_pages_keep_their_gz_twin_and_the_manifest_lists_no_gz_bytes(blog: Any) -> None:
    use(blog, "plain")
    build_site(blog.config(), T1)
    page = blog.output_dir / "archive/all/3.atom.xml"
    assert gzip.decompress(page.with_name(page.name + ".gz").read_bytes()) == page.read_bytes()
    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    (site_feed,) = [f for f in manifest["feeds"] if f["kind"] == "all"]
    listed = site_feed["archive"]["files"]
    assert "archive/all/3.atom.xml" in listed
    assert all("gz_bytes" not in rec for rec in listed.values())


def test_switching_gzip_plain_gzip_leaves_exactly_the_files_of_each_storage(blog: Any) -> None:
    use(blog, None)
    build_site(blog.config(), T1)
    gzip_tree = owned_files(blog)
    archive_gz = {p for p in gzip_tree if p.startswith("archive/")}
    assert archive_gz and all(p.endswith(".gz") for p in archive_gz)
    plain_copies = {p[:-3] for p in archive_gz}

    use(blog, "plain")
    build_site(blog.config(), T1 + timedelta(minutes=1))
    assert owned_files(blog) == gzip_tree | plain_copies
    for rel in plain_copies:
        path = blog.output_dir / rel
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == path.read_bytes()

    use(blog, "gzip")
    build_site(blog.config(), T1 + timedelta(minutes=2))
    assert owned_files(blog) == gzip_tree


def test_a_plain_page_deleted_by_hand_is_written_again_by_the_next_build(blog: Any) -> None:
    use(blog, "plain")
    build_site(blog.config(), T1)
    page = blog.output_dir / "archive/tags/odd/2.rss.xml"
    before = page.read_bytes()
    page.unlink()
    build_site(blog.config(), T1 + timedelta(minutes=1))
    assert page.read_bytes() == before


def test_serve_answers_a_plain_archive_page_with_and_without_gzip(blog: Any) -> None:
    use(blog, "plain")
    build_site(blog.config(), T1)
    config = blog.config()
    client = create_app(config, FeedStore.for_config(config), clock=lambda: T1).test_client()
    url = "/feeds/archive/all/3.atom.xml"
    plain = client.get(url)
    assert plain.status_code == 200
    assert plain.headers.get("Content-Encoding") is None
    assert plain.data == (blog.output_dir / "archive/all/3.atom.xml").read_bytes()
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    again = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("value", ["zip", "PLAIN", 1, True, ["plain"]])
def test_a_bad_archive_storage_is_a_config_error_naming_the_key(site: Any, value: Any) -> None:
    site.settings["feed"] = {"archive_storage": value}
    with pytest.raises(ConfigError, match=r"feed\.archive_storage") as caught:
        site.config()
    assert "config" in str(caught.value)


# -- the no-change answers of a new process (feedsmith.pipeline.early and .memo) ----------------

OLD = 1_600_000_000 * 10**9  # posts as old as real ones: a fresh stat is "racy", never answered


@pytest.fixture
def built_plain(blog: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    for n, path in enumerate(sorted(blog.posts_dir.iterdir())):
        os.utime(path, ns=(OLD + n, OLD + n))
    use(blog, "plain")
    blog.config()
    monkeypatch.chdir(blog.root)
    assert main(["build", "--no-progress", "-c", "config.yaml"]) == 0
    assert early_build(["build", "-c", "config.yaml"]) == 0  # the early answer is live
    capsys.readouterr()
    return blog


@pytest.mark.parametrize("how", ["delete", "edit"])
@pytest.mark.parametrize("argv", [["build"], ["build", "-v"]], ids=["early", "memo"])
def test_a_plain_page_changed_by_hand_is_noticed_by_a_new_process(
    built_plain: Any, how: str, argv: list[str], capsys: Any
) -> None:
    """``build`` is answered by the early record, ``build -v`` by the memo (the early reader
    declines ``-v``); neither may call the tree unchanged."""
    page = built_plain.output_dir / "archive/tags/odd/2.rss.xml"
    before = page.read_bytes()
    if how == "delete":
        page.unlink()
    else:
        page.write_bytes(before.replace(b"Post", b"Pots"))
    assert early_build(["build", "-c", "config.yaml"]) is None
    assert main([*argv, "--no-progress", "-c", "config.yaml"]) == 0
    assert "nothing changed" not in capsys.readouterr().err
    assert page.read_bytes() == before
    assert early_build(["build", "-c", "config.yaml"]) == 0  # and the next one is early again


def test_a_memo_without_its_archive_storage_goes_the_full_way(built_plain: Any) -> None:
    memo_path = built_plain.root / ".feedsmith" / MEMO_FILE
    memo = json.loads(memo_path.read_bytes())
    assert memo["storage"] == "plain"
    del memo["storage"]
    memo_path.write_text(json.dumps(memo), "utf-8")
    assert early_build(["build", "-c", "config.yaml"]) is None
    config = built_plain.config()
    fast = FastPath(config, config.fingerprint(), config.state_dir / "state.json", persist=True)
    assert fast.load() is None
