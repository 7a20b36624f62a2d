"""The ``stats:`` settings, who may see ``/stats`` and ``/stats.json``, the chart, the
``/metrics`` gauges, the ``/`` column and the client address behind a trusted proxy —
through the WSGI app with an injected clock and the recorder's explicit flush."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feedsmith.cli import main
from feedsmith.config import load_config
from feedsmith.core.config import ConfigError
from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from feedsmith.serve.subscribers.feedmap import ClientAddress
from stats_support import FEEDLY_1, NETNEWSWIRE, write_posts

NOW = datetime(2026, 12, 7, 18, 0, 0, tzinfo=UTC)
TOKEN = "stats-token"


@pytest.mark.parametrize(
    ("stats", "key"),
    [
        ({"enabled": "yes"}, "stats.enabled"),
        ({"public": 1}, "stats.public"),
        ({"window_hours": 0}, "stats.window_hours"),
        ({"keep_days": "400"}, "stats.keep_days"),
        ({"flush_seconds": 0}, "stats.flush_seconds"),
        ({"colour": "red"}, "stats.colour"),
    ],
)
def test_bad_stats_settings_name_the_key_and_file(site: Any, stats: Any, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        site.config(stats=stats)
    assert key in str(err.value) and "config.yaml" in str(err.value)


def test_bad_settings_exit_2(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError):
        site.config(server={"trusted_proxies": ["10.0.0.0/8", "not-an-ip"]})
    assert main(["-c", str(site.config_path), "stats"]) == 2
    assert "server.trusted_proxies" in capsys.readouterr().err


def test_settings_defaults_and_values(site: Any) -> None:
    config = site.config()
    assert (config.stats.enabled, config.stats.window_hours, config.stats.keep_days) == (
        True,
        48,
        400,
    )
    assert config.stats.public is False and config.server.trusted_proxies == ()
    config = site.config(
        stats={"public": True, "window_hours": 24, "flush_seconds": 0.5},
        server={"trusted_proxies": ["10.1.2.3", "fd00::/8"]},
    )
    assert config.stats.public and config.stats.window_hours == 24
    assert config.server.trusted_proxies == ("10.1.2.3/32", "fd00::/8")
    assert load_config(site.config_path).fingerprint() == site.config().fingerprint()


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    address = ClientAddress(["10.0.0.0/8"])
    assert address("10.0.0.5", "198.51.100.7, 10.0.0.9") == "198.51.100.7"
    assert address("203.0.113.1", "198.51.100.7") == "203.0.113.1"  # the client wrote it
    assert address("10.0.0.5", "garbage, 198.51.100.7") == "198.51.100.7"
    assert address("10.0.0.5", None) == "10.0.0.5"
    assert address("10.0.0.5", "," * 100_000) == "10.0.0.5"
    assert ClientAddress([])("10.0.0.5", "198.51.100.7") == "10.0.0.5"


def app_for(site: Any, monkeypatch: pytest.MonkeyPatch, token: str | None = TOKEN, **kw: Any):
    write_posts(site)
    config = site.config(**kw)
    build_site(config, NOW)
    if token:
        monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", token)
    else:
        monkeypatch.delenv("FEEDSMITH_REBUILD_TOKEN", raising=False)
    clock = [NOW]
    app = create_app(config, FeedStore.for_config(config), clock=lambda: clock[0])
    return app, app.test_client(), clock


def poll(client: Any, ua: str, addr: str = "127.0.0.1", **headers: str) -> int:
    return int(
        client.get(
            "/feeds/all.atom.xml",
            headers={"User-Agent": ua, **headers},
            environ_base={"REMOTE_ADDR": addr},
        ).status_code
    )


def test_stats_need_the_token_unless_public(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, _ = app_for(site, monkeypatch)
    assert poll(client, FEEDLY_1) == 200
    app.extensions["feedsmith"]["subscribers"].flush()
    for path in ("/stats", "/stats.json"):
        refused = client.get(path)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        basic = base64.b64encode(f"owner:{TOKEN}".encode()).decode()
        assert client.get(path, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    page = client.get("/stats", headers={"Authorization": f"Bearer {TOKEN}"})
    html = page.get_data(as_text=True)
    assert "<svg" in html and "<script" not in html and "462" in html
    assert "script-src" not in page.headers["Content-Security-Policy"]
    # Not public: the / page has no subscriber column.
    assert "Subscribers" not in client.get("/").get_data(as_text=True)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'feedsmith_subscribers{feed="all:all",reader="Feedly"} 462.0' in metrics


def test_without_a_token_the_pages_do_not_exist(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, client, _ = app_for(site, monkeypatch, token=None)
    assert client.get("/stats.json").status_code == 404
    assert client.get("/stats").status_code == 404


def test_public_stats_and_the_index_column(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, clock = app_for(site, monkeypatch, token=None, stats={"public": True})
    assert poll(client, FEEDLY_1) == 200
    assert poll(client, NETNEWSWIRE, "127.0.0.2") == 200
    app.extensions["feedsmith"]["subscribers"].flush()
    doc = client.get("/stats.json").get_json()
    assert doc["total"] == 463 and doc["window_hours"] == 48
    assert doc["history"] == [{"date": "2026-12-07", "total": 463}]
    index = client.get("/").get_data(as_text=True)
    assert '<th scope="col">Subscribers</th>' in index and '<td class="num">463</td>' in index
    # Two days later, outside the window: nobody polled, so nobody is counted now, but the
    # history keeps the day.
    clock[0] = NOW + timedelta(hours=49)
    later = client.get("/stats.json").get_json()
    assert later["total"] == 0
    assert later["history"] == [{"date": "2026-12-07", "total": 463}]


def test_behind_a_trusted_proxy_the_forwarded_client_counts(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, _ = app_for(
        site, monkeypatch, stats={"public": True}, server={"trusted_proxies": ["127.0.0.1"]}
    )
    for addr in ("198.51.100.1", "198.51.100.2", "198.51.100.2"):
        poll(client, NETNEWSWIRE, **{"X-Forwarded-For": addr})
    app.extensions["feedsmith"]["subscribers"].flush()
    assert client.get("/stats.json").get_json()["total"] == 2


def test_counting_off_counts_nothing(site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app, client, _ = app_for(site, monkeypatch, stats={"enabled": False})
    assert poll(client, FEEDLY_1) == 200
    assert "subscribers" not in app.extensions["feedsmith"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/stats.json", headers=auth).status_code == 404
    assert not (site.root / ".feedsmith" / "subscribers.sqlite").exists()
    assert json.loads(client.get("/healthz").data)["status"]


def test_a_flood_of_new_pollers_is_bounded_in_memory(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, _ = app_for(site, monkeypatch, stats={"public": True})
    subs = app.extensions["feedsmith"]["subscribers"]
    monkeypatch.setattr("feedsmith.serve.subscribers.recorder.MAX_PENDING", 3)
    for n in range(5):
        poll(client, f"Reader{n}/1.0", f"127.0.1.{n}")
    for _ in range(10):  # the same pollers again: no new entries, nothing dropped
        poll(client, "Reader0/1.0", "127.0.1.0")
    assert len(subs.pending) == 3 and subs.dropped == 2
    assert subs.flush() == 3
    assert client.get("/stats.json").get_json()["total"] == 3
