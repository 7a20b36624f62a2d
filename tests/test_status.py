"""The status.json contract between the builder (writer) and the web workers (readers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from feedsmith.serve.status import BuildStatus, read_status, record_build, status_path

T0 = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)


def test_no_status_file_means_no_build_recorded(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    assert read_status(tmp_path / "missing-dir") is None


def test_record_build_creates_the_state_dir_and_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "state" / "nested"
    written = record_build(
        state, started=T0, finished=T0 + timedelta(seconds=2), ok=True, seconds=2.0,
        error=None, posts=12, feeds=30, problems=1,
    )  # fmt: skip
    read = read_status(state)
    assert read == written
    assert read is not None and read.has_succeeded
    assert read.last_build is not None and read.last_build.posts == 12
    assert read.last_success == T0 + timedelta(seconds=2)
    assert (read.builds_ok, read.builds_failed) == (1, 0)
    assert [p.name for p in state.iterdir()] == ["status.json"]  # no temp file left


def test_counters_accumulate_and_a_failure_keeps_last_success_and_counts(tmp_path: Path) -> None:
    record_build(
        tmp_path, started=T0, finished=T0, ok=True, seconds=1.5, posts=3, feeds=5, problems=0
    )
    later = T0 + timedelta(minutes=5)
    status = record_build(
        tmp_path, started=later, finished=later, ok=False, seconds=0.25, error="disk full"
    )
    assert (status.builds_ok, status.builds_failed) == (1, 1)
    assert status.build_seconds_total == pytest.approx(1.75)
    assert status.last_success == T0
    assert status.last_build is not None
    assert status.last_build.ok is False and status.last_build.error == "disk full"
    assert status.last_build.posts is None
    assert (status.posts, status.feeds, status.problems) == (3, 5, 0)
    assert read_status(tmp_path) == status


def test_a_failure_without_a_message_still_says_it_failed(tmp_path: Path) -> None:
    status = record_build(tmp_path, started=T0, finished=T0, ok=False, seconds=0.1)
    assert status.last_build is not None and status.last_build.error == "build failed"
    assert not status.has_succeeded


def test_times_are_stored_in_utc_with_z(tmp_path: Path) -> None:
    tokyo = timezone(timedelta(hours=9))
    naive = datetime(2025, 11, 17, 5, 35, 4)
    record_build(tmp_path, started=naive, finished=T0.astimezone(tokyo), ok=True, seconds=1)
    raw = json.loads(status_path(tmp_path).read_text("utf-8"))
    assert raw["last_build"]["finished"] == "2025-11-16T20:35:04Z"
    assert raw["last_build"]["started"] == "2025-11-17T05:35:04Z"  # naive means UTC
    assert raw["last_success"] == "2025-11-16T20:35:04Z"


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"last_build": {"ok": true}}'])
def test_a_corrupt_status_file_reads_as_none_and_is_rewritten_whole(
    tmp_path: Path, content: bytes
) -> None:
    status_path(tmp_path).write_bytes(content)
    assert read_status(tmp_path) is None
    status = record_build(tmp_path, started=T0, finished=T0, ok=True, seconds=1.0)
    assert status.builds_ok == 1
    assert read_status(tmp_path) == status


def test_from_json_accepts_what_to_json_writes() -> None:
    empty = BuildStatus()
    assert BuildStatus.from_json(empty.to_json()) == empty
