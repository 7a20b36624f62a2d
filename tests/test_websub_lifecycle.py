"""The built-in hub's life cycle with a clock the test moves: lease expiry, a topic that
vanishes (denial, §5.2), delivery retries, and exactly one delivery per change.

The builder side runs in this process (``build_site`` with the real :class:`WebSubSink` and
its sender thread) and talks real HTTP to an in-test subscriber; requests enter through the
web worker's own endpoint (Flask test client). Waits are on the store's state, not on time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.publish.websub.deliver import PER_HOST
from feedsmith.publish.websub.notify import WebSubSink
from feedsmith.publish.websub.store import WebSubStore
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import post_text
from websub_servers import Clock, Received, Recorder, echo, serving, until

NOW = datetime(2025, 12, 1, tzinfo=UTC)


@pytest.fixture
def hub(site: Any) -> Iterator[Any]:
    site.write_post("2025-11-01-first.md", post_text("First", 1, "[keep]"))
    site.write_post("2025-11-02-second.md", post_text("Second", 2, "[doomed]"))
    site.settings["websub"] = {
        "builtin": True,
        "allow_private_callbacks": True,
        "lease_seconds": {"min": 60, "default": 600},
    }
    config = site.config()
    clock = Clock()
    sink = WebSubSink(config, clock=clock)
    recorder = Recorder(answer=echo)
    with serving(recorder) as base:

        class Hub:
            store = WebSubStore(config.state_dir)
            client = create_app(config, FeedStore.for_config(config)).test_client()
            callback = base + "/cb"

            def build(self) -> None:
                assert build_site(config, NOW, sinks=[sink]).ok
                assert sink.sender.wait_idle(30)

            def subscribe(self, rel: str, mode: str = "subscribe") -> None:
                form = {"hub.callback": self.callback, "hub.mode": mode}
                form["hub.topic"] = feed_url(config, rel)
                assert self.client.post("/websub", data=form).status_code == 202
                sink.sender.wake()
                until(lambda: self.store.depths()["requests"] == 0, "the verification")

            def count(self, name: str) -> int:
                return self.store.counters().get(name, 0)

        h = Hub()
        h.config, h.clock, h.sink, h.recorder, h.site = config, clock, sink, recorder, site
        h.build()
        yield h
        sink.sender.stop()


def test_a_lease_runs_out_and_the_subscription_ends(hub: Any) -> None:
    hub.subscribe("all.atom.xml")
    assert hub.store.depths()["subscriptions"] == 1
    hub.clock.offset += 590
    hub.sink.sender.wake()
    assert hub.sink.sender.wait_idle(30)
    assert hub.store.depths()["subscriptions"] == 1
    hub.clock.offset += 11
    hub.sink.sender.wake()
    until(lambda: hub.count("expired") == 1, "the expiry")
    assert hub.store.depths()["subscriptions"] == 0


def test_a_vanished_topic_ends_its_subscriptions_with_a_denial(hub: Any) -> None:
    hub.subscribe("tags/doomed.json")
    (hub.site.posts_dir / "2025-11-02-second.md").unlink()
    hub.build()
    until(lambda: hub.count("denials") == 1, "the denial")
    denial = parse_qs(urlsplit(hub.recorder.requests[-1].path).query)
    assert denial["hub.mode"] == ["denied"]
    assert denial["hub.topic"] == [feed_url(hub.config, "tags/doomed.json")]
    assert denial["hub.reason"] == ["the topic no longer exists"]
    assert hub.store.depths()["subscriptions"] == 0


def test_a_failing_callback_is_retried_and_each_change_is_delivered_once(hub: Any) -> None:
    hub.subscribe("all.atom.xml")
    failures = [503, 500]

    def flaky(req: Received) -> tuple[int, dict[str, str], bytes]:
        return (failures.pop(0), {}, b"") if failures else (204, {}, b"")

    hub.recorder.answer = flaky
    hub.site.write_post("2025-11-03-third.md", post_text("Third", 3, "[keep]"))
    hub.build()
    assert hub.count("delivery_failures") == 1
    for _ in range(2):  # the retry times, made to come by moving the clock
        hub.clock.offset += 10  # past backoff(1), backoff(2); well within the lease
        hub.sink.sender.wake()
        assert hub.sink.sender.wait_idle(30)
    assert hub.count("delivery_failures") == 2 and hub.count("delivered") == 1
    hub.build()  # no change: nothing more
    hub.build()
    posts = [r for r in hub.recorder.requests if r.method == "POST"]
    assert len(posts) == 3 and posts[0].body == posts[2].body
    assert hub.count("delivered") == 1


def test_deliveries_go_out_concurrently_but_at_most_per_host_connections_a_host(
    hub: Any,
) -> None:
    """Subscribers on two callback hosts (127.0.0.1 and localhost: one server, two host
    names). Each delivery is held until the test lets go, which it does only once PER_HOST
    of the first host's and both of the second host's are in flight at the same time — so
    a hub sending one after the other never gets there. Then every callback has its change
    exactly once and the first host never had more than PER_HOST at once."""
    port = urlsplit(hub.callback).port
    callbacks = [f"http://127.0.0.1:{port}/cb/a{i}" for i in range(PER_HOST + 2)]
    callbacks += [f"http://localhost:{port}/cb/b{i}" for i in range(2)]
    for callback in callbacks:
        form = {"hub.callback": callback, "hub.mode": "subscribe"}
        form["hub.topic"] = feed_url(hub.config, "all.atom.xml")
        assert hub.client.post("/websub", data=form).status_code == 202
    hub.sink.sender.wake()
    until(lambda: hub.store.depths()["subscriptions"] == len(callbacks), "the verifications")

    state = threading.Condition()
    in_flight: Counter[str] = Counter()
    most: Counter[str] = Counter()
    gate = threading.Event()

    def held(req: Received) -> tuple[int, dict[str, str], bytes]:
        if req.method == "GET":
            return echo(req)
        host = req.headers["Host"].rsplit(":", 1)[0]
        with state:
            in_flight[host] += 1
            most[host] = max(most[host], in_flight[host])
            state.notify_all()
        gate.wait(30)
        with state:
            in_flight[host] -= 1
        return 204, {}, b""

    hub.recorder.answer = held
    hub.site.write_post("2025-11-03-third.md", post_text("Third", 3, "[keep]"))
    assert build_site(hub.config, NOW, sinks=[hub.sink]).ok
    with state:
        together = state.wait_for(
            lambda: in_flight["127.0.0.1"] == PER_HOST and in_flight["localhost"] == 2, 30
        )
    gate.set()
    assert together, f"never {PER_HOST} + 2 deliveries at once: {dict(most)}"
    until(lambda: hub.count("delivered") == len(callbacks), "every delivery")
    assert hub.sink.sender.wait_idle(30)
    assert most["127.0.0.1"] == PER_HOST and most["localhost"] == 2
    posts = [urlsplit(r.path).path for r in hub.recorder.requests if r.method == "POST"]
    assert sorted(posts) == sorted(urlsplit(c).path for c in callbacks)  # once each
    assert all(b"Third" in r.body for r in hub.recorder.requests if r.method == "POST")
    assert hub.store.depths()["deliveries"] == 0


def test_a_renewal_is_verified_again_extends_the_lease_and_is_never_over_the_limit(
    hub: Any,
) -> None:
    hub.subscribe("all.atom.xml")
    expires = hub.store.connect().execute("SELECT expires FROM subscriptions").fetchone()[0]
    hub.clock.offset += 300
    # The app counts this callback host as full (one subscription, the limit set below).
    full = dataclasses.replace(hub.config.websub, max_per_host=1)
    limited_config = dataclasses.replace(hub.config, websub=full)
    limited = create_app(limited_config, FeedStore.for_config(limited_config)).test_client()
    form = {"hub.callback": hub.callback, "hub.mode": "subscribe"}
    other = limited.post("/websub", data={**form, "hub.topic": feed_url(hub.config, "all.json")})
    assert other.status_code == 429
    hub.client = limited
    hub.subscribe("all.atom.xml")  # the renewal
    assert hub.count("verified") == 2
    renewed = hub.store.connect().execute("SELECT expires FROM subscriptions").fetchall()
    assert len(renewed) == 1 and renewed[0][0] >= expires + 299


def test_a_callback_that_turns_private_after_acceptance_is_never_called(site: Any) -> None:
    """DNS rebinding, simulated: a request the web worker accepted (row inserted as it would
    be) whose callback now leads to 127.0.0.1. The guarded connection refuses it, once."""
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"builtin": True}  # private callbacks refused
    config = site.config()
    sink = WebSubSink(config)
    recorder = Recorder(answer=echo)
    with serving(recorder) as base:
        assert build_site(config, NOW, sinks=[sink]).ok
        store = WebSubStore(config.state_dir)
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO requests (mode, callback, topic, host, lease_seconds, received,"
                " next_attempt) VALUES ('subscribe', ?, ?, '127.0.0.1', 3600, 0, 0)",
                (base + "/cb", feed_url(config, "all.atom.xml")),
            )
        sink.sender.wake()
        until(lambda: store.depths()["requests"] == 0, "the refused verification")
        sink.sender.stop()
    assert store.counters().get("verify_failed") == 1
    assert store.depths()["subscriptions"] == 0
    assert recorder.requests == []
