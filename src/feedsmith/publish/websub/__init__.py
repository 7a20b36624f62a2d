"""WebSub (W3C Recommendation, https://www.w3.org/TR/websub/): push instead of polling.

Three parts, each usable without the next:

* :mod:`.discovery` — every subscription document advertises its hubs (``rel=hub``) and its
  topic URL (``rel=self``) in the document and in the HTTP ``Link`` header.
* :mod:`.notify` — the sink that, after a build, queues one publish ping per changed topic and
  external hub in a persisted outbox (:mod:`.store`), and the worker that sends them.
* :mod:`.hub` — the built-in hub (``websub.builtin``): web workers accept subscription requests
  (a Flask blueprint), the builder process verifies them and delivers content (:mod:`.deliver`).

Kept out of ``__init__`` so that :mod:`feedsmith.core.feeds` can import discovery without pulling
in HTTP clients or SQLite.
"""
