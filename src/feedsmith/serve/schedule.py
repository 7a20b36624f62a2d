"""The build loop of the running service: when to rebuild, and never two rebuilds at once.

Only the ``feedsmith serve`` process runs this; web workers never build. Four things can ask for
a build and they all funnel into :meth:`BuildService.build_now`, which holds one lock so builds
are strictly serialised:

* an APScheduler interval job every ``schedule.interval_seconds`` (one instance, coalesced);
* a one-shot ``date`` job at the publish time of the next future-dated post, re-armed after every
  successful build, so a post scheduled for 09:00 appears at 09:00 rather than up to one interval
  later;
* a watcher thread that notices ``state_dir/rebuild.request`` (written by ``POST /-/rebuild`` in a
  web worker, which cannot build itself) — a file is the cheapest cross-process signal that also
  survives the builder being busy;
* :class:`feedsmith.serve.trigger.ChangeTrigger` (``schedule.watch``), when post files change and
  the folder has then been quiet for ``schedule.settle_ms``: a save is live within a second;
  a second one does the same for any file in ``media_dir``;
* the caller (the start-up build).

Every build, whatever asked for it, first waits until the posts folder has been quiet for the
settle time, so none reads a save caught half-way.

A failing build is logged, counted and recorded in ``status.json``; the previous feeds stay
published because a build is atomic (``output.publish`` renames only after everything was
written), and the next successful build recovers on its own.

The builder, the clock, the status recorder and the scheduler are all passed in so the loop can be
tested without threads firing on their own or real time passing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from feedsmith.core.config import Config
from feedsmith.core.model import Problem
from feedsmith.core.post_files import post_files
from feedsmith.core.text import escape_controls
from feedsmith.pipeline import BuildError, BuildReport, ProgressFn, SiteBuilder
from feedsmith.pipeline.kept import is_kept_problem
from feedsmith.publish.s3.lease import LeaseKeeper, keeper_for
from feedsmith.publish.sinks import configured_sinks
from feedsmith.serve import public
from feedsmith.serve.status import record_build
from feedsmith.serve.trigger import ANY_FILE, MAX_DELAY_SECONDS, ChangeTrigger
from feedsmith.system.diskerrors import describe

log = logging.getLogger("feedsmith.schedule")

REQUEST_FILE = "rebuild.request"
INTERVAL_JOB = "feedsmith-interval-build"
PUBLISH_JOB = "feedsmith-next-publish"


class Builder(Protocol):
    """What the service needs from ``build.SiteBuilder`` (a fake in tests)."""

    def build(self, now: datetime, progress: ProgressFn | None = None) -> BuildReport: ...


Clock = Callable[[], datetime]
StatusRecorder = Callable[..., Any]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BuildOutcome:
    """One build attempt as the service saw it; ``report`` is ``None`` when the build failed."""

    reason: str
    started: datetime
    finished: datetime
    seconds: float
    ok: bool
    report: BuildReport | None = None
    error: str | None = None


class BuildService:
    """Owns the one long-lived builder and decides when it runs.

    Keep a single instance for the life of the process: the builder keeps an in-memory index of
    parsed posts between builds, which is what makes a no-change rebuild cheap.
    """

    def __init__(
        self,
        config: Config,
        builder: Builder | None = None,
        *,
        clock: Clock = utc_now,
        scheduler: BaseScheduler | None = None,
        record_status: StatusRecorder | None = None,
        watch_seconds: float = 1.0,
    ) -> None:
        #: With a bucket, builders elect one publisher (:mod:`feedsmith.publish.s3.lease`); its
        #: thread starts with :meth:`start`, after the caller's first :meth:`take_lease`.
        self.lease: LeaseKeeper | None = None
        if builder is None:
            if config.publish.s3 is not None:
                self.lease = keeper_for(config, on_acquired=self._lease_acquired)
            builder = SiteBuilder(config, sinks=configured_sinks(config, lease=self.lease))
        if record_status is None:
            record_status = record_build
        self.config = config
        self.builder = builder
        self.clock = clock
        self.scheduler = scheduler or BackgroundScheduler(timezone=UTC)
        self.record_status = record_status
        self.watch_seconds = watch_seconds
        self.request_path = config.state_dir / REQUEST_FILE
        self.builds = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_outcome: BuildOutcome | None = None
        self._known_problems: frozenset[Problem] = frozenset()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        #: Builds on saves (``schedule.watch``); started by :meth:`start`.
        self.trigger: ChangeTrigger | None = None
        if config.schedule.watch:
            self.trigger = ChangeTrigger(
                config.posts_dir,
                self.build_now,
                settle_seconds=config.schedule.settle_ms / 1000,
                files=post_files(config),
            )
        #: Builds when a file in ``media_dir`` changes (a re-exported episode): the feeds give
        #: its length and duration, so they must follow it as they follow a post.
        self.media_trigger: ChangeTrigger | None = None
        if config.schedule.watch and config.media_dir is not None:
            self.media_trigger = ChangeTrigger(
                config.media_dir,
                self.build_now,
                settle_seconds=config.schedule.settle_ms / 1000,
                files=ANY_FILE,
                reason="media changed",
            )

    def take_lease(self) -> None:
        """Try once for the lease before the start-up build, so a lone builder publishes that
        build at once (no build is started for it: the caller is about to build)."""
        if self.lease is not None:
            callback, self.lease.on_acquired = self.lease.on_acquired, None
            try:
                self.lease.step(watching=True)
            finally:
                self.lease.on_acquired = callback

    def _lease_acquired(self) -> None:
        """A follower became the leader: build now, so the bucket catches up with this
        builder's tree at once rather than at the next interval (in a thread: the keeper's
        thread must go on renewing)."""
        if not self._stopping.is_set():
            threading.Thread(
                target=self.build_now,
                args=("lease acquired",),
                name="feedsmith-takeover",
                daemon=True,
            ).start()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- building ---------------------------------------------------------------------------

    def build_now(self, reason: str = "manual") -> BuildOutcome | None:
        """Build once, waiting for any build in flight to finish first.

        Waiting (rather than skipping) matters for the one-shot and webhook triggers: the build
        already running may have scanned the posts before the scheduled post became due or before
        the pushed commit landed. Returns ``None`` only when the service is shutting down.
        """
        with self._lock:
            if self._stopping.is_set():
                return None
            self._wait_for_quiet()
            return self._build_locked(reason)

    def _wait_for_quiet(self) -> None:
        """Let a save in progress finish before any build reads the posts (bounded: a folder
        written to without pause is still built every ``MAX_DELAY_SECONDS``)."""
        triggers = [t for t in (self.trigger, self.media_trigger) if t is not None]
        if not triggers:
            return
        waited = 0.0
        while waited < MAX_DELAY_SECONDS and not self._stopping.is_set():
            pause = max(trigger.quiet_for() for trigger in triggers)
            if pause <= 0:
                return
            self._stopping.wait(pause)
            waited += pause

    def _build_locked(self, reason: str) -> BuildOutcome:
        started = self.clock()
        t0 = time.perf_counter()
        report: BuildReport | None = None
        error: str | None = None
        try:
            if not self.config.posts_dir.is_dir():
                # A vanished posts_dir (unmounted volume, a checkout being replaced) would scan as
                # zero posts and publish an empty site, turning every feed into 410 Gone.
                missing = FileNotFoundError(f"posts_dir not found: {self.config.posts_dir}")
                raise BuildError("scan", missing)
            report = self.builder.build(started)
        except BuildError as exc:
            error = str(exc)
        except Exception as exc:
            # Not the builder's own clean failure but a bug: keep the traceback, keep serving.
            error = f"{type(exc).__name__}: {exc}"
            log.error("build raised unexpectedly (%s)", reason, exc_info=True)
        seconds = time.perf_counter() - t0
        finished = self.clock()
        ok = error is None
        outcome = BuildOutcome(reason, started, finished, seconds, ok, report, error)
        self.builds += 1
        if ok:
            self.consecutive_failures = 0
            log.info("build ok (%s): %s", reason, report.summary() if report else "")
            if report is not None:
                self._log_new_problems(report.problems)
        else:
            self.failures += 1
            self.consecutive_failures += 1
            log.error(
                "build failed (%s) after %.2f s, previous feeds kept: %s "
                "[%d consecutive, %d total failures]",
                reason,
                seconds,
                error,
                self.consecutive_failures,
                self.failures,
            )
        self.last_outcome = outcome
        self._record(outcome)
        if report is not None and not self._stopping.is_set():
            self._arm_next_publish(report.next_publish)
        return outcome

    def _log_new_problems(self, problems: list[Problem]) -> None:
        """Name each problem once, when it first appears, not again on every interval build:
        the operator of a service sees a broken post the way ``feedsmith build`` shows it,
        without the log repeating it every few minutes."""
        current = frozenset(problems)
        for problem in problems:
            if problem not in self._known_problems:
                level = logging.INFO if problem.severity == "info" else logging.WARNING
                log.log(level, "%s", problem.format())
        self._known_problems = current

    def _record(self, outcome: BuildOutcome) -> None:
        report = outcome.report
        try:
            self.record_status(
                self.config.state_dir,
                started=outcome.started,
                finished=outcome.finished,
                ok=outcome.ok,
                seconds=outcome.seconds,
                error=outcome.error,
                posts=report.posts if report else None,
                # Feed files published after the build; removed ones are gone.
                feeds=report.feeds_written + report.feeds_unchanged if report else None,
                problems=len(report.problems) if report else None,
                kept=[p.format() for p in report.problems if is_kept_problem(p)]
                if report
                else None,
                kept_public=[
                    public.kept_line(p.path, self.config.posts_dir)
                    for p in report.problems
                    if is_kept_problem(p)
                ]
                if report
                else None,
                sink_errors=[f"{name}: {reason}" for name, reason in report.sink_errors]
                if report
                else None,
            )
        except Exception as exc:
            # The feeds were (or were not) published either way; a status file we cannot write
            # must not take the build loop down with it. One line; the traceback at DEBUG.
            log.error("could not record build status: %s", escape_controls(describe(exc)))
            log.debug("status write failed", exc_info=True)

    # -- triggers -----------------------------------------------------------------------------

    def _arm_next_publish(self, when: datetime | None) -> None:
        """(Re)arm the one-shot build for the next future-dated post, or drop a stale one."""
        if when is None:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(PUBLISH_JOB)
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self.scheduler.add_job(
            self.build_now,
            "date",
            run_date=when,
            args=("scheduled post due",),
            id=PUBLISH_JOB,
            name="build at next publish time",
            replace_existing=True,
            misfire_grace_time=None,  # however late (e.g. after a suspend), still publish it
        )
        log.debug("next scheduled post due at %s", when.isoformat())

    def check_rebuild_request(self) -> BuildOutcome | None:
        """Build if a web worker asked for it; the request file is removed *before* building.

        Removing first means a request written while this build runs is not swallowed: it leaves
        a new file behind and causes one more build.
        """
        try:
            self.request_path.unlink()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("cannot remove %s, ignoring the rebuild request: %s", self.request_path, exc)
            return None
        log.info("rebuild requested via %s", self.request_path.name)
        return self.build_now("rebuild requested")

    def _watch(self) -> None:
        while not self._stopping.wait(self.watch_seconds):
            try:
                self.check_rebuild_request()
            except Exception:  # pragma: no cover - build_now already catches build errors
                log.exception("rebuild watcher failed; it keeps watching")

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Arm the interval job and the watcher; the first interval run is one interval away
        because the caller has just built in the foreground."""
        interval = self.config.schedule.interval_seconds
        self.scheduler.add_job(
            self.build_now,
            "interval",
            seconds=interval,
            args=("interval",),
            id=INTERVAL_JOB,
            name="interval build",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, interval),
            next_run_time=self.clock() + timedelta(seconds=interval),
        )
        if not self.scheduler.running:
            self.scheduler.start()
        if self.lease is not None:
            self.lease.start()
        for trigger in (self.trigger, self.media_trigger):
            if trigger is not None:
                trigger.start()
        if self.watch_seconds > 0:
            self._watcher = threading.Thread(
                target=self._watch, name="feedsmith-rebuild-watcher", daemon=True
            )
            self._watcher.start()
        log.info("rebuilding every %d s; watching %s", interval, self.request_path)

    def shutdown(self, wait: bool = True) -> None:
        """Stop triggering builds; with ``wait`` let a build in flight finish (it is atomic,
        but finishing it keeps the state file and status in step with the published feeds).

        Order matters: APScheduler's ``shutdown`` holds its job-store lock while it waits for
        running jobs, and a build re-arms the one-shot job (which needs that lock) when it ends.
        So the in-flight build is waited for *first*, on our own lock, and only then is the
        scheduler stopped; every build that gets the lock afterwards sees ``stopping`` and
        returns without building or touching the scheduler.
        """
        self._stopping.set()
        for trigger in (self.trigger, self.media_trigger):
            if trigger is not None:
                trigger.stop()
        if wait:
            with self._lock:
                pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if wait and self._watcher is not None:
            self._watcher.join()
        if self.lease is not None:
            self.lease.stop(release=True)  # after the last build: a follower takes over now
