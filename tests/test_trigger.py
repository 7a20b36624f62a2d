"""Builds follow saves: the posts watcher, driven step by step with a hand-held clock."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsmith.config import config_from_mapping
from feedsmith.serve.schedule import BuildService
from feedsmith.serve.trigger import ANY_FILE, MAX_DELAY_SECONDS, ChangeTrigger

POST = "---\ntitle: {title}\ndate: 2025-10-01\ntags: [t]\n---\n\nBody.\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["inotify", "poll"])
def trigger(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    posts = tmp_path / "posts"
    posts.mkdir()
    calls: list[str] = []
    clock = Clock()
    t = ChangeTrigger(posts, calls.append, settle_seconds=0.3, monotonic=clock)
    t.open(inotify=request.param == "inotify")
    assert t.mode == request.param
    t.calls, t.clock, t.dir = calls, clock, posts  # type: ignore[attr-defined]
    yield t
    t.stop()


def settle(t: Any) -> None:
    """Let the watcher see what was written (inotify: queued already; poll: next stat)."""
    t.step(0.2 if t.mode == "inotify" else 0)


def test_a_new_post_asks_for_one_build_once_the_folder_is_quiet(trigger: Any) -> None:
    (trigger.dir / "2025-10-01-a.md").write_text(POST.format(title="A"), "utf-8")
    settle(trigger)
    assert trigger.calls == []  # written just now: not read yet
    assert trigger.quiet_for() == pytest.approx(0.3)
    trigger.clock.now += 0.31
    assert trigger.step(0) is True
    assert trigger.calls == ["posts changed"]
    trigger.clock.now += 5
    assert trigger.step(0) is False  # nothing new: no second build
    assert trigger.calls == ["posts changed"]


def test_a_burst_of_500_files_is_one_build(trigger: Any) -> None:
    for i in range(500):
        (trigger.dir / f"2025-10-01-p{i}.md").write_text(POST.format(title=i), "utf-8")
        if i % 100 == 0:
            settle(trigger)
            trigger.clock.now += 0.1  # writes keep coming, closer together than the settle time
    settle(trigger)
    assert trigger.calls == []
    trigger.clock.now += 0.31
    trigger.step(0)
    assert trigger.calls == ["posts changed"]


def test_a_folder_written_to_without_pause_is_still_built(trigger: Any) -> None:
    path = trigger.dir / "2025-10-01-busy.md"
    for i in range(int(MAX_DELAY_SECONDS / 0.2) + 2):
        path.write_text(POST.format(title=i) + "x" * i, "utf-8")
        settle(trigger)
        trigger.clock.now += 0.2
        if trigger.calls:
            break
    assert trigger.calls == ["posts changed"]


@pytest.mark.parametrize(
    "name", [".a.md.swp", "a.md~", ".#a.md", "4913", "a.md.tmp", ".hidden.md", "notes.txt"]
)
def test_editor_droppings_never_trigger_a_build(trigger: Any, name: str) -> None:
    (trigger.dir / name).write_text("x", "utf-8")
    settle(trigger)
    trigger.clock.now += 60
    assert trigger.step(0) is False
    assert trigger.calls == [] and trigger.quiet_for() == 0


def test_a_rename_into_place_is_picked_up_once(trigger: Any) -> None:
    tmp = trigger.dir / ".2025-10-01-a.md.tmp"
    tmp.write_text(POST.format(title="A"), "utf-8")
    os.replace(tmp, trigger.dir / "2025-10-01-a.md")
    settle(trigger)
    trigger.clock.now += 0.31
    trigger.step(0)
    trigger.clock.now += 5
    trigger.step(0)
    assert trigger.calls == ["posts changed"]


def test_a_deletion_and_a_new_folder_trigger_a_build(trigger: Any) -> None:
    post = trigger.dir / "2025-10-01-a.md"
    post.write_text(POST.format(title="A"), "utf-8")
    settle(trigger)
    trigger.clock.now += 1
    trigger.step(0)
    post.unlink()
    (trigger.dir / "2026").mkdir()
    (trigger.dir / "2026" / "2026-01-01-b.md").write_text(POST.format(title="B"), "utf-8")
    settle(trigger)
    trigger.clock.now += 1
    trigger.step(0)
    assert trigger.calls == ["posts changed"] * 2
    (trigger.dir / "2026" / "2026-01-02-c.md").write_text(POST.format(title="C"), "utf-8")
    settle(trigger)  # the new folder is watched too
    trigger.clock.now += 1
    trigger.step(0)
    assert trigger.calls == ["posts changed"] * 3


def test_the_service_builds_a_saved_post_without_waiting_for_a_tick(site: Any) -> None:
    """Real threads, real inotify, the real builder: the save is in the feed after one build
    triggered by it (waited for by the build counter, never by the clock)."""
    site.write_post("2025-10-01-first.md", POST.format(title="First"), dedent=False)
    config = site.config(schedule={"interval_seconds": 3600, "settle_ms": 50})
    builds = threading.Semaphore(0)
    service = BuildService(config, record_status=lambda *a, **k: builds.release())
    service.build_now("startup")
    assert builds.acquire(timeout=60)
    service.start()
    try:
        site.write_post("2025-10-02-second.md", POST.format(title="Second"), dedent=False)
        assert builds.acquire(timeout=60), "no build followed the save"
        feed = json.loads((site.output_dir / "all.json").read_text("utf-8"))
        assert sorted(i["title"] for i in feed["items"]) == ["First", "Second"]
        assert service.trigger is not None and service.trigger.triggered >= 1
        assert service.last_outcome is not None and service.last_outcome.reason == "posts changed"
    finally:
        service.shutdown()


def test_schedule_watch_false_turns_the_watcher_off(site: Any) -> None:
    config = site.config(schedule={"watch": False})
    assert BuildService(config, record_status=lambda *a, **k: None).trigger is None


def test_interval_and_webhook_builds_wait_for_a_save_in_progress(site: Any) -> None:
    site.write_post("2025-10-01-first.md", POST.format(title="First"), dedent=False)
    config = site.config(schedule={"settle_ms": 300})
    service = BuildService(config, record_status=lambda *a, **k: None)
    assert service.trigger is not None
    clock = Clock()
    service.trigger.monotonic = clock
    service.trigger._changed()  # a write seen just now
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock.now += seconds
        return False

    service._stopping.wait = wait  # type: ignore[method-assign]
    outcome = service.build_now("interval")
    assert outcome is not None and outcome.ok
    assert waits == [pytest.approx(0.3)]
    assert datetime.now(UTC) >= outcome.started


def test_a_changed_media_file_asks_for_a_build(tmp_path: Path) -> None:
    """``media_dir`` is watched like the posts: a re-exported episode changes the feeds'
    length and duration, so it must not wait for the next interval build."""
    media = tmp_path / "media"
    media.mkdir()
    calls: list[str] = []
    clock = Clock()
    t = ChangeTrigger(
        media,
        calls.append,
        settle_seconds=0.3,
        monotonic=clock,
        files=ANY_FILE,
        reason="media changed",
    )
    t.open(inotify=True)
    try:
        (media / ".episode.mp3.part").write_bytes(b"x")  # hidden: never a build
        t.step(0.2)
        clock.now += 1
        assert t.step(0) is False and calls == []
        (media / "episode.mp3").write_bytes(b"\xff\xfb" + bytes(100))
        t.step(0.2)
        clock.now += 0.31
        assert t.step(0) is True
        assert calls == ["media changed"]
    finally:
        t.stop()


def test_the_service_watches_media_dir_only_when_it_is_set(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    (tmp_path / "media").mkdir()
    raw = {"site": {"url": "https://example.com"}, "posts_dir": "posts"}
    plain = config_from_mapping(raw, tmp_path / "config.yaml")
    with_media = config_from_mapping({**raw, "media_dir": "media"}, tmp_path / "config.yaml")
    assert BuildService(plain, builder=None).media_trigger is None
    service = BuildService(with_media, builder=None)
    assert service.media_trigger is not None
    assert service.media_trigger.posts_dir == tmp_path / "media"


def test_stopping_a_started_watcher_does_not_wait_out_its_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` stops its posts watcher on SIGTERM: the loop, waiting in ``select`` for the
    next change, is woken at once (made to wait an hour here, so only the wake-up ends it)."""
    posts = tmp_path / "posts"
    posts.mkdir()
    t = ChangeTrigger(posts, lambda reason: None, settle_seconds=0.3)
    monkeypatch.setattr(t, "_wait_seconds", lambda: 3600.0)
    t.start()
    assert t.mode == "inotify"
    stopper = threading.Thread(target=t.stop)
    stopper.start()
    stopper.join(timeout=60)  # bounds a hang only
    assert not stopper.is_alive()
