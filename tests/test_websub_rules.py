"""The built-in hub's rules that no other test pinned down (issue 25): a ``410 Gone`` ends a
subscription (WebSub §7), a delivery is dropped after its last attempt, verification retries
network errors but not refusals (§5.3), and deliveries are signed (§8).

The builder side is real (``build_site`` with the real :class:`WebSubSink` and its sender
thread), subscribers are real HTTP servers on loopback written here, requests enter through
the web worker's own endpoint. Retry times come by moving an injected clock, never by waiting;
the assertions read rows in the SQLite store and what the callback received, not internals.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.publish.websub.deliver import signature
from feedsmith.publish.websub.notify import WebSubSink
from feedsmith.publish.websub.store import WebSubStore
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import post_text
from websub_servers import Clock, Received, Recorder, challenge_of, echo, serving, until

NOW = datetime(2025, 12, 1, tzinfo=UTC)
#: README: deliveries are "given up after 20 attempts".
DELIVERY_ATTEMPTS = 20
#: Past the longest retry wait (the backoff is capped at an hour).
PAST_ANY_BACKOFF = 3601.0


def _gets(recorder: Recorder) -> list[Received]:
    return [r for r in recorder.requests if r.method == "GET"]


def _posts(recorder: Recorder) -> list[Received]:
    return [r for r in recorder.requests if r.method == "POST"]


@pytest.fixture
def hub(site: Any) -> Iterator[Any]:
    site.write_post("2025-11-01-first.md", post_text("First", 1, "[keep]"))
    site.settings["websub"] = {"builtin": True, "allow_private_callbacks": True}
    config = site.config()
    clock = Clock()
    sink = WebSubSink(config, clock=clock)
    recorder = Recorder(answer=echo)
    with serving(recorder) as base:

        class Hub:
            store = WebSubStore(config.state_dir)
            client = create_app(config, FeedStore.for_config(config)).test_client()
            callback = base + "/cb"
            topic = feed_url(config, "all.atom.xml")
            posts = 1

            def build(self) -> None:
                assert build_site(config, NOW, sinks=[sink]).ok
                assert sink.sender.wait_idle(30)

            def new_post(self) -> None:
                """A change of every feed's bytes, delivered to its subscribers."""
                self.posts += 1
                n = self.posts
                site.write_post(f"2025-11-{n:02d}-p{n}.md", post_text(f"Post {n}", n, "[keep]"))
                self.build()

            def request(self, mode: str = "subscribe", secret: str | None = None) -> None:
                form = {"hub.callback": self.callback, "hub.mode": mode, "hub.topic": self.topic}
                if secret is not None:
                    form["hub.secret"] = secret
                assert self.client.post("/websub", data=form).status_code == 202

            def later(self, seconds: float) -> None:
                """Move the clock and let the sender do all that became due."""
                clock.offset += seconds
                sink.sender.wake()
                assert sink.sender.wait_idle(30)

            def count(self, name: str) -> int:
                return self.store.counters().get(name, 0)

            def rows(self, table: str) -> int:
                return self.store.depths()[table]

        h = Hub()
        h.recorder, h.sink = recorder, sink
        h.build()
        yield h
        sink.sender.stop()


def _subscribed(hub: Any, secret: str | None = None) -> None:
    hub.request(secret=secret)
    hub.sink.sender.wake()
    until(lambda: hub.rows("subscriptions") == 1, "the verified subscription")


# -- content distribution ----------------------------------------------------------------------


def test_a_callback_answering_410_gone_ends_its_subscription(hub: Any) -> None:
    _subscribed(hub)
    hub.recorder.answer = lambda r: (410, {}, b"") if r.method == "POST" else echo(r)
    hub.new_post()
    assert len(_posts(hub.recorder)) == 1
    assert hub.rows("subscriptions") == 0 and hub.rows("deliveries") == 0
    assert hub.count("delivered") == 0
    hub.recorder.answer = echo  # even were it willing again: it said the subscription is over
    hub.new_post()
    hub.later(PAST_ANY_BACKOFF)
    assert len(_posts(hub.recorder)) == 1  # no further deliveries, no retries
    assert hub.rows("deliveries") == 0


