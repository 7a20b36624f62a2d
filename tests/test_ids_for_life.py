"""Ids for life (:mod:`feedsmith.core.identity`): once published, an entry's id stays.

Real builds through ``build_site`` / ``SiteBuilder`` / the CLI; the feeds are read back with
feedparser (Atom, RSS) and as JSON Feed, so "no new entry" is what a reader would see.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.core.identity import parse_map
from feedsmith.core.layout import ID_MAP
from feedsmith.core.posts import parse_post
from feedsmith.pipeline import SiteBuilder, build_site
from feedsmith.publish.sinks import configured_sinks
from s3_fixtures import BUCKET, Moto

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
T3 = datetime(2025, 12, 3, 9, 0, tzinfo=UTC)
T4 = datetime(2025, 12, 4, 9, 0, tzinfo=UTC)
HELLO = "tag:blog.example.com,2025-09-01:hello-feedsmith"
NOTES = "tag:blog.example.com,2025-11-03:notes"


def text(title: str, body: str, **meta: Any) -> str:
    lines = [f"title: {json.dumps(title)}", *(f"{k}: {json.dumps(v)}" for k, v in meta.items())]
    return "---\n" + "\n".join(lines) + f"\n---\n\n{body}\n"


def write_blog(site: Any) -> None:
    site.write_post("2025-09-01-hello-feedsmith.md", text("Hello", "First post.", tags=["a"]))
    site.write_post("2025-11-03-notes.md", text("Notes", "Some notes.", tags=["b"]))
    site.write_post("2025-10-10-other.md", text("Other", "Another post."))


def entry_ids(site: Any) -> dict[str, set[str]]:
    """The site feed's entry ids as each format's reader sees them."""
    out = site.output_dir
    atom = feedparser.parse((out / "all.atom.xml").read_bytes())
    rss = feedparser.parse((out / "all.rss.xml").read_bytes())
    assert atom.bozo == 0 and rss.bozo == 0
    items = json.loads((out / "all.json").read_bytes())["items"]
    return {
        "atom": {e.id for e in atom.entries},
        "rss": {e.id for e in rss.entries},
        "json": {item["id"] for item in items},
    }


def atom_entries(site: Any) -> dict[str, Any]:
    atom = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())
    return {e.title: e for e in atom.entries}


def assert_same_ids(site: Any, before: dict[str, set[str]]) -> None:
    after = entry_ids(site)
    assert after == before
    assert after["atom"] == after["rss"] == after["json"]


def rename(site: Any, old: str, new: str) -> None:
    target = site.posts_dir / new
    target.parent.mkdir(parents=True, exist_ok=True)
    (site.posts_dir / old).rename(target)


def edit(site: Any, rel: str, old: str, new: str) -> None:
    path = site.posts_dir / rel
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")


CHANGES = {
    "rename": lambda s: rename(s, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md"),
    "move to a subfolder": lambda s: rename(
        s, "2025-09-01-hello-feedsmith.md", "2025/2025-09-01-hello-feedsmith.md"
    ),
    "date fix in the file name": lambda s: rename(s, "2025-11-03-notes.md", "2025-11-04-notes.md"),
    "date fix in the front matter": lambda s: edit(
        s, "2025-11-03-notes.md", 'title: "Notes"', 'title: "Notes"\ndate: 2025-11-04'
    ),
    "title fix": lambda s: edit(s, "2025-11-03-notes.md", '"Notes"', '"Notes, fixed"'),
    "permalink change": lambda s: edit(
        s, "2025-11-03-notes.md", 'title: "Notes"', 'title: "Notes"\npermalink: /n/notes/'
    ),
    "slug change": lambda s: edit(
        s, "2025-11-03-notes.md", 'title: "Notes"', 'title: "Notes"\nslug: my-notes'
    ),
    "rename and edit at once": lambda s: (
        rename(s, "2025-11-03-notes.md", "2025-11-04-notes.md"),
        edit(s, "2025-11-04-notes.md", "Some notes.", "Some notes, edited."),
    ),
    "rename to another date and slug, same content": lambda s: rename(
        s, "2025-09-01-hello-feedsmith.md", "drafts-done/2025-09-02-welcome.md"
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_published_id_survives(site: Any, change: str) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    before = entry_ids(site)
    assert HELLO in before["atom"] and NOTES in before["atom"]
    entries = atom_entries(site)
    CHANGES[change](site)
    report = build_site(config, T2)
    assert report.posts == 3 and report.skipped == 0
    assert_same_ids(site, before)
    # Change tracking follows the held id: the entry is never "first seen" again. Its
    # ``updated`` stays unless what it shows changed (title, text, link), then it is now.
    for title, entry in atom_entries(site).items():
        was = entries.get(title) or entries["Notes"]
        edited = change == "rename and edit at once" and title == "Notes"
        if entry.link == was.link and title in entries and not edited:
            assert entry.updated == was.updated, title
        else:
            assert entry.updated == "2025-12-02T09:00:00Z", title
    # and the id stays through one more build, with nothing changed
    build_site(config, T3)
    assert_same_ids(site, before)


def test_the_service_builder_keeps_held_ids_across_incremental_builds(site: Any) -> None:
    write_blog(site)
    builder = SiteBuilder(site.config())
    try:
        builder.build(T1)
        before = entry_ids(site)
        rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
        builder.build(T2)
        assert_same_ids(site, before)
        edit(site, "2025-10-10-other.md", "Another post.", "Another post, edited.")
        builder.build(T3)
        assert_same_ids(site, before)
        assert atom_entries(site)["Hello"].id == HELLO
    finally:
        builder.close()
    state = json.loads((site.root / ".feedsmith" / "state.json").read_bytes())
    assert HELLO in state["entries"]  # change tracking is keyed by the held id


def test_a_broken_file_keeps_publishing_its_last_version_under_the_held_id(site: Any) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    before = entry_ids(site)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    build_site(config, T2)
    site.write_post("2025-09-01-hello-world.md", "---\ntitle: [unclosed\n---\nx\n", dedent=False)
    report = build_site(config, T3)
    assert any("last valid version" in p.reason for p in report.problems)
    assert_same_ids(site, before)


def test_two_posts_with_identical_bodies_stay_two_posts(site: Any) -> None:
    body = text("Same", "Exactly the same words.", tags=["x"])
    site.write_post("2025-09-01-one.md", body)
    site.write_post("2025-09-05-two.md", body)
    config = site.config()
    build_site(config, T1)
    first = entry_ids(site)
    assert len(first["atom"]) == 2
    # both still there, one edited: still two posts, each with its own id
    edit(site, "2025-09-05-two.md", "Exactly", "Nearly")
    build_site(config, T2)
    assert_same_ids(site, first)
    # and renaming one of the twins keeps its id (its path is gone, its slug/date is unique)
    rename(site, "2025-09-01-one.md", "2025-09-01-first.md")
    build_site(config, T3)
    assert_same_ids(site, first)


def test_two_renames_at_once_and_swapped_contents(site: Any) -> None:
    site.write_post("2025-09-01-a.md", text("Alpha", "Alpha text."))
    site.write_post("2025-09-02-b.md", text("Beta", "Beta text."))
    config = site.config()
    build_site(config, T1)
    ids = {t: e.id for t, e in atom_entries(site).items()}
    assert ids == {
        "Alpha": "tag:blog.example.com,2025-09-01:a",
        "Beta": "tag:blog.example.com,2025-09-02:b",
    }
    # two renames in one build
    rename(site, "2025-09-01-a.md", "2025-09-01-alpha.md")
    rename(site, "2025-09-02-b.md", "2025-09-02-beta.md")
    build_site(config, T2)
    assert {t: e.id for t, e in atom_entries(site).items()} == ids
    # the two files swap their contents: each id follows its post, not the file name
    a, b = site.posts_dir / "2025-09-01-alpha.md", site.posts_dir / "2025-09-02-beta.md"
    a_text, b_text = a.read_text("utf-8"), b.read_text("utf-8")
    a.write_text(b_text, "utf-8")
    b.write_text(a_text, "utf-8")
    build_site(config, T3)
    assert {t: e.id for t, e in atom_entries(site).items()} == ids


def test_a_file_that_takes_a_deleted_posts_text_keeps_its_own_id(site: Any) -> None:
    """Conservative: content moves an id only to a new file or along a swap, never away
    from a file that still is a published post's."""
    site.write_post("2025-09-01-a.md", text("Alpha", "Alpha text."))
    site.write_post("2025-09-02-b.md", text("Beta", "Beta text."))
    config = site.config()
    build_site(config, T1)
    b = site.posts_dir / "2025-09-02-b.md"
    (site.posts_dir / "2025-09-01-a.md").write_text(b.read_text("utf-8"), "utf-8")
    b.unlink()
    build_site(config, T2)
    assert {t: e.id for t, e in atom_entries(site).items()} == {
        "Beta": "tag:blog.example.com,2025-09-01:a"
    }


