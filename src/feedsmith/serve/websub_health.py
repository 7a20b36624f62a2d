"""WebSub numbers for ``/metrics`` and ``/healthz``, read from ``websub.sqlite`` at request time.

The builder process sends; web workers answer scrapes. Reading the shared SQLite file (WAL:
readers never wait for the sender) gives every worker the same numbers without copying them
anywhere, like :class:`feedsmith.serve.metrics.BuildCollector` does with ``status.json``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from feedsmith.publish.websub.store import WebSubStore

__all__ = ["COUNTERS", "WebSubCollector", "websub_health"]

log = logging.getLogger("feedsmith.websub")

#: counter name in the store -> (metric name, help)
COUNTERS = {
    "pings_sent": ("feedsmith_websub_pings_sent", "Publish pings a hub accepted (2xx)."),
    "ping_failures": ("feedsmith_websub_ping_failures", "Publish ping attempts that failed."),
    "pings_dropped": ("feedsmith_websub_pings_dropped", "Pings given up after all retries."),
    "verified": ("feedsmith_websub_verifications_ok", "Intents verified (built-in hub)."),
    "verify_failed": ("feedsmith_websub_verifications_failed", "Intents not confirmed."),
    "delivered": ("feedsmith_websub_deliveries_ok", "Content deliveries a callback accepted."),
    "delivery_failures": ("feedsmith_websub_delivery_failures", "Failed delivery attempts."),
    "deliveries_dropped": ("feedsmith_websub_deliveries_dropped", "Deliveries given up."),
    "denials": ("feedsmith_websub_denials_sent", "Denial notifications sent (§5.2)."),
    "expired": ("feedsmith_websub_leases_expired", "Subscriptions ended by their lease."),
}


class WebSubCollector(Collector):
    def __init__(self, state_dir: Path) -> None:
        self.store = WebSubStore(state_dir)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            counters = self.store.counters()
            depths = self.store.depths()
        except sqlite3.Error as exc:
            log.warning("cannot read %s for /metrics: %s", self.store.path, exc)
            return
        for key, (name, doc) in COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=counters.get(key, 0))
        queue = GaugeMetricFamily(
            "feedsmith_websub_queue", "Rows waiting, by queue.", labels=["queue"]
        )
        for table in ("pings", "requests", "deliveries"):
            queue.add_metric([table], depths[table])
        yield queue
        yield GaugeMetricFamily(
            "feedsmith_websub_subscriptions",
            "Active subscriptions (built-in hub).",
            value=depths["subscriptions"],
        )


_stores: dict[Path, WebSubStore] = {}


def websub_health(state_dir: Path) -> dict[str, Any]:
    """The ``websub`` part of ``/healthz``: queue depths, totals and the oldest failing ping.

    One store per state dir and process, so a polled ``/healthz`` reuses its connections."""
    store = _stores.get(Path(state_dir))
    if store is None:
        store = _stores.setdefault(Path(state_dir), WebSubStore(state_dir))
    try:
        return store.snapshot()
    except sqlite3.Error as exc:  # the detail to the log: /healthz is public
        log.warning("cannot read %s for /healthz: %s", store.path, exc)
        return {"error": {"kind": "websub_state_unreadable", "message": "cannot read the state"}}
