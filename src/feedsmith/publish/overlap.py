"""A few threads for the slow system calls of a publish: gzip, temp-file writes and renames.

Why threads: rendering is Python and holds the GIL, but zlib-ng's compress, ``write`` and
``rename`` release it. In the service a one-post edit renders ~30 files one after another and,
before this, compressed, wrote and renamed each on the same thread; on this ext4 a rename over
an existing file waits for the kernel to push the new file's data out (``auto_da_alloc``),
~1–2 ms of wall time each while the CPU idles. Here the compress-and-write of a file runs while
the main thread renders the next one, and the renames of one phase run side by side.

What stays as it was (:mod:`.output`'s contract): every temp file exists before the first
rename, sidecars are renamed before any plain file, a failure removes every temp file that was
not renamed, and the results are put together in the sorted order a serial publish uses, so
records, reports and bytes are the same.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from feedsmith.system.diskerrors import doing

__all__ = ["THREADS", "Overlap", "in_order", "rename_parallel"]

#: Threads for compress/write and for renames: the waits are I/O, so more than the 2 cores
#: help; more than 4 only adds threads (measured: 60 renames ~1.3–4 ms each serially, ~0.5–1
#: ms each with 4).
THREADS = 4
#: At most this many files staged ahead of the main thread: their bytes stay in memory until
#: written (a large build without the render pool renders thousands of files here).
WINDOW = 16
#: Fewer renames than this are done on the calling thread (a thread costs more than it saves).
MIN_PARALLEL = 8


class Overlap:
    """Runs calls on a few threads, in submission order for the caller: :meth:`results` gives
    each call's return value in the order submitted and raises the first failure in that
    order, after every call finished (so clean-up sees everything that was written)."""

    def __init__(self, threads: int = THREADS, window: int = WINDOW) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._threads = threads
        self._window = window
        self._pending: deque[Future[Any]] = deque()
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="feedsmith-publish")
        future = self._pool.submit(fn, *args)
        self.futures.append(future)
        self._pending.append(future)
        while len(self._pending) > self._window:
            wait([self._pending.popleft()])
        return future

    def finish(self) -> None:
        """Wait for every call (none is cancelled: a started write must be seen to clean up)."""
        wait(self.futures)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> Overlap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()


def in_order(
    done: Sequence[tuple[str, Any]],
) -> tuple[list[tuple[str, Any]], BaseException | None]:
    """``(key, result)`` for each ``(key, result or finished Future)`` that succeeded, in
    order, and the first failure in that order: a failed file's successors are still listed,
    so that their temp files are removed with the rest."""
    results: list[tuple[str, Any]] = []
    failure: BaseException | None = None
    for key, result in done:
        if isinstance(result, Future):
            error = result.exception()
            if error is not None:
                failure = failure or error
                continue
            result = result.result()
        results.append((key, result))
    return results, failure


def rename_parallel(
    base: str, staged: Mapping[str, str], order: Sequence[str], done: list[str]
) -> None:
    """Rename ``staged[rel]`` onto ``base/rel`` for every ``rel`` in ``order``, on up to
    :data:`THREADS` threads, appending each renamed ``rel`` to ``done``. On a failure the
    threads stop at their next file and the first error (in ``order``) is raised after all
    have stopped; the caller removes what was not renamed. Order inside one call is not
    kept: call once per phase."""
    if len(order) < MIN_PARALLEL:
        for rel in order:
            with doing("rename", staged[rel]):
                os.replace(staged[rel], os.path.join(base, rel))
            done.append(rel)
        return
    stop = threading.Event()
    errors: dict[int, BaseException] = {}

    def run(k: int, count: int) -> None:
        for i in range(k, len(order), count):
            if stop.is_set():
                return
            rel = order[i]
            try:
                with doing("rename", staged[rel]):
                    os.replace(staged[rel], os.path.join(base, rel))
            except BaseException as exc:
                errors[i] = exc
                stop.set()
                return
            done.append(rel)  # list.append is atomic under the GIL

    count = min(THREADS, len(order))
    with ThreadPoolExecutor(count, thread_name_prefix="feedsmith-rename") as pool:
        for future in [pool.submit(run, k, count) for k in range(count)]:
            future.result()
    if errors:
        raise errors[min(errors)]