def test_a_delivery_is_dropped_after_its_last_attempt(
    hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _subscribed(hub)
    hub.recorder.answer = lambda r: (503, {}, b"") if r.method == "POST" else echo(r)
    caplog.set_level(logging.INFO, logger="feedsmith.websub")
    hub.new_post()
    for _ in range(DELIVERY_ATTEMPTS - 1):
        assert hub.rows("deliveries") == 1
        hub.later(PAST_ANY_BACKOFF)
    assert len(_posts(hub.recorder)) == DELIVERY_ATTEMPTS
    assert hub.count("delivery_failures") == DELIVERY_ATTEMPTS
    assert hub.count("deliveries_dropped") == 1
    assert hub.rows("deliveries") == 0
    assert hub.rows("subscriptions") == 1  # a dropped change does not end the subscription
    dropped = [r for r in caplog.records if "delivery dropped" in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.ERROR
    assert f"after {DELIVERY_ATTEMPTS} attempts" in dropped[0].getMessage()
    assert hub.callback in dropped[0].getMessage()
    hub.later(PAST_ANY_BACKOFF)
    assert len(_posts(hub.recorder)) == DELIVERY_ATTEMPTS  # nothing more for that change


def test_the_first_attempt_that_succeeds_ends_the_retries(hub: Any) -> None:
    _subscribed(hub)
    answers = [503] * 3

    def flaky(req: Received) -> tuple[int, dict[str, str], bytes]:
        if req.method == "POST":
            return (answers.pop(0) if answers else 204), {}, b""
        return echo(req)

    hub.recorder.answer = flaky
    hub.new_post()
    for _ in range(5):
        hub.later(PAST_ANY_BACKOFF)
    assert len(_posts(hub.recorder)) == 4
    assert hub.count("delivered") == 1 and hub.count("deliveries_dropped") == 0
    assert hub.rows("deliveries") == 0 and hub.rows("subscriptions") == 1


# -- verification of intent (§5.3) -------------------------------------------------------------


def _hang_up(req: Received) -> tuple[int, dict[str, str], bytes]:
    """The connection closes with no answer: a network error to the hub."""
    raise ConnectionResetError("the subscriber hung up")


def test_a_network_error_while_verifying_is_retried_up_to_the_limit(hub: Any) -> None:
    hub.recorder.answer = _hang_up
    hub.request()
    hub.later(0)
    until(lambda: len(_gets(hub.recorder)) == 1, "the first verification attempt")
    assert hub.rows("requests") == 1  # kept for a retry
    for _ in range(10):  # more chances than the limit: the limit, not the test, stops it
        hub.later(PAST_ANY_BACKOFF)
        if hub.rows("requests") == 0:
            break
    attempts = len(_gets(hub.recorder))
    assert 1 < attempts < 10, attempts
    assert hub.rows("requests") == 0 and hub.rows("subscriptions") == 0
    assert hub.count("verify_failed") == 1 and hub.count("verified") == 0
    hub.later(PAST_ANY_BACKOFF)
    assert len(_gets(hub.recorder)) == attempts


def test_a_network_error_then_an_echo_verifies(hub: Any) -> None:
    hub.recorder.answer = _hang_up
    hub.request()
    hub.later(0)
    until(lambda: len(_gets(hub.recorder)) == 1, "the first verification attempt")
    hub.recorder.answer = echo
    hub.later(PAST_ANY_BACKOFF)
    assert len(_gets(hub.recorder)) == 2
    assert hub.rows("subscriptions") == 1 and hub.count("verified") == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(lambda r: (404, {}, challenge_of(r).encode()), id="404"),
        pytest.param(lambda r: (200, {}, b"not-the-challenge"), id="wrong-challenge"),
        pytest.param(lambda r: (200, {}, b""), id="empty-body"),
        pytest.param(
            lambda r: (302, {"Location": "http://127.0.0.1:1/"}, challenge_of(r).encode()),
            id="redirect",
        ),
    ],
)
def test_a_refused_verification_is_final(
    hub: Any, answer: Callable[[Received], tuple[int, dict[str, str], bytes]]
) -> None:
    hub.recorder.answer = answer
    hub.request()
    hub.later(0)
    until(lambda: hub.rows("requests") == 0, "the verification")
    for _ in range(3):
        hub.later(PAST_ANY_BACKOFF)
    assert len(_gets(hub.recorder)) == 1
    assert hub.rows("subscriptions") == 0
    assert hub.count("verify_failed") == 1 and hub.count("verified") == 0


# -- authenticated content distribution (§8) ---------------------------------------------------


def test_signature_is_sha256_hmac_of_the_body_in_hex() -> None:
    # RFC 4231 test case 2, computed by the RFC's authors, not by the code under test
    rfc4231 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert signature(b"Jefe", b"what do ya want for nothing?") == "sha256=" + rfc4231
    secret, body = "sécret".encode(), b"<feed>\x00\xff</feed>"
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    assert signature(secret, body) == expected
    assert signature(secret, body + b" ") != expected
    assert signature(secret + b"x", body) != expected


def _verified_by_receiver(secret: bytes, req: Received) -> bool:
    """What a subscriber does (§8): recompute the HMAC of the body it got, compare in
    constant time; the method is the part before '='."""
    header = req.headers.get("X-Hub-Signature", "")
    method, _, digest = header.partition("=")
    if method != "sha256":
        return False
    mine = hmac.new(secret, req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mine, digest)


def test_a_delivery_to_a_subscriber_with_a_secret_is_signed_and_verifies(hub: Any) -> None:
    _subscribed(hub, secret="a shared secret")
    hub.new_post()
    (post,) = _posts(hub.recorder)
    assert hub.count("delivered") == 1
    assert post.body.startswith(b"<?xml") and b"Post 2" in post.body
    assert _verified_by_receiver(b"a shared secret", post)
    assert not _verified_by_receiver(b"another secret", post)


def test_a_delivery_to_a_subscriber_without_a_secret_is_not_signed(hub: Any) -> None:
    _subscribed(hub)
    hub.new_post()
    (post,) = _posts(hub.recorder)
    assert "X-Hub-Signature" not in post.headers
