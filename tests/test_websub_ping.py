"""Publish pings through real processes: ``feedsmith build`` and ``feedsmith serve`` against a
real (small, in-test) HTTP hub. Waits are for what the hub received or what ``/healthz`` says."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.layout import feed_url
from feedsmith.publish.websub.retry import backoff
from test_serve_e2e import eventually, free_port, post_text, run_serve
from websub_servers import Received, Recorder, pinged_topics, serving

pytestmark = pytest.mark.slow


def _build(site: Any) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(site.config_path), "build"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=site.root, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _shas(site: Any) -> dict[str, str]:
    manifest = json.loads((site.output_dir / "index.json").read_bytes())
    return {rel: rec["sha256"] for f in manifest["feeds"] for rel, rec in f["files"].items()}


def _outbox(site: Any) -> list[tuple[str, str, int]]:
    with sqlite3.connect(site.root / ".feedsmith" / "websub.sqlite") as db:
        return db.execute("SELECT hub, topic, attempts FROM pings ORDER BY topic").fetchall()


def test_one_changed_post_pings_exactly_its_topics_and_a_no_change_build_none(
    site: Any,
) -> None:
    site.write_post("2025-11-01-first.md", post_text("First", 1, "[alpha, 最新ニュース]"))
    site.write_post("2025-11-02-second.md", post_text("Second", 2, "[beta]"))
    hub = Recorder()
    with serving(hub) as base:
        site.settings["websub"] = {"hubs": [base + "/hub"]}
        config = site.config()
        _build(site)  # the first build: every topic is new to the hub
        first = set(_shas(site))
        assert sorted(pinged_topics(hub.requests)) == sorted(feed_url(config, r) for r in first)
        assert all(r.path == "/hub" for r in hub.requests)
        assert all(
            r.headers["Content-Type"] == "application/x-www-form-urlencoded" for r in hub.requests
        )
        hub.requests.clear()

        before = _shas(site)
        site.write_post("2025-11-02-second.md", post_text("Second, edited", 2, "[beta]"))
        _build(site)
        after = _shas(site)
        changed = {rel for rel in after if before.get(rel) != after[rel]}
        assert changed and "tags/alpha.atom.xml" not in changed  # the other post's feeds
        assert sorted(pinged_topics(hub.requests)) == sorted(feed_url(config, r) for r in changed)
        hub.requests.clear()

        _build(site)  # nothing changed
        assert hub.requests == []
        assert _outbox(site) == []


def test_a_hanging_hub_never_delays_a_build(site: Any, tmp_path: Path) -> None:
    release = threading.Event()

    def hang(req: Received) -> tuple[int, dict[str, str], bytes]:
        release.wait(60)
        return 204, {}, b""

    site.write_post("2025-11-01-first.md", post_text("First", 1))
    hub = Recorder(answer=hang)
    with serving(hub) as base:
        site.settings["websub"] = {"hubs": [base + "/hub"]}
        try:
            with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
                hub.wait_for(lambda got: len(got) >= 1)  # the first ping is held by the hub
                site.write_post("2025-11-02-second.md", post_text("Second", 2))
                eventually(
                    lambda: served.healthz()["builds"]["ok"] >= 2, "a build after the save", 60
                )
                # Still held: the only requests are that first ping (sent again once its
                # deadline passed, when a busy machine made the build take that long).
                held_so_far = list(hub.requests)
                assert {r.body for r in held_so_far} == {held_so_far[0].body}
                assert not release.is_set()
                assert served.healthz()["websub"]["outbox"] > 0
                release.set()
                eventually(lambda: served.healthz()["websub"]["outbox"] == 0, "pings out", 60)
                # Every topic changed twice. Pending pings were coalesced (one each); the one
                # in flight during the second change announced the old bytes, so it went again.
                held = pinged_topics(hub.requests[:1])[0]
                counts = Counter(pinged_topics(hub.requests))
                assert counts.pop(held) >= 2
                assert set(counts.values()) == {1}
                assert len(counts) + 1 == len(_shas(site))
        finally:
            release.set()


def test_a_dead_hub_is_retried_with_backoff_and_the_outbox_survives_a_restart(
    site: Any, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there: connection refused
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"hubs": [f"http://127.0.0.1:{port}/hub"]}
    with run_serve(site, tmp_path / "serve1.log", interval=3600) as served:
        failing = eventually(
            lambda: (f := served.healthz()["websub"]["failing"]) and f["attempts"] >= 2 and f,
            "a second failed attempt",
            timeout=60,
        )
        assert failing["error"] == "ConnectionError"
        topics = set(_shas(site))
        assert served.healthz()["websub"]["outbox"] == len(topics)
        metrics = eventually(lambda: _metrics(served), "/metrics")
        assert f'feedsmith_websub_queue{{queue="pings"}} {len(topics)}.0' in metrics
        assert "feedsmith_websub_ping_failures_total" in metrics
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=30) == 0
    kept = _outbox(site)
    assert {t for _, t, _ in kept} == {feed_url(site.config(), r) for r in topics}
    assert all(attempts >= 1 for _, _, attempts in kept)
    assert backoff(1) < backoff(2) < backoff(3)

    hub = Recorder()
    with serving(hub, port), run_serve(site, tmp_path / "serve2.log", interval=3600) as served:
        hub.wait_for(lambda got: len(got) >= len(topics))
        eventually(lambda: served.healthz()["websub"]["outbox"] == 0, "an empty outbox")
        assert sorted(pinged_topics(hub.requests)) == sorted(t for _, t, _ in kept)
        counters = served.healthz()["websub"]["counters"]
        assert counters["pings_sent"] == len(topics)


def _metrics(served: Any) -> str:
    from test_serve_e2e import http

    status, _, body = http(served.url("/metrics"))
    return body.decode() if status == 200 else ""


def test_feedsmith_build_exits_after_a_bounded_drain_when_the_hub_hangs(site: Any) -> None:
    release = threading.Event()

    def hang(req: Received) -> tuple[int, dict[str, str], bytes]:
        release.wait(60)
        return 204, {}, b""

    site.write_post("2025-11-01-first.md", post_text("First", 1))
    hub = Recorder(answer=hang)
    with serving(hub) as base:
        site.settings["websub"] = {"hubs": [base + "/hub"]}
        site.config()
        try:
            done = _build(site)  # exit 0: the feeds are out, the pings wait in the outbox
            assert " feeds written" in done.stdout
            assert len(hub.requests) == 1  # the one ping in flight when the drain gave up
            assert len(_outbox(site)) == len(_shas(site))
        finally:
            release.set()
