"""Every process ``feedsmith build`` or ``serve`` starts ends when that process dies, even by
``kill -9``, so a supervisor that kills a stuck build does not leak the pool's memory.

Without this a SIGKILLed build left four processes adopted by init: each pool worker held the
write end of the pool's task queue (so never saw EOF on it) and the forkserver's "alive" pipe
(which the forkserver waits on), and the resource tracker waits for every holder of its pipe.
How each kind of child is tied:

* **Pool workers** (parse and render, :class:`~feedsmith.pipeline.scheduler.BuildPool`): they
  watch the read end of a pipe (:func:`pool_lifeline`) whose only write end is this process's;
  the kernel closes it when the process dies, whatever thread was running, and a thread of the
  worker then SIGKILLs the worker. Not ``PR_SET_PDEATHSIG``: a worker's parent is the
  forkserver, which may go (see next) while the builder and the worker's pool live on.
* **The forkserver**: it exits on EOF of its "alive" pipe once the builder and the workers
  (which hold that pipe too) are gone; and, not to depend on the workers going first,
  ``PR_SET_PDEATHSIG`` (SIGKILL), armed by :mod:`feedsmith.system.forkserver_tie`,
  which the forkserver imports as a preload module, then a check that its parent is still the
  builder (:data:`PARENT_ENV_VAR`). The signal fires when the *thread* that started it exits,
  which in ``serve`` can be a build thread that ends while the service lives: harmless, as
  ``multiprocessing`` starts a new forkserver for the next pool and running workers do not
  depend on it.
* **The resource tracker**: not signalled (SIGKILL would stop it from removing what it tracks);
  it exits on EOF of its pipe, which comes once the builder, the forkserver and the workers,
  all tied as above, are gone.
* **The web server** (``serve``; granian or gunicorn master): ``PR_SET_PDEATHSIG`` (SIGTERM),
  armed before ``exec`` by :func:`feedsmith.serve.tied.tied_to_this_process` from the main
  thread, then the same parent check. On SIGTERM the master stops its workers as on any stop;
  and granian's master (:mod:`feedsmith.serve.granian_master`) also runs
  :func:`end_group_after_parent`, which SIGKILLs the web server's own process group when that
  orderly stop has not ended it :data:`STOP_GRACE_SECONDS` after the parent died (a master busy
  starting workers on a loaded machine was seen to outlive its parent).
* **Threads** (the WebSub sender and deliverers, the scheduler, the lease keeper) die with the
  process; the built-in hub answers from the web workers (tied as above).

Outside Linux ``PR_SET_PDEATHSIG`` does not exist: the pool workers are still tied by their
pipe, and with them and the builder gone the forkserver and the resource tracker end on EOF of
their pipes; the web server, though, may outlive a killed ``serve``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

#: Set in the builder's environment before it starts a forkserver: the pid the forkserver
#: checks its parent against right after arming its parent-death signal.
PARENT_ENV_VAR = "FEEDSMITH_LIFELINE_PARENT"
_PR_SET_PDEATHSIG = 1

_lifeline: tuple[Connection, Connection] | None = None
_lock = threading.Lock()


def die_with_parent(expected_parent: int, signum: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``signum`` to this process when its parent (thread) dies, then make
    sure the parent is still ``expected_parent``: had it died before the signal was armed,
    nothing would ever fire, so this process ends now instead. Returns whether the signal
    could be armed (Linux only)."""
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    if os.getppid() != expected_parent:
        os.kill(os.getpid(), signum)
        os._exit(1)  # pragma: no cover - for a signal this process handles or ignores
    return armed


#: How long a web server whose parent died may take to stop by itself before it is killed.
STOP_GRACE_SECONDS = 5.0


def end_group_after_parent(
    expected_parent: int, *, grace: float = STOP_GRACE_SECONDS, poll: float = 0.25
) -> threading.Thread:
    """A daemon thread that waits for this process's parent to stop being ``expected_parent``
    (it died: the process was re-parented), gives the orderly stop the parent-death signal
    started ``grace`` seconds, then SIGKILLs this process's group. The caller runs in
    a process group of its own (``serve`` starts the web server with ``start_new_session``), so
    only it and its workers are in that group."""

    def watch_parent() -> None:
        while os.getppid() == expected_parent:
            time.sleep(poll)
        time.sleep(grace)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    thread = threading.Thread(target=watch_parent, name="feedsmith-parent-watch", daemon=True)
    thread.start()
    return thread


def pool_lifeline() -> Connection:
    """The read end of this process's lifeline, for a pool worker to :func:`watch` (pickled
    into the worker by ``multiprocessing``, which passes the descriptor along). The write end
    is never closed, nor inherited by anything: it closes when this process dies."""
    global _lifeline
    with _lock:
        if _lifeline is None:
            from multiprocessing import Pipe

            _lifeline = Pipe(duplex=False)
        return _lifeline[0]


def watch(reader: Connection) -> None:
    """In a pool worker: end this process as soon as ``reader`` reaches EOF (the builder died).

    SIGKILL, not an exception: the worker's main thread may be deep in a render, and nothing
    it would do after its builder is gone (staging files no one publishes) is worth finishing.
    """

    def wait() -> None:
        try:
            while True:
                reader.recv_bytes()  # nothing is ever sent: returns only at EOF (raises)
        except (EOFError, OSError):
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=wait, name="feedsmith-lifeline", daemon=True).start()


def mark_forkserver_parent() -> None:
    """Before a forkserver may start: tell it which pid its parent must be (see
    :mod:`feedsmith.system.forkserver_tie`)."""
    os.environ[PARENT_ENV_VAR] = str(os.getpid())
