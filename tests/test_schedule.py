"""The build loop with a fake builder, a fixed clock and a paused scheduler: no real time passes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from feedsmith.core.config import Config
from feedsmith.core.model import Problem
from feedsmith.pipeline import BuildError
from feedsmith.serve.schedule import INTERVAL_JOB, PUBLISH_JOB, REQUEST_FILE, BuildService, utc_now

NOW = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)


@dataclass
class FakeReport:
    posts: int = 3
    problems: list[Any] = field(default_factory=list)
    feeds_written: int = 4
    feeds_unchanged: int = 5
    next_publish: datetime | None = None
    skipped: int = 0
    sink_errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.posts} posts"


class FakeBuilder:
    """Plays back a script of reports/exceptions and records overlap between calls."""

    def __init__(self, *script: FakeReport | Exception, pause: float = 0.0) -> None:
        self.script = list(script)
        self.calls: list[datetime] = []
        self.pause = pause
        self.in_flight = 0
        self.max_in_flight = 0
        self.built = threading.Event()
        self._guard = threading.Lock()

    def build(self, now: datetime, progress: Any = None) -> FakeReport:
        with self._guard:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.pause:
                time.sleep(self.pause)
            self.calls.append(now)
            step = self.script.pop(0) if self.script else FakeReport()
            if isinstance(step, Exception):
                raise step
            return step
        finally:
            with self._guard:
                self.in_flight -= 1
            self.built.set()


class StatusLog:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, state_dir: Path, **fields: Any) -> None:
        self.records.append({"state_dir": state_dir, **fields})


@pytest.fixture
def config(site: Any) -> Config:
    return site.config(schedule={"interval_seconds": 60})


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    """Started but paused: jobs are really stored (so replace/remove behave) yet never fire."""
    sched = BackgroundScheduler(timezone=UTC)
    sched.start(paused=True)
    yield sched
    if sched.running:
        sched.shutdown(wait=False)


def make_service(
    config: Config, builder: FakeBuilder, scheduler: BackgroundScheduler, **kwargs: Any
) -> tuple[BuildService, StatusLog]:
    status = StatusLog()
    service = BuildService(
        config,
        builder,
        clock=kwargs.pop("clock", lambda: NOW),
        scheduler=scheduler,
        record_status=status,
        watch_seconds=kwargs.pop("watch_seconds", 0),
        **kwargs,
    )
    return service, status


def test_builder_gets_the_injected_clock_time(config: Config, scheduler: BackgroundScheduler):
    builder = FakeBuilder()
    service, _ = make_service(config, builder, scheduler)
    outcome = service.build_now("test")
    assert builder.calls == [NOW]
    assert outcome is not None and outcome.ok and outcome.started == NOW


def test_concurrent_build_requests_never_overlap(config: Config, scheduler: BackgroundScheduler):
    builder = FakeBuilder(pause=0.002)
    service, _ = make_service(config, builder, scheduler)
    threads = [
        threading.Thread(target=lambda: [service.build_now("race") for _ in range(5)])
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builder.calls) == 30
    assert builder.max_in_flight == 1
    assert service.builds == 30


def test_failing_build_is_recorded_and_counted_then_next_success_recovers(
    config: Config, scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
):
    disk_full = BuildError("publish", OSError("disk full"))
    builder = FakeBuilder(disk_full, BuildError("publish", OSError("still")), FakeReport(posts=7))
    service, status = make_service(config, builder, scheduler)

    first = service.build_now("interval")
    second = service.build_now("interval")
    assert first is not None and not first.ok and first.error == str(disk_full)
    assert second is not None and not second.ok
    assert service.failures == 2 and service.consecutive_failures == 2
    assert [r["ok"] for r in status.records] == [False, False]
    assert status.records[0]["error"] == "publish: OSError: disk full"
    assert status.records[0]["state_dir"] == config.state_dir
    assert any("build failed" in r.message and "disk full" in r.message for r in caplog.records)

    third = service.build_now("interval")
    assert third is not None and third.ok
    assert service.consecutive_failures == 0 and service.failures == 2
    last = status.records[-1]
    assert last["ok"] is True and last["error"] is None
    assert (last["posts"], last["feeds"], last["problems"]) == (7, 9, 0)


def test_a_vanished_posts_dir_fails_the_build_instead_of_publishing_an_empty_site(
    config: Config, scheduler: BackgroundScheduler
):
    builder = FakeBuilder()
    service, status = make_service(config, builder, scheduler)
    config.posts_dir.rename(config.posts_dir.with_name("posts-moved"))
    outcome = service.build_now("interval")
    assert outcome is not None and not outcome.ok
    assert "posts_dir not found" in (outcome.error or "")
    assert builder.calls == []
    assert status.records[-1]["ok"] is False

    config.posts_dir.with_name("posts-moved").rename(config.posts_dir)
    assert service.build_now("interval").ok is True  # type: ignore[union-attr]


def test_unexpected_exception_in_builder_does_not_escape(
    config: Config, scheduler: BackgroundScheduler
):
    builder = FakeBuilder(KeyError("bug"), FakeReport())
    service, status = make_service(config, builder, scheduler)
    assert service.build_now("interval").ok is False  # type: ignore[union-attr]
    assert service.build_now("interval").ok is True  # type: ignore[union-attr]
    assert [r["ok"] for r in status.records] == [False, True]


def test_build_result_is_logged_as_one_line(
    config: Config, scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
):
    service, _ = make_service(config, FakeBuilder(FakeReport(posts=12)), scheduler)
    with caplog.at_level("INFO", logger="feedsmith.schedule"):
        service.build_now("interval")
    lines = [r.getMessage() for r in caplog.records if r.name == "feedsmith.schedule"]
    assert lines == ["build ok (interval): 12 posts"]


def test_post_problems_are_logged_once_when_they_first_appear(
    config: Config, scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
):
    bad = Problem("posts/bad.md", 3, "error", "front matter is not a mapping")
    draft = Problem("posts/draft.md", None, "info", "draft")
    builder = FakeBuilder(
        FakeReport(problems=[bad, draft]), FakeReport(problems=[bad, draft]), FakeReport()
    )
    service, _ = make_service(config, builder, scheduler)
    with caplog.at_level("INFO", logger="feedsmith.schedule"):
        for _ in range(3):
            service.build_now("interval")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if "posts/" in r.getMessage()]
    assert lines == [
        ("WARNING", "posts/bad.md:3: error: front matter is not a mapping"),
        ("INFO", "posts/draft.md:1: info: draft"),
    ]


def test_one_shot_build_is_armed_at_next_publish_and_rearmed(
    config: Config, scheduler: BackgroundScheduler
):
    nine = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    ten = nine + timedelta(hours=1)
    builder = FakeBuilder(FakeReport(next_publish=nine), FakeReport(next_publish=ten), FakeReport())
    service, _ = make_service(config, builder, scheduler)

    service.build_now("start-up")
    job = scheduler.get_job(PUBLISH_JOB)
    assert job is not None and job.next_run_time == nine

    service.build_now("interval")
    jobs = [j for j in scheduler.get_jobs() if j.id == PUBLISH_JOB]
    assert len(jobs) == 1 and jobs[0].next_run_time == ten

    # Firing the job builds; with nothing left in the future the one-shot job is dropped.
    jobs[0].func(*jobs[0].args)
    assert len(builder.calls) == 3
    assert scheduler.get_job(PUBLISH_JOB) is None


def test_failed_build_keeps_the_armed_one_shot_job(config: Config, scheduler: BackgroundScheduler):
    nine = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
    builder = FakeBuilder(FakeReport(next_publish=nine), BuildError("scan", RuntimeError("boom")))
    service, _ = make_service(config, builder, scheduler)
    service.build_now("start-up")
    service.build_now("interval")
    job = scheduler.get_job(PUBLISH_JOB)
    assert job is not None and job.next_run_time == nine


def test_rebuild_request_file_triggers_one_build_and_is_removed(
    config: Config, scheduler: BackgroundScheduler
):
    builder = FakeBuilder()
    service, _ = make_service(config, builder, scheduler)
    request = config.state_dir / REQUEST_FILE

    assert service.check_rebuild_request() is None
    assert builder.calls == []

    config.state_dir.mkdir(parents=True, exist_ok=True)
    request.write_text("please", "utf-8")
    outcome = service.check_rebuild_request()
    assert outcome is not None and outcome.reason == "rebuild requested"
    assert not request.exists()
    assert len(builder.calls) == 1

    assert service.check_rebuild_request() is None
    assert len(builder.calls) == 1


def test_watcher_thread_picks_up_a_rebuild_request(config: Config, scheduler: BackgroundScheduler):
    builder = FakeBuilder()
    service, _ = make_service(config, builder, scheduler, watch_seconds=0.01)
    service.start()
    try:
        config.state_dir.mkdir(parents=True, exist_ok=True)
        (config.state_dir / REQUEST_FILE).write_text("", "utf-8")
        assert builder.built.wait(timeout=10)
    finally:
        service.shutdown(wait=True)
    assert len(builder.calls) == 1
    assert not (config.state_dir / REQUEST_FILE).exists()


def test_interval_job_runs_one_instance_at_a_time_and_coalesces(
    config: Config, scheduler: BackgroundScheduler
):
    service, _ = make_service(config, FakeBuilder(), scheduler)
    service.start()
    try:
        job = scheduler.get_job(INTERVAL_JOB)
        assert job is not None
        assert job.max_instances == 1 and job.coalesce is True
        assert job.misfire_grace_time == 60
        assert job.trigger.interval == timedelta(seconds=60)
        assert job.next_run_time == NOW + timedelta(seconds=60)
    finally:
        service.shutdown(wait=True)
    assert not scheduler.running


def test_no_build_starts_after_shutdown(config: Config, scheduler: BackgroundScheduler):
    builder = FakeBuilder()
    service, status = make_service(config, builder, scheduler)
    service.start()
    service.shutdown(wait=True)
    assert service.build_now("late") is None
    config.state_dir.mkdir(parents=True, exist_ok=True)
    (config.state_dir / REQUEST_FILE).write_text("", "utf-8")
    assert service.check_rebuild_request() is None
    assert builder.calls == [] and status.records == []


def test_shutdown_lets_the_build_in_flight_finish(config: Config, scheduler: BackgroundScheduler):
    release = threading.Event()
    entered = threading.Event()

    class SlowBuilder(FakeBuilder):
        def build(self, now: datetime, progress: Any = None) -> FakeReport:
            entered.set()
            release.wait(timeout=10)
            return super().build(now, progress)

    events: list[str] = []
    builder = SlowBuilder()
    service, status = make_service(config, builder, scheduler)
    worker = threading.Thread(target=service.build_now, args=("interval",))
    worker.start()
    assert entered.wait(timeout=10)

    def stop() -> None:
        service.shutdown(wait=True)
        events.append(f"stopped after {len(status.records)} recorded build(s)")

    stopper = threading.Thread(target=stop)
    stopper.start()
    while not service.stopping:
        time.sleep(0.001)
    release.set()
    stopper.join(timeout=10)
    worker.join(timeout=10)
    assert events == ["stopped after 1 recorded build(s)"]
    assert [r["ok"] for r in status.records] == [True]


def test_shutdown_during_a_scheduled_build_that_rearms_the_one_shot_does_not_deadlock(
    config: Config,
):
    """APScheduler's shutdown holds its job-store lock while waiting for running jobs; a build
    job that re-arms the next-publish job at its end must not be left waiting for that lock."""
    release = threading.Event()
    entered = threading.Event()
    later = datetime(2030, 1, 1, tzinfo=UTC)

    class SlowBuilder(FakeBuilder):
        def build(self, now: datetime, progress: Any = None) -> FakeReport:
            entered.set()
            release.wait(timeout=10)
            return FakeReport(next_publish=later)

    sched = BackgroundScheduler(timezone=UTC)
    # A clock one interval behind makes the interval job due at once, in the scheduler's pool.
    service, status = make_service(
        config, SlowBuilder(), sched, clock=lambda: utc_now() - timedelta(seconds=60)
    )
    service.start()
    assert entered.wait(timeout=10)
    stopper = threading.Thread(target=service.shutdown)
    stopper.start()
    while not service.stopping:
        time.sleep(0.001)
    release.set()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "shutdown deadlocked with the running build job"
    assert [r["ok"] for r in status.records] == [True]
    assert not sched.running
