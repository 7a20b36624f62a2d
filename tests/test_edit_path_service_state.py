"""A running builder's edit touches the state and the id map in proportion to the edit:
``apply_updates`` looks at the posts that are not the last build's objects, the id map's rows
and the "every post at its own record" check are carried over but for the edited post, and an
unchanged state is recognised without reading the file back (a changed one is still written
whole, byte for byte what a full serialisation writes).
Counters, not time; each test also shows the work is done when due."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.identity import dump_map
from feedsmith.core.state import BuildState, UpdateMemo, apply_updates, dumps_state
from feedsmith.pipeline.idbook import IdBook
from feedsmith.pipeline.statefile import StateWriter, load_state
from test_edit_path_lean import NOW, OLD_MTIME, built, write_post
from test_state import PUBLISHED, make_post, reference_apply_updates


def test_an_edit_gives_only_the_edited_post_a_new_entry(site: Any) -> None:
    config, builder = built(site, count=20)
    assert builder._updates.looked == 20  # the first build looks at every post
    for n in range(1, 4):
        write_post(site, 7, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert builder._updates.looked == 1
        state = load_state(config.state_dir / "state.json")
        when = (NOW + timedelta(minutes=n)).isoformat()
        assert [k for k, e in state.entries.items() if e["changed"] == when] == [
            k for k in state.entries if "p7" in k
        ]
    write_post(site, 25, "New.", OLD_MTIME + 5000, title="A new one")
    (site.posts_dir / "2025-11-04-p3.md").unlink()
    builder.build(NOW + timedelta(minutes=9))
    assert builder._updates.looked == 1  # the new post; the deleted one only leaves
    state = load_state(config.state_dir / "state.json")
    assert len(state.entries) == 20
    assert not any("p3" in key for key in state.entries)


#: One step of a running service: edit post i, add post i (a new id), remove post i.
STEPS = st.lists(
    st.tuples(st.sampled_from(["edit", "add", "remove"]), st.integers(0, 11)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_the_few_changed_posts_path_equals_the_whole_pass(steps: list[tuple[str, int]]) -> None:
    """Posts sharing whole seconds, edits dated now, new posts and deletions: each step's
    answer through the memo equals the plain algorithm's over the same posts and state."""

    def post(i: int, text: str) -> Any:
        # dates a second or less apart: new times collide with held seconds
        return dataclasses.replace(
            make_post(
                text, post_id=f"tag:x,2025:/p{i}", date=PUBLISHED + timedelta(seconds=i // 2)
            ),
            source=f"p{i}.md",
        )

    posts = [post(i, f"h{i}") for i in range(8)]
    memo = UpdateMemo()
    state = BuildState()
    now = PUBLISHED + timedelta(seconds=3)
    for n, (op, i) in enumerate(steps):
        ids = {p.id for p in posts}
        if op == "edit" and posts:
            k = i % len(posts)
            posts[k] = dataclasses.replace(posts[k], content_hash=f"e{n}")
        elif op == "add" and f"tag:x,2025:/p{i + 100}" not in ids:
            posts.insert(i % (len(posts) + 1), post(i + 100, f"n{n}"))
        elif op == "remove" and posts:
            del posts[i % len(posts)]
        remember = UpdateMemo()
        got_posts, got = apply_updates(posts, state, now, memo=memo, remember=remember)
        want_posts, want = reference_apply_updates(posts, state, now)
        assert got == want
        assert [vars(p) for p in got_posts] == [vars(p) for p in want_posts]
        assert n == 0 or remember.looked <= 1  # the changed post only, after the first call
        memo, state = remember, BuildState(entries=got)
        now += timedelta(seconds=1)


def test_an_edit_makes_one_id_row_and_checks_one_post(site: Any) -> None:
    config, builder = built(site, count=20)
    assert builder.ids.rows_made == 20
    write_post(site, 7, "Edited 0.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))  # a new builder's first check is whole
    assert builder.ids.own.looked == 20
    for n in range(2, 5):
        made = builder.ids.rows_made
        write_post(site, 7, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert builder.ids.rows_made == made + 1
        assert builder.ids.own.looked <= 2  # the edited post (and last time's moved key)
        assert builder.ids.known() == IdBook(config).known()  # what a new process reads
    published = (config.output_dir / "ids.json").read_bytes()
    fresh = IdBook(config).known()
    assert {rec.id for rec in fresh.values()} == {rec.id for rec in builder.ids.known().values()}
    assert published  # the published copy is still written


def test_a_rename_after_edits_still_keeps_the_published_id(site: Any) -> None:
    """The carried-over check gives way to the whole matching when a post moves."""
    config, builder = built(site, count=20)
    write_post(site, 7, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    before = {rec.id for rec in builder.ids.known().values()}
    old = site.posts_dir / "2025-11-08-p7.md"
    old.rename(site.posts_dir / "2025-11-09-moved.md")
    builder.build(NOW + timedelta(minutes=2))
    # the moved post alone fails the check, and the whole matching runs
    assert builder.ids.own.looked <= 2 and builder.ids.own.outcomes is None
    after = builder.ids.known()
    assert {rec.id for rec in after.values()} == before
    assert after["2025-11-09-moved.md"].id == IdBook(config).known()["2025-11-09-moved.md"].id


def test_a_running_builders_state_reads_back_byte_for_byte_as_a_full_write(site: Any) -> None:
    """state.json plus its journal read back as the state the builder holds, serialised."""
    config, builder = built(site, count=28)
    path = config.state_dir / "state.json"
    for n in range(1, 4):
        write_post(site, 7 + n % 2, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert builder._state is not None
        assert dumps_state(load_state(path)) == dumps_state(builder._state[1])
    write_post(site, 29, "New.", OLD_MTIME + 9000, title="A new one")
    (site.posts_dir / "2025-11-04-p3.md").unlink()
    builder.build(NOW + timedelta(minutes=9))
    assert builder._state is not None
    assert dumps_state(load_state(path)) == dumps_state(builder._state[1])
    assert len(load_state(path).entries) == 28


def test_an_unchanged_state_is_not_read_back(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "state.json"
    writer = StateWriter()
    state = BuildState(slugs={"tag:a": "a"})
    assert writer.save(path, state) is True
    reads: list[Path] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    assert writer.save(path, state) is False
    assert reads == []
    assert StateWriter().save(path, state) is False  # a new writer reads the file once
    assert reads == [path]
    path.write_bytes(b"{}")  # changed behind its back: written again
    assert writer.save(path, state) is True
    assert path.read_bytes() == dumps_state(state)


def test_the_carried_over_id_rows_publish_what_a_new_book_would(site: Any) -> None:
    config, builder = built(site, count=12)
    write_post(site, 3, "Edited.", OLD_MTIME + 1000, title="Retitled")
    write_post(site, 20, "New.", OLD_MTIME + 2000, title="A new one")
    builder.build(NOW + timedelta(minutes=1))
    made = builder.ids.rows_made
    write_post(site, 3, "Edited again.", OLD_MTIME + 3000)
    (site.posts_dir / "2025-11-06-p5.md").unlink()
    builder.build(NOW + timedelta(minutes=2))
    assert builder.ids.rows_made == made + 1
    posts = [row[0] for row in builder.ids._rows.values()]
    assert len(posts) == 12
    again = IdBook(config)
    assert again.published(posts) == builder.ids.published(posts)
    assert (config.output_dir / "ids.json").read_bytes() == dump_map(posts, keys=False)
