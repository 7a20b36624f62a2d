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
:func:`stop_signals_end_a_loading_granian_worker` (run by each worker first) finds it and ends the
worker. In the master the signals are unblocked as soon as ``fork`` returned, so one that came
meanwhile is handled then (by the master's handler, as always).
"""

from __future__ import annotations

import os
import signal
import threading

from feedsmith.system.lifeline import PARENT_ENV_VAR, end_group_after_parent

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


def stop_signals_end_a_loading_granian_worker() -> bool:
    """In a granian web worker that is loading the app, make SIGTERM/SIGINT stop it at once.

    Why: granian forks its workers from its master after the master installed its own Python
    handler for SIGTERM and SIGINT (a bound method of its server object that only sets a flag and
    wakes the master's loop). A worker inherits that handler and replaces it with its graceful
    one only after the app factory returned, and the factory (importing Flask, building the app)
    takes a few hundred milliseconds, seconds on a busy machine. A SIGTERM from the master in that
    window went to the inherited handler, set a flag in the worker's useless copy of the master
    and was lost: the worker then served on, and the master killed it after
    ``--workers-kill-timeout`` ("Killing worker-2 after it refused to gracefully stop"), 5 s of
    the 9 s stop budget. It happens whenever ``serve`` is stopped soon after it starts answering
    (the first worker answers while the second is still loading), or while a worker respawns.

    Now the default disposition applies from here until granian installs the worker's own
    handler: a worker that has not served anything has nothing to drain, so ending it is the
    graceful stop. A signal that came even earlier (between the fork and this call) is still seen
    in the inherited flag and ends the worker now; a worker forked after the master was told to
    stop sees the flag too. That includes a signal that reached the worker before ``os.fork()``
    had returned in it, which CPython would discard: :mod:`feedsmith.serve.granian_master` forks
    with the stop signals blocked, so it arrives (at the inherited handler) only after that. The
    swap itself runs with them blocked too, so a signal cannot land between checking for pending
    signals and changing the handler (it would then be dropped, as a Python-level signal whose
    handler is now ``SIG_DFL``); one that comes during the swap ends the worker once unblocked.
    The master marked these workers as stopped by itself before signalling them, so their exit
    is logged as an ordinary stop. Once the factory returned, granian's worker replaces
    ``SIG_DFL`` with its own handler, which sets its server's shutdown event; that event is a
    buffered channel, so a stop set before the server starts is still seen and it stops at once.

    Only granian's inherited handler is replaced: under gunicorn (whose worker installs its own
    handlers before loading the app), with a ``spawn`` start method (the default disposition
    already applies) and outside a worker, this does nothing. Returns whether it acted.
    """
    if threading.current_thread() is not threading.main_thread():
        return False  # signal.signal() is main-thread only; granian loads the app there
    inherited = signal.getsignal(signal.SIGTERM)
    master = getattr(inherited, "__self__", None)
    if master is None or not type(master).__module__.startswith("granian."):
        return False
    stops = {signal.SIGTERM, signal.SIGINT}
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        for signum in stops:
            signal.signal(signum, signal.SIG_DFL)  # runs a tripped handler first: sets the flag
        stop_requested = bool(getattr(master, "interrupt_signal", False))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)  # a pending stop ends us here
    if stop_requested:
        signal.raise_signal(signal.SIGTERM)
    return True


def main() -> None:
    hold_stop_signals_across_fork()
    parent = os.environ.pop(PARENT_ENV_VAR, None)
    if parent is not None and os.getpgrp() == os.getpid():  # tied by serve, in its own group
        end_group_after_parent(int(parent))
    from granian.cli import entrypoint  # what ``python -m granian`` runs

    entrypoint()


if __name__ == "__main__":
    main()
