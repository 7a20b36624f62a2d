"""The built-in hub against hostile subscribers: callbacks that answer one byte a second or
without end (other subscribers are not delayed, memory stays flat, the deadline ends them), and
unverified requests that try to take over someone else's pending subscription."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.publish.websub import net
from feedsmith.publish.websub.guard import network_key
from feedsmith.publish.websub.notify import WebSubSink
from feedsmith.publish.websub.store import WebSubStore
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import post_text
from websub_servers import Received, Recorder, hostile, serving, until

NOW = datetime(2025, 12, 1, tzinfo=UTC)


def _echo(req: Received) -> tuple[int, dict[str, str], bytes]:
    if req.method == "GET":
        query = parse_qs(urlsplit(req.path).query)
        return 200, {}, query.get("hub.challenge", [""])[0].encode()
    return 204, {}, b""


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def site_config(site: Any) -> Any:
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"builtin": True, "allow_private_callbacks": True}
    config = site.config()
    return site, config


def _subscribe(client: Any, config: Any, callback: str, **extra: str) -> int:
    form = {"hub.callback": callback, "hub.mode": "subscribe"}
    form["hub.topic"] = feed_url(config, "all.atom.xml")
    form.update({f"hub.{k}": v for k, v in extra.items()})
    return int(client.post("/websub", data=form).status_code)


@pytest.mark.slow
def test_slow_and_endless_callbacks_delay_no_one_and_memory_stays_flat(
    site_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callback dripping one byte a second (on 127.0.1.1) and one answering without end
    (127.0.2.1) subscribe first; then an honest one (127.0.0.1). The honest one is verified
    and, after a change, delivered while the dripping one still holds its connections (the
    deadline is made long, so "still open" is certain on a busy machine); the endless answer
    is cut after a few KiB, so the builder's memory does not grow with it."""
    site, config = site_config
    monkeypatch.setattr(net, "DEADLINE", 600.0)
    store = WebSubStore(config.state_dir)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    honest = Recorder(answer=_echo)
    with (
        hostile("drip", "127.0.1.1") as (drip_url, drip),
        hostile("flood", "127.0.2.1") as (flood_url, flood),
        serving(honest) as honest_url,
    ):
        assert build_site(config, NOW).ok
        sink = WebSubSink(config)
        rss_before = _rss_bytes()
        assert _subscribe(client, config, drip_url + "/cb") == 202
        assert _subscribe(client, config, flood_url + "/cb") == 202
        sink.sender.wake()
        drip.wait_for(lambda s: s.opened >= 1)
        flood.wait_for(lambda s: s.closed >= 1)  # we hung up on the endless answer
        assert flood.sent < 50 * 2**20, flood.sent
        assert _subscribe(client, config, honest_url + "/cb") == 202
        sink.sender.wake()
        until(
            lambda: (
                store.connect()
                .execute("SELECT 1 FROM subscriptions WHERE callback = ?", (honest_url + "/cb",))
                .fetchone()
            ),
            "the honest subscriber's verification",
            60.0,
        )
        assert drip.closed == 0, "the dripping verification should still be in flight"
        # A drip subscription (as if verified earlier): its delivery drips too.
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO subscriptions (callback, topic, host, lease_seconds, expires)"
                " VALUES (?, ?, ?, 3600, ?)",
                (
                    drip_url + "/deliver",
                    feed_url(config, "all.atom.xml"),
                    network_key("127.0.1.1"),
                    time.time() + 3600,
                ),
            )
        site.write_post("2025-11-02-second.md", post_text("Second", 2))
        assert build_site(config, NOW, sinks=[sink]).ok
        honest.wait_for(lambda reqs: any(r.method == "POST" for r in reqs), timeout=60)
        drip.wait_for(lambda s: s.opened >= 2)  # the drip's delivery started too
        assert drip.closed == 0, "the dripping requests should still be in flight"
        assert b"Second" in next(r.body for r in honest.requests if r.method == "POST")
        growth = _rss_bytes() - rss_before
        assert growth < 50 * 2**20, f"builder RSS grew {growth / 2**20:.1f} MiB"
        assert store.counters().get("verify_failed", 0) >= 1  # the flood's answer is no echo
        sink.sender.stop()


