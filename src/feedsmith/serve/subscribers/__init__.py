"""Subscriber counting's edge: polls recorded by the web workers (or read from access logs),
kept in ``state_dir/subscribers.sqlite``, shown at ``/stats``, ``/stats.json``, ``/metrics``
and on ``/``. The counting rule itself is pure: :mod:`feedsmith.core.subscribers`.

* :mod:`.store` — the SQLite file (WAL; every worker and the importer write to it) and the
  daily salt client addresses are hashed with;
* :mod:`.recorder` — the request path's side: a bounded in-memory queue and the background
  writer that empties it every ``stats.flush_seconds``;
* :mod:`.feedmap` — which feed and format a path is, which address is the client's;
* :mod:`.views` / :mod:`.chart` — the pages, the metrics collector;
* :mod:`.importer` — ``feedsmith stats import`` and ``feedsmith stats``.
"""