def test_ambiguous_renames_get_new_ids_reported_as_info(site: Any) -> None:
    site.write_post("2025-09-01-a.md", text("A", "a text"))
    site.write_post("2025-09-01-b.md", text("B", "b text"))
    config = site.config()
    build_site(config, T1)
    # both old files gone; one new file of the same day, other text: it could be either
    (site.posts_dir / "2025-09-01-a.md").unlink()
    (site.posts_dir / "2025-09-01-b.md").unlink()
    site.write_post("2025-09-01-c.md", text("C", "c text"))
    report = build_site(config, T2)
    assert entry_ids(site)["atom"] == {"tag:blog.example.com,2025-09-01:c"}
    infos = [p for p in report.problems if p.severity == "info" and "ambiguous" in p.reason]
    assert len(infos) == 1 and infos[0].path.endswith("2025-09-01-c.md")
    assert "2025-09-01-a.md" in infos[0].reason and "2025-09-01-b.md" in infos[0].reason


def test_a_reused_name_after_a_deletion_is_a_new_post(site: Any) -> None:
    """Decided: a post deleted (and built without) leaves the map; a later, different post
    under the same name gets the id its own date and slug give, not the deleted one's."""
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    build_site(config, T2)
    assert HELLO in entry_ids(site)["atom"]  # held by hello-world.md
    (site.posts_dir / "2025-09-01-hello-world.md").unlink()
    build_site(config, T3)
    assert HELLO not in entry_ids(site)["atom"]
    site.write_post("2025-09-01-hello-world.md", text("A new post", "Brand new text."))
    build_site(config, T4)
    ids = entry_ids(site)["atom"]
    assert "tag:blog.example.com,2025-09-01:hello-world" in ids and HELLO not in ids


