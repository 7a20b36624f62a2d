"""Build when posts change: a saved post is live within a second, not at the next tick.

The builder already learns from inotify *what* changed (:mod:`feedsmith.pipeline.watch`), but only
when a build runs. This thread learns *that* something changed as it happens, waits until the posts
folder has been quiet for ``schedule.settle_ms`` (so a half-written save is not read, and a
``git pull`` or ``rsync`` of 500 files is one build, not 500), then asks for one build.

It keeps its own inotify descriptor, apart from the builder's: the two never take each other's
events. Only post files count (``.md`` and the other post extensions; hidden names are never
watched), so editor droppings — ``.foo.md.swp``, ``foo.md~``, ``.#foo.md``, vim's ``4913``,
``*.tmp`` — never trigger a build; a folder created, removed or moved does (its files may be
posts). Where inotify cannot see every change (NFS, SMB, FUSE, or no inotify at all) it polls
instead: a stat of every post file each :data:`POLL_SECONDS`, logged once at start.

The clock (``monotonic``) and the build call are passed in, so tests drive it without sleeping.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path

from feedsmith.core.post_files import PLAIN, PostFiles
from feedsmith.pipeline.sources import find_sources
from feedsmith.pipeline.watch import Watcher

log = logging.getLogger("feedsmith.trigger")

#: ``media_dir``'s rule: every file not hidden (the extension "" ends every name) — an
#: episode, a picture, a transcript are all something a feed states facts about.
ANY_FILE = PostFiles(extensions=("",))
#: How often the stat fallback looks at every post file (NFS, SMB, FUSE, no inotify).
POLL_SECONDS = 2.0
#: However busy the folder, a build runs at least this often while writes go on.
MAX_DELAY_SECONDS = 10.0


class ChangeTrigger:
    """Calls ``build(reason)`` once the posts folder changed and then stayed quiet.

    ``quiet_for()`` tells other triggers (interval, webhook, one-shot) how long to wait before
    they read the folder, so no build reads a save in the middle.
    """

    def __init__(
        self,
        posts_dir: Path,
        build: Callable[[str], object],
        *,
        settle_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        files: PostFiles = PLAIN,
        reason: str = "posts changed",
    ) -> None:
        self.reason = reason  # what the build log line says woke it
        self.posts_dir = posts_dir
        self.files = files
        self.build = build
        self.settle = settle_seconds
        self.monotonic = monotonic
        self.mode = "off"  # "inotify" | "poll" once started
        self.triggered = 0  # builds asked for (tests, metrics)
        self._last_change: float | None = None  # monotonic time of the last change seen
        self._first_change: float | None = None  # of the first change not yet built
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: Watcher | None = None
        self._snapshot: tuple[tuple[str, int, int], ...] | None = None
        #: A pipe :meth:`stop` writes to, so a loop waiting in ``select`` for inotify stops at
        #: once instead of at the end of its wait (up to a second of every ``serve`` shutdown).
        self._wake: tuple[int, int] | None = None

    # -- what the other triggers ask ------------------------------------------------------------

    def quiet_for(self) -> float:
        """Seconds until the folder has been quiet for the settle time (0: read it now)."""
        last = self._last_change
        if last is None:
            return 0.0
        return max(0.0, last + self.settle - self.monotonic())

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Begin watching and run the loop in a daemon thread."""
        self.open()
        self._thread = threading.Thread(target=self._run, name="feedsmith-posts-watch", daemon=True)
        self._thread.start()

    def open(self, *, inotify: bool = True) -> None:
        """Begin watching (inotify, else polling); :meth:`step` then does the work."""
        self._watcher = Watcher.open() if inotify else None
        if self._watcher is not None and self._wake is None:
            self._wake = os.pipe()
        if self._watcher is not None and self._arm():
            self.mode = "inotify"
            log.info(
                "watching %s: builds follow saves (settle %.0f ms)",
                self.posts_dir,
                1000 * self.settle,
            )
        else:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
            self.mode = "poll"
            self._snapshot = self._stat_all()
            log.info(
                "cannot watch %s with inotify: polling it every %.0f s instead",
                self.posts_dir,
                POLL_SECONDS,
            )

    def stop(self) -> None:
        self._stop.set()
        if self._wake is not None:
            os.write(self._wake[1], b"x")
        if self._thread is not None:
            self._thread.join()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    # -- the loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step(self._wait_seconds())
            except Exception:  # pragma: no cover - build errors are the service's to catch
                log.exception("posts watcher failed; it keeps watching")
                self._stop.wait(1.0)

    def _wait_seconds(self) -> float:
        if self._first_change is not None:
            return max(0.01, min(self.quiet_for(), self._deadline() - self.monotonic()))
        return POLL_SECONDS if self.mode == "poll" else 1.0

    def _deadline(self) -> float:
        assert self._first_change is not None
        return self._first_change + MAX_DELAY_SECONDS

    def step(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for changes; build when due. True when a build was asked for."""
        if self.mode == "inotify":
            assert self._watcher is not None
            waits = [self._watcher.fileno()] + ([self._wake[0]] if self._wake else [])
            ready, _, _ = select.select(waits, [], [], timeout)
            if self._stop.is_set():
                return False
            if ready:
                self._take_events()
        else:
            if self._stop.wait(timeout):
                return False
            snapshot = self._stat_all()
            if snapshot != self._snapshot:
                self._snapshot = snapshot
                self._changed()
        if self._first_change is None:
            return False
        now = self.monotonic()
        if self.quiet_for() > 0 and now < self._deadline():
            return False
        self._first_change = None
        self.triggered += 1
        self.build(self.reason)
        if self.mode == "inotify" and self._watcher is not None and self._unknown:
            self._arm()  # folders came or went: watch the new ones
        return True

    _unknown = False

    def _take_events(self) -> None:
        assert self._watcher is not None
        suspects = self._watcher.take("posts")
        if suspects is None:
            self._unknown = True
            self._changed()
        elif suspects:
            self._changed()

    def _changed(self) -> None:
        now = self.monotonic()
        self._last_change = now
        if self._first_change is None:
            self._first_change = now

    def _arm(self) -> bool:
        assert self._watcher is not None
        self._unknown = False
        files = self.files
        return self._watcher.arm("posts", os.fspath(self.posts_dir), files.wants, files.enters)

    def _stat_all(self) -> tuple[tuple[str, int, int], ...]:
        try:
            sources, _ = find_sources(self.posts_dir, self.files)
        except OSError:
            return ()
        return tuple((s.rel, s.size, s.mtime_ns) for s in sources)
