"""A running builder's edit keeps the publish contract: every temp file exists before the first
rename, every sidecar is in place before any plain file, a write or rename failing mid-publish
leaves the last good files and no temp file and the next build converges, and ``index.json``
is fsynced only when ``output.FSYNC`` asks for every published file to be."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest

from feedsmith.pipeline import BuildError, SiteBuilder
from feedsmith.publish import output
from test_build import snapshot
from test_edit_path_lean import NOW, OLD_MTIME, built, write_post
from test_edit_path_manifest import full_render


def edit(site: Any, n: int) -> None:
    write_post(site, 11, f"Edited {n}.", OLD_MTIME + 1000 + n, title=f"Post 11, take {n}")


def test_an_edit_writes_everything_before_renaming_and_sidecars_before_plain_files(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, builder = built(site)
    events: list[tuple[str, str, str]] = []  # (what, thread, final path)
    lock = threading.Lock()
    real_write, real_replace = output.write_temp, os.replace

    def write(final: str, data: bytes) -> str:
        with lock:
            events.append(("write", threading.current_thread().name, final))
        return real_write(final, data)

    def replace(src: str, dst: str) -> None:
        with lock:
            events.append(("rename", threading.current_thread().name, str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(output, "write_temp", write)
    monkeypatch.setattr(os, "replace", replace)
    edit(site, 1)
    report = builder.build(NOW + timedelta(minutes=1))
    monkeypatch.undo()

    out = str(site.output_dir)
    renames = [
        e for e in events if e[0] == "rename" and e[2].startswith(out) and "index.json" not in e[2]
    ]
    writes = [e for e in events if e[0] == "write"]
    assert len(renames) >= 8
    assert len(writes) == len(renames) == len(report.files_written) - 1  # index.json apart
    first_rename = events.index(renames[0])
    assert all(events.index(w) < first_rename for w in writes)
    kinds = [e[2].endswith(".gz") for e in renames]
    assert kinds == sorted(kinds, reverse=True)  # every sidecar before any plain file
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again
    assert not list(site.output_dir.rglob("*.feedsmith-*"))


@pytest.mark.parametrize("nth", [1, 6, -1], ids=["first", "middle", "last"])
def test_a_write_failing_on_a_publish_thread_leaves_the_last_good_files(
    site: Any, monkeypatch: pytest.MonkeyPatch, nth: int
) -> None:
    config, builder = built(site)
    count = {"n": 0}  # how many temp files an edit of post 11 writes
    real = output.write_temp

    def counting(final: str, data: bytes) -> str:
        count["n"] += 1
        return real(final, data)

    edit(site, 1)
    monkeypatch.setattr(output, "write_temp", counting)
    builder.build(NOW + timedelta(minutes=1))
    monkeypatch.undo()
    assert count["n"] > 6
    fail_at = count["n"] if nth == -1 else nth
    before = snapshot(site.output_dir)

    calls = {"n": 0}
    lock = threading.Lock()

    def flaky(final: str, data: bytes) -> str:
        with lock:
            calls["n"] += 1
            now_failing = calls["n"] == fail_at
        if now_failing:
            raise OSError(28, "No space left on device")
        return real(final, data)

    edit(site, 2)
    monkeypatch.setattr(output, "write_temp", flaky)
    with pytest.raises(BuildError, match="publish"):
        builder.build(NOW + timedelta(minutes=2))
    assert calls["n"] >= fail_at
    assert snapshot(site.output_dir) == before  # bytes and mtimes; no temp file either
    monkeypatch.undo()
    assert builder.build(NOW + timedelta(minutes=3)).feeds_written > 0  # converges
    assert SiteBuilder(config, pool=False).build(NOW + timedelta(minutes=4)).files_written == ()
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


def test_a_plain_rename_failing_after_the_sidecars_leaves_no_temp_file_and_converges(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, builder = built(site)
    real = os.replace
    failed = threading.Event()

    def flaky(src: str, dst: str) -> None:
        if not str(dst).endswith((".gz", "index.json")) and not failed.is_set():
            failed.set()
            raise OSError(5, "I/O error")
        real(src, dst)

    edit(site, 1)
    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(BuildError, match="publish"):
        builder.build(NOW + timedelta(minutes=1))
    monkeypatch.undo()
    assert failed.is_set()
    assert not list(site.output_dir.rglob("*.feedsmith-*"))
    assert builder.build(NOW + timedelta(minutes=2)).feeds_written > 0
    assert SiteBuilder(config, pool=False).build(NOW + timedelta(minutes=3)).files_written == ()
    on_disk, again = full_render(site.output_dir, config.state_dir)
    assert on_disk == again


@pytest.mark.parametrize("fsync", [False, True], ids=["default", "FSYNC"])
def test_the_manifest_follows_the_feed_files_fsync_policy(
    site: Any, monkeypatch: pytest.MonkeyPatch, fsync: bool
) -> None:
    """``index.json`` is made visible by its rename like every feed file; it is flushed to disk
    only when ``output.FSYNC`` asks for every published file to be."""
    _, builder = built(site)
    synced: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(output, "FSYNC", fsync)
    monkeypatch.setattr(os, "fsync", record)
    edit(site, 1)
    report = builder.build(NOW + timedelta(minutes=1))
    monkeypatch.undo()
    assert "index.json" in report.files_written
    out = [os.path.basename(p) for p in synced if p.startswith(str(site.output_dir))]
    manifest_synced = any(name.startswith(".index.json.") for name in out)
    feeds_synced = sum(not name.startswith(".index.json.") for name in out)
    assert manifest_synced is fsync
    assert (feeds_synced == len(report.files_written) - 1) is fsync