def test_a_new_post_cannot_take_an_id_a_renamed_post_holds(site: Any) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    build_site(config, T2)
    # a new file whose date and slug give the held id: an error for the newcomer only
    site.write_post("2025-09-01-hello-feedsmith.md", text("Imposter", "Different text."))
    report = build_site(config, T3)
    assert report.skipped == 1
    (error,) = [p for p in report.problems if p.severity == "error"]
    assert error.path.endswith("2025-09-01-hello-feedsmith.md")
    assert "held by the post now in" in error.reason and "hello-world.md" in error.reason
    assert atom_entries(site)["Hello"].id == HELLO


def test_a_front_matter_id_wins_over_the_map(site: Any) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    edit(site, "2025-09-01-hello-world.md", 'title: "Hello"', 'title: "Hello"\nid: urn:x:hello')
    build_site(config, T2)
    assert atom_entries(site)["Hello"].id == "urn:x:hello"


def test_moving_the_site_keeps_the_ids(site: Any) -> None:
    write_blog(site)
    build_site(site.config(), T1)
    before = entry_ids(site)
    moved = {**site.settings["site"], "url": "https://new.example.org"}
    build_site(site.config(site=moved), T2)
    assert_same_ids(site, before)
    assert atom_entries(site)["Hello"].link.startswith("https://new.example.org/")


# -- where the map comes from -------------------------------------------------------------------


def test_ids_are_recovered_from_output_dir_when_the_state_is_gone(site: Any) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    before = entry_ids(site)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    build_site(config, T2)
    published = parse_map((site.output_dir / ID_MAP).read_bytes())
    assert published["2025-09-01-hello-world.md"].id == HELLO
    assert published["2025-09-01-hello-world.md"].key is None  # no content keys published
    manifest = json.loads((site.output_dir / "index.json").read_bytes())
    assert ID_MAP in manifest["files"]
    shutil.rmtree(site.root / ".feedsmith")
    rename(site, "2025-11-03-notes.md", "2025-11-04-notes.md")  # and a rename meanwhile
    build_site(config, T3)
    assert_same_ids(site, before)


def test_the_published_map_lists_no_draft_or_future_post(site: Any) -> None:
    write_blog(site)
    site.write_post("2025-09-09-draft.md", text("D", "draft", draft=True))
    site.write_post("2026-01-01-later.md", text("L", "later"))
    build_site(site.config(), T1)
    published = parse_map((site.output_dir / ID_MAP).read_bytes())
    assert sorted(published) == [
        "2025-09-01-hello-feedsmith.md",
        "2025-10-10-other.md",
        "2025-11-03-notes.md",
    ]


