"""An independent WebSub implementation against ours: Flask-WebSub's subscriber (discovery,
§5.1 request, §5.3 verification, §7 notification) talking to the built-in hub of a real
``feedsmith serve``. Skipped when Flask-WebSub is not installed.

Flask-WebSub refuses to send a secret to a hub reached over plain HTTP (as §5.1 advises), so
signatures are covered by test_websub_hub's subscriber instead. Its hub needs Celery and is
not used here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from feedsmith.core.layout import feed_url
from test_serve_e2e import eventually, free_port, post_text, run_serve

flask_websub = pytest.importorskip("flask_websub.subscriber")

pytestmark = pytest.mark.slow
JA = "最新ニュース"


class FlaskWebSubSubscriber:
    """Flask-WebSub's subscriber in a werkzeug server thread, recording its events."""

    def __init__(self, root: Path) -> None:
        from flask import Flask
        from werkzeug.serving import make_server

        self.port = free_port()
        self.app = Flask("subscriber")
        self.app.config["SERVER_NAME"] = f"127.0.0.1:{self.port}"
        self.sub = flask_websub.Subscriber(
            flask_websub.SQLite3SubscriberStorage(str(root / "subs.sqlite")),
            flask_websub.SQLite3TempSubscriberStorage(str(root / "temp.sqlite")),
        )
        self.app.register_blueprint(self.sub.build_blueprint(url_prefix="/callbacks"))
        self.events: list[tuple[str, ...]] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.changed = threading.Condition()
        self.sub.add_success_handler(lambda topic, cb, mode: self._add(("ok", mode, topic)))
        self.sub.add_error_handler(lambda topic, cb, why: self._add(("error", why, topic)))
        self.sub.add_listener(lambda topic, cb, body: self._body(topic, body))
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)

    def _add(self, event: tuple[str, ...]) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def _body(self, topic: str, body: bytes) -> None:
        with self.changed:
            self.bodies.append((topic, body))
            self.changed.notify_all()

    def wait(self, check: Any, timeout: float = 30.0) -> None:
        with self.changed:
            assert self.changed.wait_for(check, timeout), (self.events, len(self.bodies))


@pytest.fixture
def subscriber(tmp_path: Path) -> Iterator[FlaskWebSubSubscriber]:
    sub = FlaskWebSubSubscriber(tmp_path)
    thread = threading.Thread(target=sub.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sub
    finally:
        sub.server.shutdown()


def test_flask_websub_discovers_subscribes_receives_and_unsubscribes(
    site: Any, tmp_path: Path, subscriber: FlaskWebSubSubscriber
) -> None:
    port = free_port()
    site.settings["site"]["url"] = f"http://127.0.0.1:{port}"  # the advertised hub is real
    site.settings["websub"] = {"builtin": True, "allow_private_callbacks": True}
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    config = site.config()
    topic = feed_url(config, f"tags/{JA}.atom.xml")
    with run_serve(site, tmp_path / "serve.log", interval=3600, port=port) as served:
        found = flask_websub.discover(served.url(f"/feeds/tags/{JA}.atom.xml"))
        assert found == {"hub_url": f"{config.site.url}/websub", "topic_url": topic}
        with subscriber.app.app_context():
            callback_id = subscriber.sub.subscribe(**found, lease_seconds=7200)
        subscriber.wait(lambda: ("ok", "subscribe", topic) in subscriber.events)

        site.write_post("2025-11-02-second.md", post_text("二番目の記事", 2))
        subscriber.wait(lambda: len(subscriber.bodies) == 1)
        got_topic, body = subscriber.bodies[0]
        assert got_topic == topic
        assert body == requests.get(served.url(f"/feeds/tags/{JA}.atom.xml"), timeout=10).content
        assert "二番目の記事" in body.decode()

        with subscriber.app.app_context():
            subscriber.sub.unsubscribe(callback_id)
        subscriber.wait(lambda: ("ok", "unsubscribe", topic) in subscriber.events)
        eventually(lambda: served.healthz()["websub"]["subscriptions"] == 0, "no subscription")
        builds = served.healthz()["builds"]["ok"]
        site.write_post("2025-11-03-third.md", post_text("三番目の記事", 3))
        eventually(lambda: served.healthz()["builds"]["ok"] > builds, "the build")
        assert served.healthz()["websub"]["pending_deliveries"] == 0
        assert len(subscriber.bodies) == 1
        assert not [e for e in subscriber.events if e[0] == "error"]


def test_our_pings_drive_flask_websubs_hub_to_its_subscriber(
    site: Any, tmp_path: Path, subscriber: FlaskWebSubSubscriber
) -> None:
    """Flask-WebSub's hub (Celery eager: tasks run inside the request) in the subscriber's
    app: our publish ping makes it fetch the topic from the real serve, check its
    ``Link`` rel=hub/rel=self, and distribute it to Flask-WebSub's subscriber."""
    celery = pytest.importorskip("celery")
    from flask_websub.hub import Hub, SQLite3HubStorage

    app = subscriber.app
    app.config["PUBLISH_SUPPORTED"] = True
    worker = celery.Celery("hub", set_as_current=False)
    worker.conf.task_always_eager = True
    hub = Hub(SQLite3HubStorage(str(tmp_path / "hub.sqlite")), worker, BACKOFF_BASE=0.5)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    hub_url = f"http://127.0.0.1:{subscriber.port}/hub"

    port = free_port()
    site.settings["site"]["url"] = f"http://127.0.0.1:{port}"  # the hub fetches from it
    site.settings["websub"] = {"hubs": [hub_url]}
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    config = site.config()
    topic = feed_url(config, f"tags/{JA}.atom.xml")
    with run_serve(site, tmp_path / "serve.log", interval=3600, port=port) as served:
        found = flask_websub.discover(served.url(f"/feeds/tags/{JA}.atom.xml"))
        assert found == {"hub_url": hub_url, "topic_url": topic}
        eventually(lambda: served.healthz()["websub"]["outbox"] == 0, "start-up pings sent")
        with app.app_context():
            subscriber.sub.subscribe(**found)
        subscriber.wait(lambda: ("ok", "subscribe", topic) in subscriber.events)

        site.write_post("2025-11-02-second.md", post_text("二番目の記事", 2))
        subscriber.wait(lambda: any(t == topic for t, _ in subscriber.bodies))
        body = next(b for t, b in subscriber.bodies if t == topic)
        assert "二番目の記事" in body.decode()
        assert body == requests.get(served.url(f"/feeds/tags/{JA}.atom.xml"), timeout=10).content
        counters = served.healthz()["websub"]["counters"]
        assert counters["pings_sent"] >= 6 and counters.get("ping_failures", 0) == 0
