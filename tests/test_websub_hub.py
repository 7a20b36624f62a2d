"""The built-in hub end to end: a real ``feedsmith serve`` with ``websub.builtin`` and a test
subscriber written to the W3C Recommendation (§5.1 request, §5.3 verification, §7 delivery,
§8 signature), plus the hub's refusals through the web worker itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.publish.websub import net
from feedsmith.publish.websub.store import WebSubStore
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import eventually, post_text, run_serve
from websub_servers import Received, Recorder, serving

JA = "最新ニュース"
SECRET = "correct horse battery staple"
NOW = datetime(2025, 12, 1, tzinfo=UTC)


class Subscriber:
    """A subscriber: confirms only the intents it has, checks every signature."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret.encode()
        self.intents: set[tuple[str, str]] = set()  # (mode, topic) it asked for
        self.wrong_echo: set[str] = set()  # topics it answers with a wrong challenge
        self.lock = threading.Lock()
        self.recorder = Recorder(answer=self.answer)

    def answer(self, req: Received) -> tuple[int, dict[str, str], bytes]:
        if req.method == "POST":  # content distribution: always 2xx (§8: even when unsigned)
            return 204, {}, b""
        query = parse_qs(urlsplit(req.path).query)
        mode, topic = query["hub.mode"][0], query["hub.topic"][0]
        if mode == "denied":
            return 200, {}, b""
        with self.lock:
            wanted = (mode, topic) in self.intents
            self.intents.discard((mode, topic))
        if not wanted:
            return 404, {}, b""
        challenge = query["hub.challenge"][0]
        if topic in self.wrong_echo:
            challenge = "not-the-challenge"
        return 200, {"Content-Type": "text/plain"}, challenge.encode()

    def verifications(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(urlsplit(r.path).query).items()}
            for r in self.recorder.requests
            if r.method == "GET"
        ]

    def deliveries(self) -> list[Received]:
        return [r for r in self.recorder.requests if r.method == "POST"]

    def signed(self, req: Received) -> bool:
        method, _, digest = req.headers.get("X-Hub-Signature", "").partition("=")
        expected = hmac.new(self.secret, req.body, getattr(hashlib, method or "sha256"))
        return hmac.compare_digest(expected.hexdigest(), digest)


def _hub(served: Any, **form: str) -> tuple[int, str]:
    data = {f"hub.{k}": v for k, v in form.items()}
    resp = requests.post(served.url("/websub"), data=data, timeout=10)
    return resp.status_code, resp.text


def _ws(served: Any) -> dict[str, Any]:
    return served.healthz()["websub"]