def test_the_deadline_ends_a_callback_that_answers_a_byte_at_a_time() -> None:
    # One byte every 0.1 s (not a second): each byte is far inside the 10 s read timeout, so
    # only the whole-request deadline can end it; a 1 s deadline is crossed by ~10 bytes.
    with hostile("drip", every=0.1) as (url, drip):
        with pytest.raises(net.DeadlineExceeded):
            net.call(net.session(guarded=False), "GET", url + "/cb", deadline=1.0)
        drip.wait_for(lambda s: s.closed == 1)  # and the connection is gone
    assert net.failure(net.DeadlineExceeded("x")) == "Deadline"


def test_the_deadline_also_covers_a_kept_alive_connection() -> None:
    with hostile("kept-drip", every=0.1) as (url, drip):
        session = net.session(guarded=False)
        assert net.call(session, "GET", url + "/one", deadline=30).body == b"ok"
        with pytest.raises(net.DeadlineExceeded):
            net.call(session, "GET", url + "/two", deadline=1.0)
        drip.wait_for(lambda s: s.closed == 1)
    assert drip.opened == 1  # the second request went over the same connection


def test_an_endless_answer_is_read_only_to_the_limit() -> None:
    with hostile("flood") as (url, flood):
        answer = net.call(net.session(guarded=False), "POST", url + "/cb", data=b"hi")
        assert answer.status == 200 and len(answer.body) == net.ANSWER_BYTES
        flood.wait_for(lambda s: s.closed == 1)
    assert flood.sent < 50 * 2**20


class Victim:
    """Confirms the subscribe it asked for, refuses every other intent."""

    def __init__(self) -> None:
        self.recorder = Recorder(answer=self.answer)

    def answer(self, req: Received) -> tuple[int, dict[str, str], bytes]:
        query = parse_qs(urlsplit(req.path).query)
        if query.get("hub.mode") == ["subscribe"]:
            return 200, {}, query["hub.challenge"][0].encode()
        return 404, {}, b""


@pytest.fixture
def victim(site_config: Any) -> Iterator[Any]:
    _site, config = site_config
    assert build_site(config, NOW).ok  # no sink: nothing is verified until the test says so
    victim = Victim()
    with serving(victim.recorder) as base:
        yield (
            config,
            create_app(config, FeedStore.for_config(config)).test_client(),
            base + "/cb",
            victim,
        )


def _verify_all(config: Any) -> WebSubStore:
    sink = WebSubSink(config)
    store = WebSubStore(config.state_dir)
    sink.sender.wake()
    until(lambda: store.depths()["requests"] == 0, "the verifications", 60.0)
    sink.sender.stop()
    return store


def test_a_subscribe_with_another_secret_cannot_replace_a_pending_one(victim: Any) -> None:
    config, client, callback, _ = victim
    assert _subscribe(client, config, callback, secret="victim's secret") == 202
    resp = _subscribe(client, config, callback, secret="attacker's secret")
    assert resp == 409
    assert _subscribe(client, config, callback) == 409  # no secret is another secret too
    assert _subscribe(client, config, callback, secret="victim's secret") == 202  # a repeat
    store = _verify_all(config)
    rows = store.connect().execute("SELECT callback, secret FROM subscriptions").fetchall()
    assert [(r[0], bytes(r[1])) for r in rows] == [(callback, b"victim's secret")]


def test_an_unverified_unsubscribe_does_not_cancel_a_pending_subscribe(victim: Any) -> None:
    config, client, callback, who = victim
    assert _subscribe(client, config, callback) == 202
    form = {"hub.callback": callback, "hub.mode": "unsubscribe"}
    form["hub.topic"] = feed_url(config, "all.atom.xml")
    assert client.post("/websub", data=form).status_code == 202  # queued, verified on its own
    store = _verify_all(config)
    assert store.depths()["subscriptions"] == 1  # the subscribe the victim confirmed
    assert store.counters().get("verify_failed") == 1  # the unsubscribe it did not
    modes = [parse_qs(urlsplit(r.path).query)["hub.mode"][0] for r in who.recorder.requests]
    assert modes == ["subscribe", "unsubscribe"]  # in the order received


def test_the_guard_refuses_a_hostile_session_to_loopback_before_any_request() -> None:
    recorder = Recorder()
    with (
        serving(recorder) as base,
        pytest.raises(requests.ConnectionError, match="not a public address"),
    ):
        net.call(net.session(guarded=True), "GET", base.replace("127.0.0.1", "localhost"))
    assert recorder.requests == []
