"""The web worker's entry point: ``feedsmith.serve.worker:wsgi_app``, the factory granian and
gunicorn call in every worker process.

A module of its own, kept light, because the WSGI server imports it in each worker before
anything else: it must not pull in the builder's side (the scheduler, the pipeline) that
``serve``'s supervisor needs, and it must make stop signals work before the slow part, the
import of the web app.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from feedsmith.serve.granian_master import stop_signals_end_a_loading_granian_worker

if TYPE_CHECKING:  # a type only: importing Flask is the slow part wsgi_app defers
    from flask import Flask

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def wsgi_app() -> Flask:
    """The WSGI server's factory, run once in every web worker.

    Web workers are started by granian/gunicorn, not by our CLI, so nothing has configured
    Python logging in them: without this the ``feedsmith.access`` lines would go nowhere.
    Before anything slow, a stop signal is made to work while the app loads (see
    :func:`~feedsmith.serve.granian_master.stop_signals_end_a_loading_granian_worker`).
    """
    stop_signals_end_a_loading_granian_worker()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    # Imported here, not at the top: the app (Flask and all) is nearly all of a worker's start,
    # 2.3 s against 0.09 s for this module on a busy 2-core machine (bench/import_serve.py), and
    # the stop-signal fix above must be in place before that window, not after it.
    from feedsmith.serve.app import create_app_from_env

    return create_app_from_env()
