"""``/stats``, ``/stats.json``, the ``feedsmith_subscribers`` gauges and the ``/`` column.

Who may look: by default only the site's owner — the webhook token
(``$FEEDSMITH_REBUILD_TOKEN``), as ``Authorization: Bearer <token>`` for scripts or as the
password of HTTP Basic authentication (any user name) so a browser asks for it. Numbers of
followers are the owner's to publish (FeedBurner's public counter was opt-in too), so
``stats.public: true`` opens the pages and shows the column on ``/``. Without a token and not
public, both answer 404, as the webhook does: nothing there for anyone.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Flask, Response, render_template, request, url_for
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from feedsmith.core.layout import CT_JSON, iso_exact
from feedsmith.core.subscribers import Snapshot
from feedsmith.serve.health import TOKEN_ENV_VAR, bearer_token_ok
from feedsmith.serve.subscribers.chart import history_svg
from feedsmith.serve.subscribers.recorder import Subscribers
from feedsmith.serve.subscribers.store import day_of

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def stats_document(subs: Subscribers, now: datetime) -> dict[str, Any]:
    """The ``/stats.json`` body (also what ``feedsmith stats --json`` prints)."""
    snap = subs.snapshot(now.timestamp())
    # Today's row is the live figure: the stored one is what the last worker to flush saw,
    # which the other workers' polls may have outgrown since (a worker with nothing new to
    # write does not rewrite it).
    today = day_of(now.timestamp()).isoformat()
    stored = subs.db.history()
    history = [(day, total) for day, total in stored if day != today]
    if snap.total or len(history) < len(stored):
        history.append((today, snap.total))
    return {
        "generated": iso_exact(now),
        "window_hours": subs.stats.window_hours,
        "total": snap.total,
        "feeds": [f.as_dict() for f in snap.feeds],
        "history": [{"date": day, "total": total} for day, total in history],
    }


def allowed(public: bool, header: str | None) -> bool | None:
    """True: show; False: ask for the token (401); None: not found (no token configured)."""
    if public:
        return True
    token = os.environ.get(TOKEN_ENV_VAR, "")
    if not token:
        return None
    return bearer_token_ok(header, token) or _basic_ok(header, token)


def _basic_ok(header: str | None, token: str) -> bool:
    if not header:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(decoded.partition(":")[2].encode(), token.encode())


def install(app: Flask, subs: Subscribers, now: Any) -> None:
    """Add the two routes to the app."""

    def gate() -> Response | None:
        verdict = allowed(subs.stats.public, request.headers.get("Authorization"))
        if verdict is None:
            return Response("not found\n", 404, content_type="text/plain; charset=utf-8")
        if not verdict:
            response = Response(
                "the webhook token is required\n", 401, content_type="text/plain; charset=utf-8"
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="feedsmith stats"'
            response.headers["Cache-Control"] = "no-store"
            return response
        return None

    @app.get("/stats.json")
    def stats_json() -> Response:
        refused = gate()
        if refused is not None:
            return refused
        body = json.dumps(stats_document(subs, now()), ensure_ascii=False) + "\n"
        response = Response(body, content_type=CT_JSON)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/stats")
    def stats_page() -> Response:
        refused = gate()
        if refused is not None:
            return refused
        doc = stats_document(subs, now())
        history = [(h["date"], h["total"]) for h in doc["history"]]
        html = render_template(
            "stats.html",
            site=subs.config.site,
            css_url=url_for("static", filename="feedsmith.css"),
            doc=doc,
            chart=history_svg(history),
        )
        response = Response(html, content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        return response


class SubscriberCollector(Collector):
    """``feedsmith_subscribers{feed,reader}`` at scrape time (``feed`` is ``kind:name``)."""

    def __init__(self, subs: Subscribers) -> None:
        self.subs = subs

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "feedsmith_subscribers",
            "Subscribers over stats.window_hours, by feed and reader.",
            labels=["feed", "reader"],
        )
        snap = self.subs.snapshot()
        for feed in snap.feeds:
            for reader, n in sorted(feed.by_reader.items()):
                gauge.add_metric([f"{feed.kind}:{feed.name}", reader], n)
        yield gauge


def column(snapshot: Snapshot) -> dict[tuple[str, str], int]:
    """(kind, name) → subscribers, for the ``/`` page's column."""
    return {(f.kind, f.name): f.subscribers for f in snapshot.feeds}
