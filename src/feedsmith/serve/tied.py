"""``python -m feedsmith.serve.tied PARENT_PID CMD...``: run the web server so that it dies with
``serve``.

A module of its own because it runs as a script between ``serve`` and the web server's
``exec``: it imports only what arming the parent-death signal needs, not the supervisor.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from feedsmith.system.lifeline import PARENT_ENV_VAR, die_with_parent


def tied_to_this_process(command: Sequence[str]) -> list[str]:
    """Prefix ``command`` so that it gets SIGTERM if this process dies without cleaning up.

    ``start_new_session`` shields the web server from our terminal's signals, which also means
    nothing stops it if the supervisor is SIGKILLed or crashes: it would keep the port and serve
    ever-staler feeds with no builder. The prefix (this module run as a script) sets Linux's
    parent-death signal and then ``exec``s the real command, so the web server keeps the child's
    pid and process group. Called from the main thread, whose death is the one that counts.
    """
    return [sys.executable, "-m", "feedsmith.serve.tied", str(os.getpid()), *command]


def exec_tied(args: Sequence[str]) -> None:
    """``python -m feedsmith.serve.tied PARENT_PID CMD...``: see :func:`tied_to_this_process`."""
    parent, command = int(args[0]), list(args[1:])
    # SIGTERM, not SIGKILL: the master then stops its workers as on any stop (see lifeline).
    die_with_parent(parent, signal.SIGTERM)  # the parent-death signal survives execv
    os.environ[PARENT_ENV_VAR] = str(parent)  # granian's master also escalates (see lifeline)
    os.execv(command[0], command)


if __name__ == "__main__":
    exec_tied(sys.argv[1:])