def test_ids_are_recovered_from_the_bucket_when_state_and_output_are_gone(
    site: Any, moto: Moto
) -> None:
    write_blog(site)
    config = site.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
    build_site(config, T1, sinks=configured_sinks(config))
    before = entry_ids(site)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    build_site(config, T2, sinks=configured_sinks(config))
    assert_same_ids(site, before)
    # a CI job on a fresh clone: no state, no output, only the bucket
    shutil.rmtree(site.root / ".feedsmith")
    shutil.rmtree(site.output_dir)
    rename(site, "2025-11-03-notes.md", "2025-11-04-notes.md")
    build_site(config, T3, sinks=configured_sinks(config))
    assert_same_ids(site, before)
    obj = moto.client().get_object(Bucket=BUCKET, Key="feeds/" + ID_MAP)
    assert obj["ContentType"] == "application/json"  # not served as a JSON Feed
    assert parse_map(obj["Body"].read())["2025-11-04-notes.md"].id == NOTES


def test_with_neither_state_nor_output_ids_are_generated_as_before(
    site: Any, make_site: Any
) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    shutil.rmtree(site.root / ".feedsmith")
    shutil.rmtree(site.output_dir)
    build_site(config, T2)
    ids = entry_ids(site)["atom"]
    assert "tag:blog.example.com,2025-09-01:hello-world" in ids and HELLO not in ids
    # byte-identical to a site that never had the old name
    fresh = make_site("fresh")
    fresh.settings = site.settings
    shutil.rmtree(fresh.posts_dir)
    shutil.copytree(site.posts_dir, fresh.posts_dir)
    build_site(fresh.config(), T2)
    for name in ("all.atom.xml", "all.rss.xml", "all.json", ID_MAP):
        assert (fresh.output_dir / name).read_bytes() == (site.output_dir / name).read_bytes()


# -- check ----------------------------------------------------------------------------------------


def test_check_warns_for_a_held_id(site: Any, capsys: Any, monkeypatch: Any) -> None:
    write_blog(site)
    config = site.config()
    build_site(config, T1)
    monkeypatch.chdir(site.root)
    assert main(["-c", str(site.config_path), "check"]) == 0
    assert "held" not in capsys.readouterr().out
    rename(site, "2025-09-01-hello-feedsmith.md", "2025-09-01-hello-world.md")
    assert main(["-c", str(site.config_path), "check"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "held" in line]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("posts/2025-09-01-hello-world.md:1: warning: id held at ")
    assert HELLO in line and "tag:blog.example.com,2025-09-01:hello-world" in line
    assert "published from 2025-09-01-hello-feedsmith.md" in line


# -- the id of a fresh build depends on the date and slug only ------------------------------------

_EDITS = st.fixed_dictionaries(
    {},
    optional={
        "title": st.text(min_size=1, max_size=20).filter(str.strip),
        "updated": st.dates().map(lambda d: d.isoformat()),
        "last_modified_at": st.just("2026-01-02 10:00:00 +0900"),
        "tags": st.lists(st.text(min_size=1, max_size=8), max_size=3),
        "categories": st.lists(st.text(min_size=1, max_size=8), max_size=3),
        "excerpt": st.text(max_size=30),
        "author": st.text(min_size=1, max_size=12),
        "image": st.just("/img/a.png"),
        "lang": st.sampled_from(["en", "ja"]),
        "extra_key": st.integers() | st.text(max_size=10),
        "permalink": st.just("/p/:title/"),
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(edits=_EDITS, body=st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=80))
def test_no_front_matter_edit_but_date_and_slug_changes_a_fresh_id(
    site: Any, edits: dict[str, Any], body: str
) -> None:
    config = _config(site)
    meta = {"date": "2025-11-03 10:00:00 +0000", **edits}
    data = ("---\n" + json.dumps(meta, ensure_ascii=False) + "\n---\n" + body).encode()
    outcome = parse_post(data, "2025-11-03-notes.md", "notes.md", config)
    assert outcome.post is not None, outcome.problems
    assert outcome.post.id == NOTES


_CONFIGS: dict[Path, Any] = {}


def _config(site: Any) -> Any:
    if site.root not in _CONFIGS:
        _CONFIGS[site.root] = site.config()
    return _CONFIGS[site.root]
