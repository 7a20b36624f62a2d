"""The build state is written in proportion to the edit: a build that changed a few records
appends one checksummed record to ``state.log`` and leaves ``state.json`` alone; reading gives
the base plus the journal's good records, exactly the state the builder saved. A crash at any
write leaves a state that loads (an older one at worst), a torn, damaged or foreign journal is
cut at its last good record, and the no-change answers see a journal-only change.
Counters and bytes, not time."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.core.state import BuildState, dumps_state
from feedsmith.pipeline import SiteBuilder, statefile
from feedsmith.pipeline import site as site_module
from feedsmith.pipeline.early import early_build
from feedsmith.pipeline.report import BuildError
from feedsmith.pipeline.statefile import StateWriter, journal_path, load_state
from test_edit_path_lean import NOW, OLD_MTIME, blog, built, write_post


def state_path(config: Any) -> Path:
    return Path(config.state_dir) / "state.json"


def held(builder: SiteBuilder) -> bytes:
    """The state the builder holds, as a whole save writes it."""
    assert builder._state is not None
    return dumps_state(builder._state[1])


def read_back(config: Any) -> bytes:
    return dumps_state(load_state(state_path(config)))


def test_an_edit_appends_a_small_record_and_leaves_state_json_alone(site: Any) -> None:
    config, builder = built(site, count=28)
    path = state_path(config)
    base = path.stat()
    writer = builder.state_writer
    assert writer.rewrites == 1 and writer.appends == 0  # the cold build writes the base
    for n in range(1, 4):
        before = writer.bytes_written
        write_post(site, 7, f"Edited {n}.", OLD_MTIME + 1000 + n)
        builder.build(NOW + timedelta(minutes=n))
        assert writer.appends == n and writer.rewrites == 1
        assert writer.bytes_written - before < base.st_size / 5
        after = path.stat()
        assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
            base.st_size,
            base.st_mtime_ns,
            base.st_ino,
        )
        assert read_back(config) == held(builder)
    assert len(journal_path(path).read_bytes().splitlines()) == 3
    builder.build(NOW + timedelta(minutes=9))  # nothing changed: nothing written
    assert writer.appends == 3


def test_a_new_process_appends_to_the_state_it_read(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 20-post state is small: let the journal grow as large as it (an add and a delete
    # change a half of its records).
    monkeypatch.setattr(statefile, "JOURNAL_SHARE", 1.0)
    config = blog(site, count=20)
    SiteBuilder(config, pool=False).build(NOW)
    for n in range(1, 3):
        write_post(site, 3, f"Edited {n}.", OLD_MTIME + 1000 + n)
        fresh = SiteBuilder(config, pool=False, watch=False)
        fresh.build(NOW + timedelta(minutes=n))
        assert fresh.state_writer.appends == 1 and fresh.state_writer.rewrites == 0
        assert read_back(config) == held(fresh)
    write_post(site, 25, "New.", OLD_MTIME + 5000, title="A new one")
    (site.posts_dir / "2025-11-06-p5.md").unlink()
    fresh = SiteBuilder(config, pool=False, watch=False)
    fresh.build(NOW + timedelta(minutes=5))
    assert fresh.state_writer.appends == 1
    state = load_state(state_path(config))
    assert dumps_state(state) == held(fresh)
    assert not any("p5" in key for key in state.entries) and len(state.entries) == 20


def test_the_journal_is_folded_into_the_base_past_its_share(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, builder = built(site, count=20)
    write_post(site, 3, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    journal = journal_path(state_path(config))
    assert journal.exists()
    monkeypatch.setattr(statefile, "JOURNAL_SHARE", 0.0)
    write_post(site, 3, "Edited again.", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))
    assert builder.state_writer.rewrites == 2 and not journal.exists()
    assert state_path(config).read_bytes() == held(builder)


class Crash:
    """Fails one write call that goes to the state's files (the others pass)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
        self.step, self.hit = step, 0
        real_write, real_fsync = os.write, os.fsync
        real_replace, real_unlink = os.replace, os.unlink

        def is_journal(fd: int) -> bool:
            return os.readlink(f"/proc/self/fd/{fd}").endswith("state.log")

        def write(fd: int, data: Any) -> int:
            if step == "torn append" and is_journal(fd):
                real_write(fd, bytes(data)[: len(data) // 2])
                self.fail()
            return real_write(fd, data)

        def fsync(fd: int) -> None:
            if step == "append fsync" and is_journal(fd):
                self.fail()
            real_fsync(fd)

        def replace(src: Any, dst: Any, **kw: Any) -> None:
            if step == "base replace" and str(dst).endswith("state.json"):
                self.fail()
            real_replace(src, dst, **kw)

        def unlink(path: Any, **kw: Any) -> None:
            if step == "journal unlink" and str(path).endswith("state.log"):
                self.fail()
            real_unlink(path, **kw)

        for name, fn in (("write", write), ("fsync", fsync), ("replace", replace)):
            monkeypatch.setattr(os, name, fn)
        monkeypatch.setattr(os, "unlink", unlink)

    def fail(self) -> None:
        self.hit += 1
        raise OSError(errno.EIO, "simulated crash")


@pytest.mark.parametrize("step", ["torn append", "append fsync", "base replace", "journal unlink"])
def test_a_crash_at_any_write_leaves_a_state_that_loads(
    site: Any, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    config, builder = built(site, count=20)
    write_post(site, 3, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))  # a journal with one record
    before = read_back(config)
    if step in ("base replace", "journal unlink"):
        monkeypatch.setattr(statefile, "JOURNAL_SHARE", 0.0)  # this save rewrites the base
    meant: list[BuildState] = []
    real_save = site_module.save_state

    def spy(path: Path, state: BuildState, writer: StateWriter | None = None) -> bool:
        meant.append(state)
        return real_save(path, state, writer)

    monkeypatch.setattr(site_module, "save_state", spy)
    write_post(site, 18, "Edited too.", OLD_MTIME + 2000)
    with monkeypatch.context() as m:
        crash = Crash(m, step)
        with pytest.raises(BuildError) as info:
            builder.build(NOW + timedelta(minutes=2))
    assert crash.hit == 1 and info.value.stage == "save state"
    # What a new process reads now: the state before or the state meant, nothing else.
    assert read_back(config) in (before, dumps_state(meant[-1]))
    # The running builder goes on, and so does a new process: both end where they meant.
    builder.build(NOW + timedelta(minutes=3))
    assert read_back(config) == held(builder)
    write_post(site, 19, "Edited later.", OLD_MTIME + 3000)
    fresh = SiteBuilder(config, pool=False, watch=False)
    fresh.build(NOW + timedelta(minutes=4))
    assert read_back(config) == held(fresh)
    assert "Edited later." in (site.output_dir / "all.atom.xml").read_text("utf-8")


def test_a_torn_tail_is_cut_and_the_next_build_rewrites_the_base(site: Any) -> None:
    config, builder = built(site, count=20)
    write_post(site, 3, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    good = read_back(config)
    journal = journal_path(state_path(config))
    record = journal.read_bytes()
    with journal.open("ab") as fh:
        fh.write(record[: len(record) // 3])  # a second record, torn
    assert read_back(config) == good
    write_post(site, 4, "Edited too.", OLD_MTIME + 2000)
    fresh = SiteBuilder(config, pool=False, watch=False)
    fresh.build(NOW + timedelta(minutes=2))
    assert fresh.state_writer.rewrites == 1 and not journal.exists()
    assert read_back(config) == held(fresh)


def test_a_damaged_record_leaves_the_base_and_the_output_is_verified(site: Any) -> None:
    config, builder = built(site, count=20)
    base = read_back(config)
    write_post(site, 19, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    journal = journal_path(state_path(config))
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x01
    journal.write_bytes(bytes(data))
    assert read_back(config) == base  # the record fails its checksum: the base alone
    fresh = SiteBuilder(config, pool=False, watch=False)
    fresh.build(NOW + timedelta(minutes=2))  # verifies the disk, writes the state whole
    assert read_back(config) == held(fresh) and not journal.exists()
    assert "Edited." in (site.output_dir / "all.atom.xml").read_text("utf-8")


def test_a_journal_of_another_base_is_ignored(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    config, builder = built(site, count=20)
    write_post(site, 3, "Edited.", OLD_MTIME + 1000)
    builder.build(NOW + timedelta(minutes=1))
    journal = journal_path(state_path(config))
    stale = journal.read_bytes()
    monkeypatch.setattr(statefile, "JOURNAL_SHARE", 0.0)
    write_post(site, 4, "Edited too.", OLD_MTIME + 2000)
    builder.build(NOW + timedelta(minutes=2))  # a new base, the journal removed
    journal.write_bytes(stale)  # as if the removal had not happened (a crash)
    assert read_back(config) == held(builder)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300), st.integers(0, 10_000))
def test_any_journal_bytes_load_as_the_base_plus_good_records(
    tmp_path: Path, junk: bytes, cut: int
) -> None:
    path = tmp_path / "state.json"
    writer = StateWriter()
    bulk = {f"tag:{i}": f"slug-{i}" for i in range(100)}  # a base the record is small beside
    first = BuildState(slugs=bulk, generated="2025-01-01T00:00:00+00:00")
    writer.save(path, first)
    second = BuildState(slugs={**bulk, "tag:b": "b"}, generated=None)
    assert writer.save(path, second) and writer.appends == 1
    journal = journal_path(path)
    record = journal.read_bytes()
    journal.write_bytes(record[: cut % (len(record) + 1)] + junk)
    assert load_state(path) in (first, second)
    fresh = StateWriter()
    load_state(path, fresh)
    third = BuildState(slugs={"tag:c": "c"})
    fresh.save(path, third)
    assert load_state(path) == third


def test_an_edit_then_no_change_in_a_new_process(
    site: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = blog(site, count=12)
    monkeypatch.chdir(site.root)
    assert main(["build", "--no-progress", "-c", "config.yaml"]) == 0
    write_post(site, 3, "Edited.", OLD_MTIME + 1000)
    assert main(["build", "--no-progress", "-c", "config.yaml"]) == 0
    path = state_path(config)
    assert journal_path(path).exists()  # the edit was journaled
    capsys.readouterr()
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "feedsmith", "-c", "config.yaml", "build"],
        cwd=site.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "0 feeds written" in proc.stdout and "nothing changed" in proc.stderr
    assert early_build(["build", "-c", "config.yaml"]) == 0
    # Another build that changed only the state (an append, state.json untouched): the
    # records no longer answer, the full path does.
    writer = StateWriter()
    state = load_state(path, writer)
    state.generated = "2020-01-01T00:00:00+00:00"
    base = path.stat().st_mtime_ns
    assert writer.save(path, state) and writer.appends == 1
    assert path.stat().st_mtime_ns == base
    assert early_build(["build", "-c", "config.yaml"]) is None
