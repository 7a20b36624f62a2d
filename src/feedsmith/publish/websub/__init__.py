"""WebSub (W3C Recommendation): push instead of polling — the builder's side.

Topics are the subscription documents, each named by its ``rel=self`` URL
(:func:`feedsmith.core.layout.feed_url`); archive pages are not topics. Discovery (the links in
the documents and the ``Link`` header) is in the core; the web workers' side of the built-in
hub (the ``POST /websub`` blueprint: validation, limits, the pending rule) in
:mod:`feedsmith.serve.hub`. Here:

* :mod:`.notify` — ``WebSubSink.consume(changes)`` never sends: in one ``BEGIN IMMEDIATE``
  transaction it compares each topic's sha256 with the last one sent, queues a ping per
  (changed topic, external hub) — coalesced; a change while that ping is in flight keeps the row
  due, since the hub may have fetched the old bytes — and, with the built-in hub, a delivery per
  active subscriber (a newer change replaces an unsent one) and denials for vanished topics. That
  comparison inside the transaction is why one change is queued exactly once, across crashes
  and catch-ups. ``Sender``: one daemon thread in the process that builds, woken by each build;
  pings are sent from it.
* :mod:`.deliver` / :mod:`.lanes` — verification of intent and signed content distribution run
  on lanes, never in the sender thread: at most 16 deliveries / 8 verifications in flight, 4 per
  callback network (:func:`.guard.network_key`), and one verification at a time per (callback,
  topic). Rows in flight are skipped by later passes, so a row is in one task at a time.
* :mod:`.net` / :mod:`.guard` — every request (:func:`.net.call`) has one deadline for the whole
  exchange and reads a few KiB at most; callbacks' names are checked (IDNA) before any lookup and
  their addresses judged by what they reach (IPv4 inside NAT64, 6to4, Teredo, mapped forms).
* :mod:`.store` — ``state_dir/websub.sqlite`` (WAL, 0600): all of the schema's SQL.
  :mod:`.retry` — backoff: 2 s doubling, capped at 1 h, 20 attempts; verification 4 attempts on
  network errors only (a refusal is final).

Delivery is at least once: a crash between a subscriber's 2xx and the row's deletion repeats
that one delivery after the restart.
"""
