"""The web workers' WSGI app: serve what the builder published, the way feed pollers expect.

This module only wires the parts into Flask; each job has its module: where the published tree
comes from (:mod:`~feedsmith.serve.stores`, :mod:`~feedsmith.serve.bucket_store`), answering
``/feeds/`` and the per-request bookkeeping (:mod:`~feedsmith.serve.responder`), request headers
(:mod:`~feedsmith.serve.negotiate`), the builder's files (:mod:`~feedsmith.serve.health`) and the
``/`` page (:mod:`~feedsmith.serve.index_page`).

Web workers are stateless. Everything comes from disk, written by the builder process (or, for a
replica, from the bucket it publishes to):

* ``output_dir/index.json`` (the manifest) decides what exists. It is ``stat``-ed on every feed
  request and re-read only when its ``(mtime_ns, size, inode)`` changes, so a new build is picked
  up by the next request without restarting anything.
* Each feed file is read once per version: identity bytes, gzip bytes (the ``.gz`` sidecar the
  build wrote, verified against the identity bytes; compressed here once if missing or stale) and
  a strong ETag per representation, computed from the bytes actually served. The manifest's
  hashes are not trusted for ETags because the builder renames feed files a moment before it
  replaces the manifest; the manifest is used for the listing, ``gone`` and ``Last-Modified``.
* ``state_dir/status.json`` (see :mod:`feedsmith.serve.status`) for ``/``, ``/healthz``,
``/metrics``.

``/feeds/…`` is the hot path (pollers hit it every few minutes, mostly for a 304), so it is
answered by a small WSGI layer in front of Flask instead of a Flask view: no routing, no
``Response`` object, prebuilt header values, one ``stat`` of the manifest and one of the file.
With ``jekyll:`` set, jekyll-feed's old feed URLs (``/feed.xml``…) take the same path, answered
as the Atom document they stand for (:mod:`~feedsmith.serve.aliases`). ``/media/`` (``media_dir``
streamed with ranges, :mod:`~feedsmith.serve.media`) is answered in front of Flask too.
Everything else (``/``, ``/healthz``, ``/metrics``, ``POST /-/rebuild``, ``/static``, and
``/stats`` with ``/stats.json`` from :mod:`feedsmith.serve.subscribers`) is an ordinary Flask
view. The same layer writes the one access-log line per request, counts the request for
Prometheus (and, for a feed, for the subscriber counts) and adds ``X-Content-Type-Options:
nosniff`` to every response. Between
it and Flask, :class:`feedsmith.serve.bodies.BodyLimit` receives request bodies (capped, within a
deadline) so a slow client never holds a web thread; ``/feeds/`` never reads a body.

Path safety: only paths listed in the manifest (plus ``index.json`` and ``index.opml``) are ever
opened, and before opening, the real path (symlinks resolved) must lie inside ``output_dir``; the
final component is opened with ``O_NOFOLLOW``. No directory is ever listed.

``POST /-/rebuild`` answers 404 when ``$FEEDSMITH_REBUILD_TOKEN`` is unset or empty: a disabled
webhook looks like no webhook at all, instead of advertising an endpoint that cannot work.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, render_template, request, url_for
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException

from feedsmith.config import ENV_VAR, FROM_BUCKET_ENV_VAR, load_config
from feedsmith.core.config import Config
from feedsmith.core.layout import CT_JSON, CT_TEXT, iso_exact
from feedsmith.serve import public
from feedsmith.serve.aliases import FeedAliases
from feedsmith.serve.bodies import BodyLimit
from feedsmith.serve.bucket_store import BucketStore
from feedsmith.serve.health import (
    TOKEN_ENV_VAR,
    GaugeCollector,
    StatusReader,
    bearer_token_ok,
    health_report,
    write_rebuild_request,
)
from feedsmith.serve.hub import install
from feedsmith.serve.index_page import PAGE_CSP, page_context
from feedsmith.serve.media import LocalMedia, MediaApp, MediaResponder, MediaSource
from feedsmith.serve.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from feedsmith.serve.metrics import Metrics
from feedsmith.serve.responder import Clock, Edge, FeedResponder
from feedsmith.serve.status import read_lease_status
from feedsmith.serve.stores import FeedStore, Store
from feedsmith.serve.subscribers import views as stats_views
from feedsmith.serve.subscribers.recorder import Subscribers
from feedsmith.serve.websub_health import websub_health

log = logging.getLogger("feedsmith.web")


def create_app(
    config: Config,
    store: Store,
    *,
    clock: Clock | None = None,
    metrics_dir: str | None = None,
) -> Flask:
    """The web worker's WSGI app over ``store``: :meth:`FeedStore.for_config` (``serve``) or
    :meth:`BucketStore.for_config` (a replica, ``serve --from-bucket``); whatever differs
    between the two is the store's to say. ``clock`` stamps rebuild requests and is "now" for
    ``If-Modified-Since`` (tests pass a fixed one); ``metrics_dir`` overrides
    ``$PROMETHEUS_MULTIPROC_DIR``."""
    now = clock or (lambda: datetime.now(UTC))
    app = Flask("feedsmith")  # the package: its templates/ and static/ folders
    app.config["JSON_SORT_KEYS"] = False
    if config.templates_dir is not None:  # the owner's index.html wins over ours
        app.jinja_loader = ChoiceLoader(
            [FileSystemLoader(str(config.templates_dir)), app.jinja_loader]  # type: ignore[list-item]
        )
    metrics = Metrics(config.state_dir, metrics_dir)
    metrics.register(GaugeCollector(store.gauges))
    statuses = StatusReader(config.state_dir)
    feeds = FeedResponder(store, config.schedule.interval_seconds, clock=now)
    retry_after = feeds.retry_after
    # (manifest key, status key) -> rendered page; one tuple, swapped whole.
    page_cache: list[tuple[Any, bytes]] = [(object(), b"")]
    app.extensions["feedsmith"] = {"store": store, "metrics": metrics, "config": config}
    subscribers = None
    if config.stats.enabled:  # counting (feedsmith.serve.subscribers): /stats, the / column
        subscribers = Subscribers(config, store, now, None if clock else time.time)
        subscribers.start()
        stats_views.install(app, subscribers, now)
        metrics.register(stats_views.SubscriberCollector(subscribers))
        app.extensions["feedsmith"]["subscribers"] = subscribers
    if config.websub.builtin and not store.has_builder:
        log.warning("replicas do not run the built-in WebSub hub: it runs with the builder")
    elif config.websub.enabled:
        install(app, config, metrics)

    @app.errorhandler(HTTPException)
    def plain_error(exc: HTTPException) -> Response:
        # Short text instead of Werkzeug's HTML pages: nothing here for a browser to render.
        response = Response(
            f"{exc.code} {exc.name.lower()}\n", status=exc.code or 500, content_type=CT_TEXT
        )
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.get("/")
    def index() -> Response:
        manifest = store.manifest()
        status_key, status = statuses.read()
        shown = subscribers is not None and config.stats.public
        counts = stats_views.column(subscribers.snapshot()) if shown else None  # type: ignore[union-attr]
        cache_key = (manifest.key if manifest else None, status_key, counts)
        cached_key, body = page_cache[0]
        if cached_key != cache_key:
            context = page_context(config, manifest, status, url_for, subscribers=counts)
            html = render_template("index.html", **context)
            body = html.encode("utf-8")
            page_cache[0] = (cache_key, body)
        response = Response(
            body,
            status=200 if manifest is not None else 503,
            content_type="text/html; charset=utf-8",
        )
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-cache"
        if manifest is None:
            response.headers["Retry-After"] = retry_after
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        own = store.health()
        if own is not None:  # a replica: its bucket, not a builder's status.json
            return _json_response(*own, retry_after)
        _, status = statuses.read()
        body, code = health_report(status)
        if request.args.get("detail") == "1" and status is not None:  # the operator's view
            token = os.environ.get(TOKEN_ENV_VAR, "")
            if token and bearer_token_ok(request.headers.get("Authorization"), token):
                body["detail"] = public.detail(status)
        lease = read_lease_status(config.state_dir) if config.publish.s3 is not None else None
        if lease is not None:
            body["lease"] = public.lease(lease)
        if config.websub.enabled:
            body["websub"] = websub_health(config.state_dir)
        return _json_response(body, code, retry_after)

    @app.get("/metrics")
    def metrics_view() -> Response:
        response = Response(metrics.render(), content_type=METRICS_CONTENT_TYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/-/rebuild")
    def rebuild() -> Response:
        token = os.environ.get(TOKEN_ENV_VAR, "")
        if not token or not store.has_builder:  # a replica has no builder to ask
            return Response("not found\n", status=404, content_type=CT_TEXT)
        if not bearer_token_ok(request.headers.get("Authorization"), token):
            response = Response("a valid bearer token is required\n", 401, content_type=CT_TEXT)
            response.headers["WWW-Authenticate"] = 'Bearer realm="feedsmith"'
            response.headers["Cache-Control"] = "no-store"
            return response
        requested = iso_exact(now())
        write_rebuild_request(config.state_dir, requested)
        response = Response(
            json.dumps({"status": "accepted", "requested": requested}) + "\n",
            status=202,
            content_type=CT_JSON,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    # Bodies are received (capped, within a deadline) before Flask runs: see feedsmith.serve.bodies.
    bodies = BodyLimit(
        app.wsgi_app,
        max_bytes=config.server.max_body_bytes,
        timeout=config.server.body_timeout_seconds,
    )
    aliases = FeedAliases.for_site(config.jekyll)  # jekyll-feed's URLs keep answering
    inner: Any = bodies
    media: MediaSource | None = None  # /media/: media_dir, or the bucket's (feedsmith.serve.media)
    if isinstance(store, BucketStore):
        media = store.media
    elif config.media_dir is not None:
        media = LocalMedia(config.media_dir)
    if media is not None:
        inner = MediaApp(bodies, MediaResponder(media, config.schedule.interval_seconds, now))
    app.wsgi_app = Edge(inner, feeds, metrics, aliases, subscribers)  # type: ignore[method-assign]
    return app


def create_app_from_env() -> Flask:
    """Factory for WSGI servers: ``gunicorn 'feedsmith.serve.app:create_app_from_env()'``;
    ``$FEEDSMITH_FROM_BUCKET=1`` makes it a replica serving ``publish.s3``."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise RuntimeError(f"${ENV_VAR} must name the config file")
    from_bucket = os.environ.get(FROM_BUCKET_ENV_VAR, "") not in ("", "0")
    config = load_config(path, serve_only=from_bucket)
    store: Store = BucketStore.for_config(config) if from_bucket else FeedStore.for_config(config)
    return create_app(config, store)


def _json_response(body: dict[str, Any], code: int, retry_after: str) -> Response:
    response = Response(
        json.dumps(body, ensure_ascii=False) + "\n", status=code, content_type=CT_JSON
    )
    response.headers["Cache-Control"] = "no-store"
    if code == 503:
        response.headers["Retry-After"] = retry_after
    return response