@pytest.mark.slow
def test_subscribe_verify_deliver_signed_unsubscribe_and_restart(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    site.write_post("2025-11-02-second.md", post_text("Second", 2, "[Amazon]"))
    site.settings["websub"] = {"builtin": True, "allow_private_callbacks": True}
    config = site.config()
    topic_all = feed_url(config, "all.atom.xml")
    topic_ja = feed_url(config, f"tags/{JA}.json")
    sub = Subscriber()
    with serving(sub.recorder) as base:
        callback = base + "/callback?subscriber=one"  # its own query must survive (§5.3)
        with run_serve(site, tmp_path / "serve1.log", interval=3600) as served:
            link = requests.get(served.url("/feeds/all.atom.xml"), timeout=10).headers["Link"]
            assert link == f'<{config.site.url}/websub>; rel="hub", <{topic_all}>; rel="self"'

            # §5.1 → 202, §5.3 verification, active only then.
            for topic in (topic_all, topic_ja):
                sub.intents.add(("subscribe", topic))
                status, text = _hub(
                    served,
                    callback=callback,
                    mode="subscribe",
                    topic=topic,
                    lease_seconds="60",  # below websub.lease_seconds.min: clamped
                    secret=SECRET,
                )
                assert status == 202, text
            eventually(lambda: _ws(served)["subscriptions"] == 2, "two verified subscriptions")
            checks = sub.verifications()
            assert {c["hub.topic"] for c in checks} == {topic_all, topic_ja}
            for check in checks:
                assert check["hub.mode"] == "subscribe"
                assert check["hub.lease_seconds"] == "3600"
                assert check["subscriber"] == "one"
                assert len(check["hub.challenge"]) >= 16

            # A wrong echo of the challenge: not subscribed.
            topic_rss = feed_url(config, "all.rss.xml")
            sub.intents.add(("subscribe", topic_rss))
            sub.wrong_echo.add(topic_rss)
            assert _hub(served, callback=callback, mode="subscribe", topic=topic_rss)[0] == 202
            eventually(
                lambda: _ws(served)["counters"].get("verify_failed") == 1, "the failed verify"
            )
            assert _ws(served)["subscriptions"] == 2

            # §7: a saved post in the Japanese tag is delivered to both topics, signed (§8).
            site.write_post("2025-11-03-third.md", post_text("三番目の記事", 3))
            sub.recorder.wait_for(lambda got: len([r for r in got if r.method == "POST"]) == 2)
            eventually(lambda: _ws(served)["pending_deliveries"] == 0, "deliveries done")
            by_topic = {}
            for delivery in sub.deliveries():
                assert sub.signed(delivery), delivery.headers
                assert delivery.headers["X-Hub-Signature"].startswith("sha256=")
                assert urlsplit(delivery.path).query == "subscriber=one"
                self_url = delivery.headers["Link"].split("<")[-1].split(">")[0]
                by_topic[self_url] = delivery
                assert f'<{config.site.url}/websub>; rel="hub"' in delivery.headers["Link"]
            assert set(by_topic) == {topic_all, topic_ja}
            served_ja = requests.get(served.url(f"/feeds/tags/{JA}.json"), timeout=10)
            assert by_topic[topic_ja].body == served_ja.content
            assert "三番目の記事" in json.loads(by_topic[topic_ja].body)["items"][0]["title"]
            assert by_topic[topic_ja].headers["Content-Type"].startswith("application/feed+json")
            assert by_topic[topic_all].headers["Content-Type"].startswith("application/atom+xml")

            # A change of the site feed only: one delivery, nothing for the unchanged topic.
            builds = served.healthz()["builds"]["ok"]
            site.write_post("2025-11-04-fourth.md", post_text("Fourth", 4, "[Amazon]"))
            sub.recorder.wait_for(lambda got: len([r for r in got if r.method == "POST"]) == 3)
            eventually(lambda: served.healthz()["builds"]["ok"] > builds, "the build")
            eventually(lambda: _ws(served)["pending_deliveries"] == 0, "deliveries done")
            assert "Fourth" in sub.deliveries()[-1].body.decode()
            assert topic_all in sub.deliveries()[-1].headers["Link"]

            # Unsubscribe (verified too): no more deliveries for that topic.
            sub.intents.add(("unsubscribe", topic_all))
            assert _hub(served, callback=callback, mode="unsubscribe", topic=topic_all)[0] == 202
            eventually(lambda: _ws(served)["subscriptions"] == 1, "the unsubscription")
            assert sub.verifications()[-1]["hub.mode"] == "unsubscribe"
            assert "hub.lease_seconds" not in sub.verifications()[-1]
            builds = served.healthz()["builds"]["ok"]
            site.write_post("2025-11-05-fifth.md", post_text("Fifth", 5, "[Amazon]"))
            eventually(lambda: served.healthz()["builds"]["ok"] > builds, "the build")
            assert _ws(served)["pending_deliveries"] == 0  # queued in the build, if at all
            assert len(sub.deliveries()) == 3
            served.proc.send_signal(signal.SIGTERM)
            assert served.proc.wait(timeout=30) == 0

        # A restart keeps the subscription; the next change of its topic is delivered once.
        with run_serve(site, tmp_path / "serve2.log", interval=3600) as served:
            assert _ws(served)["subscriptions"] == 1
            site.write_post("2025-11-06-sixth.md", post_text("六番目", 6))
            sub.recorder.wait_for(lambda got: len([r for r in got if r.method == "POST"]) == 4)
            eventually(lambda: _ws(served)["pending_deliveries"] == 0, "delivery done")
            last = sub.deliveries()[-1]
            assert topic_ja in last.headers["Link"] and sub.signed(last)
            assert "六番目" in last.body.decode()
            assert len(sub.deliveries()) == 4


@pytest.fixture
def hub_app(site: Any) -> Any:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    site.settings["websub"] = {"builtin": True}  # private callbacks refused (the default)
    config = site.config()
    build_site(config, NOW)
    return config, create_app(config, FeedStore.for_config(config)).test_client()


@pytest.mark.parametrize(
    ("form", "code", "reason"),
    [
        ({"mode": "subscribe", "topic": "{topic}"}, 400, "missing hub.callback"),
        ({"callback": "https://sub.example/cb", "topic": "{topic}"}, 400, "missing hub.mode"),
        ({"callback": "https://sub.example/cb", "mode": "subscribe"}, 400, "missing hub.topic"),
        (
            {"callback": "https://sub.example/cb", "mode": "publish", "topic": "{topic}"},
            400,
            "hub.mode must be subscribe or unsubscribe",
        ),
        (
            {
                "callback": "https://sub.example/cb",
                "mode": "subscribe",
                "topic": "https://x.example/f",
            },
            400,
            "hub.topic is not a feed published by this hub",
        ),
        (
            {"callback": "https://sub.example/cb", "mode": "subscribe", "topic": "{archive}"},
            400,
            "hub.topic is not a feed published by this hub",
        ),
        (
            {
                "callback": "https://sub.example/cb",
                "mode": "subscribe",
                "topic": "{topic}",
                "secret": "s" * 300,
            },
            400,
            "hub.secret must be less than 200 bytes",
        ),
        (
            {
                "callback": "https://sub.example/cb",
                "mode": "subscribe",
                "topic": "{topic}",
                "lease_seconds": "soon",
            },
            400,
            "hub.lease_seconds must be a whole number of seconds",
        ),
        (
            {"callback": "ftp://sub.example/cb", "mode": "subscribe", "topic": "{topic}"},
            400,
            "hub.callback must be an absolute http(s) URL",
        ),
        (
            {"callback": "http://127.0.0.1:9/cb", "mode": "subscribe", "topic": "{topic}"},
            403,
            "hub.callback resolves to a private, loopback or link-local address",
        ),
        (
            {"callback": "http://[::ffff:10.0.0.1]/cb", "mode": "subscribe", "topic": "{topic}"},
            403,
            "hub.callback resolves to a private, loopback or link-local address",
        ),
        (
            {"callback": "http://169.254.169.254/latest", "mode": "subscribe", "topic": "{topic}"},
            403,
            "hub.callback resolves to a private, loopback or link-local address",
        ),
    ],
)
def test_bad_requests_get_a_4xx_with_a_one_line_reason(
    hub_app: Any, form: dict[str, str], code: int, reason: str
) -> None:
    config, client = hub_app
    values = {
        "topic": feed_url(config, "all.atom.xml"),
        "archive": feed_url(config, "archive/all/1.atom.xml"),
    }
    data = {f"hub.{k}": v.format(**values) for k, v in form.items()}
    resp = client.post("/websub", data=data)
    assert (resp.status_code, resp.get_data(as_text=True)) == (code, reason + "\n")


def test_a_valid_request_is_accepted_and_queued_for_verification(hub_app: Any) -> None:
    config, client = hub_app
    data = {
        "hub.callback": "https://93.184.215.14/cb",
        "hub.mode": "subscribe",
        "hub.topic": feed_url(config, f"tags/{JA}.atom.xml"),
        "hub.secret": "x" * 199,
    }
    resp = client.post("/websub", data=data)
    assert resp.status_code == 202
    health = client.get("/healthz").get_json()
    assert health["websub"]["pending_verifications"] == 1


def test_a_repeated_request_replaces_the_pending_one_of_its_mode_only(hub_app: Any) -> None:
    config, client = hub_app
    data = {
        "hub.callback": "https://93.184.215.14/cb",
        "hub.mode": "subscribe",
        "hub.topic": feed_url(config, "all.json"),
    }
    for _ in range(5):
        assert client.post("/websub", data=data).status_code == 202
    for _ in range(3):
        unsubscribe = {**data, "hub.mode": "unsubscribe"}
        assert client.post("/websub", data=unsubscribe).status_code == 202
    store = WebSubStore(config.state_dir)
    modes = [r[0] for r in store.connect().execute("SELECT mode FROM requests ORDER BY id")]
    assert modes == ["subscribe", "unsubscribe"]  # each verified on its own, in this order


def test_a_topic_written_as_an_iri_is_the_same_topic(hub_app: Any) -> None:
    config, client = hub_app
    data = {
        "hub.callback": "https://93.184.215.14/cb",
        "hub.mode": "subscribe",
        "hub.topic": f"{config.site.url}/feeds/tags/{JA}.json",
    }
    assert client.post("/websub", data=data).status_code == 202
    store = WebSubStore(config.state_dir)
    stored = store.connect().execute("SELECT topic FROM requests").fetchone()[0]
    assert stored == feed_url(config, f"tags/{JA}.json")


def test_an_overlong_callback_is_refused(hub_app: Any) -> None:
    config, client = hub_app
    data = {
        "hub.callback": "https://93.184.215.14/" + "c" * 3000,
        "hub.mode": "subscribe",
        "hub.topic": feed_url(config, "all.json"),
    }
    resp = client.post("/websub", data=data)
    assert resp.status_code == 400
    assert resp.get_data(as_text=True) == "hub.callback must be at most 2048 characters\n"


def test_the_per_host_limit_refuses_new_subscriptions(site: Any) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    site.settings["websub"] = {"builtin": True, "max_per_host": 1}
    config = site.config()
    build_site(config, NOW)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    form = {"hub.callback": "https://93.184.215.14/a", "hub.mode": "subscribe"}
    assert (
        client.post("/websub", data={**form, "hub.topic": feed_url(config, "all.json")}).status_code
        == 202
    )
    second = client.post("/websub", data={**form, "hub.topic": feed_url(config, "all.rss.xml")})
    assert second.status_code == 429


def test_the_total_limit_counts_pending_requests_and_refuses_more(site: Any) -> None:
    site.write_post("2025-11-01-first.md", post_text("最初の記事", 1))
    site.settings["websub"] = {"builtin": True, "max_subscriptions": 1}
    config = site.config()
    build_site(config, NOW)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    form = {"hub.mode": "subscribe", "hub.topic": feed_url(config, "all.json")}
    first = {**form, "hub.callback": "https://93.184.215.14/a"}
    assert client.post("/websub", data=first).status_code == 202
    other = client.post("/websub", data={**form, "hub.callback": "https://93.184.215.15/b"})
    assert other.status_code == 503
    assert other.headers["Retry-After"] == "3600"
    assert other.get_data(as_text=True) == "this hub has reached its subscription limit\n"


def test_the_guarded_session_never_connects_to_a_private_address() -> None:
    recorder = Recorder()
    with serving(recorder) as base:
        with pytest.raises(requests.ConnectionError, match="not a public address"):
            net.session(guarded=True).get(base + "/x", timeout=5)
        assert requests.get(base + "/x", timeout=5).status_code == 204  # it was listening
    assert len(recorder.requests) == 1


def test_redirects_are_not_followed() -> None:
    recorder = Recorder(answer=lambda r: (302, {"Location": "http://127.0.0.1:9/"}, b""))
    with serving(recorder) as base:
        resp = net.session(guarded=False).get(base + "/x", timeout=5, allow_redirects=False)
    assert resp.status_code == 302
