"""Prometheus metrics that stay correct with several web-worker processes.

Two kinds of numbers, kept apart on purpose:

* **Request counts** happen in every web worker. With ``$PROMETHEUS_MULTIPROC_DIR`` set,
  prometheus_client writes each worker's counters to its own mmap file in that directory and a
  scrape (answered by whichever worker gets it) sums them all, so totals do not jump around with
  the worker that happens to answer. The contract with ``server.py``: it sets the variable to
  ``state_dir/metrics`` in the web workers' environment *before* they import anything, and empties
  that directory at every start (files of a previous run would otherwise be summed in). Without
  the variable (tests, a single process) counters live in a per-app registry.
* **Build numbers** are produced by the single builder process, which already records them in
  ``status.json``; a custom collector reads that file at scrape time, so no worker has to copy
  them and every worker reports the same values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from feedsmith.serve.status import read_status

log = logging.getLogger("feedsmith.metrics")

MULTIPROC_ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUESTS_NAME = "feedsmith_http_requests"
# Methods outside this set are counted as "other": a label value per invented method name would
# let any client grow the metric without bound.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class BuildCollector(Collector):
    """Build metrics read from ``status.json`` on every scrape (the builder's numbers)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        status = read_status(self.state_dir)
        builds = CounterMetricFamily(
            "feedsmith_builds", "Build attempts by result.", labels=["result"]
        )
        seconds_total = CounterMetricFamily(
            "feedsmith_build_seconds", "Seconds spent building, all attempts summed."
        )
        if status is not None:
            builds.add_metric(["ok"], status.builds_ok)
            builds.add_metric(["failed"], status.builds_failed)
            seconds_total.add_metric([], status.build_seconds_total)
        else:
            builds.add_metric(["ok"], 0)
            builds.add_metric(["failed"], 0)
            seconds_total.add_metric([], 0.0)
        yield builds
        yield seconds_total
        if status is None:
            return
        last = status.last_build
        if last is not None:
            yield _gauge(
                "feedsmith_last_build_duration_seconds",
                "Duration of the last build attempt.",
                last.seconds,
            )
            yield _gauge(
                "feedsmith_last_build_ok", "1 if the last build attempt succeeded.", last.ok
            )
            yield _gauge(
                "feedsmith_last_build_timestamp_seconds",
                "When the last build attempt finished (Unix time).",
                last.finished.timestamp(),
            )
        if status.last_success is not None:
            yield _gauge(
                "feedsmith_last_success_timestamp_seconds",
                "When the last successful build finished (Unix time).",
                status.last_success.timestamp(),
            )
        for name, doc, value in (
            ("feedsmith_posts", "Posts in the published feeds.", status.posts),
            ("feedsmith_feeds", "Feeds published.", status.feeds),
            ("feedsmith_problems", "Problems reported by the last build.", status.problems),
        ):
            if value is not None:
                yield _gauge(name, doc, value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


class Metrics:
    """One per app: counts requests, renders the scrape.

    Multiprocess mode needs prometheus_client to have been imported with the variable already
    set (it picks its value storage at import). If the variable is set but came too late, we say
    so and count per process rather than scrape a directory nothing writes to.
    """

    def __init__(self, state_dir: Path, multiproc_dir: str | None = None) -> None:
        if multiproc_dir is None:
            multiproc_dir = os.environ.get(MULTIPROC_ENV_VAR) or None
        self.state_dir = Path(state_dir)
        storage_is_shared = bool(getattr(values.ValueClass, "_multiprocess", False))
        if multiproc_dir and not storage_is_shared:
            log.warning(
                "$%s is set but prometheus_client was imported before it was; "
                "request counts are per process",
                MULTIPROC_ENV_VAR,
            )
            multiproc_dir = None
        if multiproc_dir and not Path(multiproc_dir).is_dir():
            Path(multiproc_dir).mkdir(parents=True, exist_ok=True)
        self.multiproc_dir = multiproc_dir
        # Multiprocess: the counter is registered nowhere (its values go to the mmap files) and
        # the scrape registry reads every worker's files on each collect.
        self._scrape = CollectorRegistry()
        self.requests = Counter(
            REQUESTS_NAME,
            "HTTP requests answered, by method and status code.",
            ["method", "status"],
            registry=None if multiproc_dir else self._scrape,
        )
        if multiproc_dir:
            MultiProcessCollector(self._scrape, path=multiproc_dir)
        self._scrape.register(BuildCollector(self.state_dir))
        # Label children are cached here: ``Counter.labels`` validates and locks on every call,
        # which is measurable on a path that answers a 304 in well under a millisecond.
        self._children: dict[tuple[str, int], object] = {}

    def register(self, collector: Collector) -> None:
        """Another scrape-time collector (WebSub reads its own state file)."""
        self._scrape.register(collector)

    def count_request(self, method: str, status: int) -> None:
        key = (method if method in KNOWN_METHODS else "other", status)
        child = self._children.get(key)
        if child is None:
            child = self.requests.labels(method=key[0], status=str(status))
            self._children[key] = child
        child.inc()  # type: ignore[attr-defined]

    def render(self) -> bytes:
        """The Prometheus text exposition of everything, summed across worker processes."""
        return generate_latest(self._scrape)
