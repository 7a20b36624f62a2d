"""plan_publish + LocalWriter: atomic, lazy, self-describing publication of a set of files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.state import BuildState
from feedsmith.publish import output, staging
from feedsmith.publish.output import FeedInfo, LocalWriter, WriteReport, plan_publish
from feedsmith.publish.staging import gzip_bytes

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
T3 = datetime(2025, 12, 3, 9, 0, tzinfo=UTC)


def publish(*args: Any, **kwargs: Any) -> WriteReport:
    """What a build does with its files: plan the publish, then commit it with the local writer."""
    return plan_publish(*args, **kwargs).commit(LocalWriter())


def feed(kind: str, slug: str, files: dict[str, bytes]) -> FeedInfo:
    return FeedInfo(
        kind=kind,
        name=slug,
        slug=slug,
        entries=1,
        updated="2025-11-16T20:35:04Z",
        urls={rel.rsplit(".", 1)[-1]: "/feeds/" + rel for rel in files},
        files=tuple(files),
    )


def site_files(tag_text: bytes = b"<tag/>") -> tuple[dict[str, bytes], list[FeedInfo]]:
    all_files = {"all.atom.xml": b"<all/>", "all.json": b"{}"}
    tag_files = {"tags/最新ニュース.atom.xml": tag_text}
    files = {**all_files, **tag_files, "index.opml": b"<opml/>"}
    return files, [feed("all", "all", all_files), feed("tag", "最新ニュース", tag_files)]


def state_after(report: WriteReport) -> BuildState:
    return BuildState(files=report.files, gone=report.gone, generated=report.generated)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_first_publish_writes_files_sidecars_and_manifest(tmp_path: Path) -> None:
    files, feeds = site_files()
    report = publish(tmp_path, files, feeds, BuildState(), T1)
    assert (report.written, report.unchanged, report.removed) == (3, 0, 0)
    for rel, data in files.items():
        assert (tmp_path / rel).read_bytes() == data
        assert gzip.decompress((tmp_path / (rel + ".gz")).read_bytes()) == data
    manifest = json.loads((tmp_path / "index.json").read_text("utf-8"))
    assert manifest["generated"] == "2025-12-01T09:00:00Z"
    tag = manifest["feeds"][1]
    assert tag["kind"] == "tag" and tag["slug"] == "最新ニュース"
    rec = tag["files"]["tags/最新ニュース.atom.xml"]
    assert rec == {
        "sha256": hashlib.sha256(b"<tag/>").hexdigest(),
        "bytes": 6,
        "changed": "2025-12-01T09:00:00Z",
    }
    assert manifest["files"]["index.opml"]["bytes"] == 7
    assert manifest["gone"] == {}


def test_gzip_sidecars_are_deterministic_and_nameless() -> None:
    packed = gzip_bytes(b"hello" * 100)
    assert packed == gzip_bytes(b"hello" * 100)
    assert packed[4:8] == b"\0\0\0\0"  # mtime 0
    assert packed[3] & 0x08 == 0  # FNAME flag not set


def test_republishing_the_same_files_writes_nothing(tmp_path: Path) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    before = snapshot(tmp_path)
    report = publish(tmp_path, files, feeds, state, T2)
    assert snapshot(tmp_path) == before
    assert report.paths_written == () and report.paths_removed == ()
    assert (report.written, report.unchanged, report.removed) == (0, 3, 0)
    assert report.generated == "2025-12-01T09:00:00Z"
    assert report.files == state.files


def test_only_changed_file_is_rewritten_and_its_changed_time_moves(tmp_path: Path) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    before = snapshot(tmp_path)
    files2, feeds2 = site_files(b"<tag>new</tag>")
    report = publish(tmp_path, files2, feeds2, state, T2)
    after = snapshot(tmp_path)
    changed = {k for k in after if after[k] != before.get(k)}
    rel = "tags/最新ニュース.atom.xml"
    assert changed == {rel, rel + ".gz", "index.json"}
    assert report.written == 1 and report.unchanged == 2
    assert report.files[rel]["changed"] == "2025-12-02T09:00:00Z"
    assert report.files["all.json"]["changed"] == "2025-12-01T09:00:00Z"
    assert report.generated == "2025-12-02T09:00:00Z"


def test_vanished_feed_is_deleted_and_recorded_as_gone(tmp_path: Path) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    rel = "tags/最新ニュース.atom.xml"
    del files[rel]
    report = publish(tmp_path, files, feeds[:1], state, T2)
    assert not (tmp_path / rel).exists() and not (tmp_path / (rel + ".gz")).exists()
    assert report.removed == 1
    manifest = json.loads((tmp_path / "index.json").read_text("utf-8"))
    assert manifest["gone"] == {rel: "2025-12-02T09:00:00Z"}
    assert all(rel not in f["files"] for f in manifest["feeds"])
    # Still gone (same "since") on the next build; it leaves "gone" when it comes back.
    state = state_after(report)
    assert publish(tmp_path, files, feeds[:1], state, T3).gone == {rel: "2025-12-02T09:00:00Z"}
    files2, feeds2 = site_files()
    back = publish(tmp_path, files2, feeds2, state, T3)
    assert back.gone == {}
    assert (tmp_path / rel).read_bytes() == b"<tag/>"


def test_disk_is_checked_not_just_the_state(tmp_path: Path) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    (tmp_path / "all.json").write_bytes(b"[]")  # same size, different bytes
    (tmp_path / "all.atom.xml.gz").unlink()
    report = publish(tmp_path, files, feeds, state, T2)
    assert (tmp_path / "all.json").read_bytes() == b"{}"
    assert gzip.decompress((tmp_path / "all.atom.xml.gz").read_bytes()) == b"<all/>"
    # Repairs are output changes: the manifest is rewritten (same hashes, new "generated").
    assert set(report.paths_written) == {"all.json", "all.atom.xml.gz", "index.json"}
    # The published bytes did not change, so neither does Last-Modified.
    assert report.files["all.json"]["changed"] == "2025-12-01T09:00:00Z"


def test_a_staged_file_is_checked_against_disk_too(tmp_path: Path) -> None:
    """A staged (pool-written) file whose bytes on disk differ at the same size is read and
    compared, then replaced; its sidecar is still judged from the folder listing."""
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    (tmp_path / "all.json").write_bytes(b"[]")  # same size, different bytes
    staged = {**files, "all.json": staging.stage(tmp_path, "all.json", files["all.json"])}
    report = publish(tmp_path, staged, feeds, state, T2)
    assert (tmp_path / "all.json").read_bytes() == b"{}"
    assert gzip.decompress((tmp_path / "all.json.gz").read_bytes()) == b"{}"
    assert "all.json" in report.paths_written
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(staging.STAGE_SUFFIX)]


def test_lost_state_does_not_rewrite_identical_files(tmp_path: Path) -> None:
    files, feeds = site_files()
    publish(tmp_path, files, feeds, BuildState(), T1)
    feed_mtime = (tmp_path / "all.json").stat().st_mtime_ns
    report = publish(tmp_path, files, feeds, BuildState(), T2)
    assert (tmp_path / "all.json").stat().st_mtime_ns == feed_mtime
    assert report.written == 0 and report.unchanged == 3


def test_stray_feed_files_without_state_are_removed(tmp_path: Path) -> None:
    files, feeds = site_files()
    (tmp_path / "tags").mkdir()
    (tmp_path / "tags" / "old.json").write_bytes(b"{}")
    (tmp_path / "tags" / "old.json.gz").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"not ours")
    report = publish(tmp_path, files, feeds, BuildState(), T1)
    assert not (tmp_path / "tags" / "old.json").exists()
    assert not (tmp_path / "tags" / "old.json.gz").exists()
    assert (tmp_path / "notes.txt").exists()
    assert report.gone == {"tags/old.json": "2025-12-01T09:00:00Z"}


def test_temp_files_of_a_crashed_build_are_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / "tags").mkdir()
    stray = tmp_path / "tags" / ".x.atom.xml.123.feedsmith-tmp"
    stray.write_bytes(b"half")
    files, feeds = site_files()
    publish(tmp_path, files, feeds, BuildState(), T1)
    assert not stray.exists()


def test_failure_while_writing_leaves_old_output_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    before = snapshot(tmp_path)
    real = output.write_temp
    calls = {"n": 0}

    def flaky(final: str, data: bytes) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(final, data)

    monkeypatch.setattr(output, "write_temp", flaky)
    new_files = {rel: data + b" " for rel, data in files.items()}
    with pytest.raises(OSError):
        publish(tmp_path, new_files, feeds, state, T2)
    assert snapshot(tmp_path) == before  # no temp files left behind either


def test_renames_happen_only_after_every_temp_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, feeds = site_files()
    events: list[str] = []
    real_write, real_replace = output.write_temp, os.replace

    def write(final: str, data: bytes) -> str:
        events.append("write")
        return real_write(final, data)

    def replace(src: str, dst: str) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(output, "write_temp", write)
    monkeypatch.setattr(output.os, "replace", replace)
    publish(tmp_path, files, feeds, BuildState(), T1)
    first_replace = events.index("replace")
    assert "write" not in events[first_replace:]
    assert events.count("write") == 8  # 4 files + 4 sidecars


@pytest.mark.parametrize("rel", ["../escape.json", "/abs.json", "tags/.hidden.json", "index.json"])
def test_unsafe_paths_are_refused(tmp_path: Path, rel: str) -> None:
    with pytest.raises(ValueError):
        publish(tmp_path / "out", {rel: b"x"}, [], BuildState(), T1)
    assert not (tmp_path / "escape.json").exists()


def test_failed_rename_leaves_no_temp_files_and_next_publish_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, feeds = site_files()
    state = state_after(publish(tmp_path, files, feeds, BuildState(), T1))
    new_files = {rel: data + b" " for rel, data in files.items()}
    real = os.replace
    calls = {"n": 0}

    def flaky(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "I/O error")
        real(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    with pytest.raises(OSError):
        publish(tmp_path, new_files, feeds, state, T2)
    monkeypatch.undo()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(staging.TMP_SUFFIX)]
    publish(tmp_path, new_files, feeds, state, T3)  # the old state, as the build never saved
    for rel, data in new_files.items():
        assert (tmp_path / rel).read_bytes() == data
        assert gzip.decompress((tmp_path / (rel + ".gz")).read_bytes()) == data


def test_first_publish_does_not_stat_files_the_folder_listing_did_not_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, feeds = site_files()
    files["extra/notes.json"] = b"{}"  # not a shape the listing covers: checked on disk
    stats: list[str] = []
    real = output._stat

    def counting(path: str) -> os.stat_result | None:
        stats.append(os.path.relpath(path, tmp_path))
        return real(path)

    monkeypatch.setattr(output, "_stat", counting)
    publish(tmp_path, files, feeds, BuildState(), T1)
    assert sorted(stats) == ["extra/notes.json", "extra/notes.json.gz"]
    stats.clear()
    publish(tmp_path, files, feeds, BuildState(), T2)  # now they exist: each is checked
    assert {"all.atom.xml", "all.atom.xml.gz", "index.opml"} <= set(stats)
