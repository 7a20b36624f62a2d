"""``python -m feedsmith.serve.granian_master ARGS``: granian's own command line (``python -m
granian ARGS``), except that its master forks every web worker with SIGTERM and SIGINT blocked.

Why: a stop signal that reaches a freshly forked worker before CPython has finished its after-fork
bookkeeping is thrown away. The kernel runs the (inherited) Python-level C handler, which only
marks the signal as tripped, and then ``os.fork()`` in the child clears every tripped flag
(``_PySignal_AfterFork``, so that a signal meant for the parent is not handled twice). No Python
code of the child ever sees it, so nothing in the worker can notice that it was asked to stop:
it loads the app, starts serving after granian's master already logged "Shutting down granian",
and is killed after ``--workers-kill-timeout`` ("Killing worker-2 after it refused to gracefully
stop"), 5 s of ``serve``'s stop budget. On a busy machine the child is often not scheduled at all
before the master (which keeps running after ``fork``) is told to stop and signals it.

With the signals blocked across ``fork`` such a signal stays pending in the kernel instead, and
is delivered when the child unblocks them, which :func:`os.register_at_fork`'s child hook does
after CPython's reset. The child still has the master's handler then, so the signal sets the
flag in the child's copy of granian's server object, where
:func:`feedsmith.serve.server.stop_signals_end_a_loading_granian_worker` finds it and ends the
worker. In the master the signals are unblocked as soon as ``fork`` returned, so one that came
meanwhile is handled then (by the master's handler, as always).
"""

from __future__ import annotations

import os
import signal

from feedsmith.pipeline.lifeline import PARENT_ENV_VAR, end_group_after_parent

#: The signals granian's master sends its workers to stop them (SIGINT: Ctrl-C in a terminal).
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

_mask_before_fork: set[signal.Signals] | None = None


def hold_stop_signals_across_fork() -> None:
    """Make every later ``os.fork()`` of this process run with :data:`STOP_SIGNALS` blocked."""
    if not hasattr(signal, "pthread_sigmask") or not hasattr(os, "register_at_fork"):
        return  # no fork (Windows): workers are spawned and start with default handlers
    os.register_at_fork(before=_block, after_in_parent=_restore, after_in_child=_restore)


def _block() -> None:
    global _mask_before_fork
    _mask_before_fork = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _restore() -> None:
    # Also after a failed fork: CPython runs the parent's hooks then too.
    if _mask_before_fork is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask_before_fork)


def main() -> None:
    hold_stop_signals_across_fork()
    parent = os.environ.pop(PARENT_ENV_VAR, None)
    if parent is not None and os.getpgrp() == os.getpid():  # tied by serve, in its own group
        end_group_after_parent(int(parent))
    from granian.cli import entrypoint  # what ``python -m granian`` runs

    entrypoint()


if __name__ == "__main__":
    main()
