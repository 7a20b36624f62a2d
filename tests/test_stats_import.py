"""``feedsmith stats import``: the same numbers from access logs as live counting gives for
the same requests — one log file per supported format (combined, S3, CloudFront), gzipped and
plain — and what the command prints and exits with."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from feedsmith.cli import main
from feedsmith.core.config import Config
from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from stats_support import REQUESTS, counted, doc_paths, expected, write_posts

TOKEN = "stats-token"
NOW = datetime(2026, 12, 7, 18, 0, 0, tzinfo=UTC)


def times() -> list[datetime]:
    """One request a minute, ending a few minutes before NOW (inside the window)."""
    return [NOW - timedelta(minutes=30 - i) for i in range(len(REQUESTS))]


def built(site: Any, **stats: Any) -> Config:
    write_posts(site)
    config = site.config(stats=stats) if stats else site.config()
    build_site(config, NOW)
    return config


def live_document(config: Config, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Live counting in-process: the WSGI app with an injected clock, flushed explicitly."""
    monkeypatch.setenv("FEEDSMITH_REBUILD_TOKEN", TOKEN)
    clock = [NOW]
    app = create_app(config, FeedStore.for_config(config), clock=lambda: clock[0])
    client = app.test_client()
    paths = doc_paths(json.loads((config.output_dir / "index.json").read_text("utf-8")))
    for req, when in zip(REQUESTS, times(), strict=True):
        clock[0] = when
        response = client.get(
            paths[req.doc],
            headers={"User-Agent": req.ua},
            environ_base={"REMOTE_ADDR": req.addr},
        )
        assert response.status_code == 200
    clock[0] = NOW
    app.extensions["feedsmith"]["subscribers"].flush()
    response = client.get("/stats.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.get_json()


def combined_line(req: Any, when: datetime, path: str) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{req.addr} - - [{stamp}] "GET {path} HTTP/1.1" 200 1234 "-" "{req.ua}"\n'


def s3_line(req: Any, when: datetime, path: str) -> str:
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    key = path.removeprefix("/")
    return (
        f"79a5 my-bucket [{stamp}] {req.addr} - 3E57427F3EXAMPLE REST.GET.OBJECT {key} "
        f'"GET /my-bucket/{key} HTTP/1.1" 200 - 1234 1234 7 6 "-" "{req.ua}" - '
        "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= "
        "SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader my-bucket.s3.amazonaws.com TLSv1.2 - -\n"
    )


CF_HEADER = (
    "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
    "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) "
    "x-edge-result-type\n"
)


def cloudfront_line(req: Any, when: datetime, path: str) -> str:
    # CloudFront drops the /feeds/ prefix when the distribution's origin is the folder itself.
    stem = quote(path.removeprefix("/feeds"))
    fields = [
        when.strftime("%Y-%m-%d"),
        when.strftime("%H:%M:%S"),
        "FRA56-C1",
        "1234",
        req.addr,
        "GET",
        "d111111abcdef8.cloudfront.net",
        stem,
        "200",
        "-",
        quote(req.ua, safe="/();:+,.-="),
        "-",
        "-",
        "Hit",
    ]
    return "\t".join(fields) + "\n"


FORMATS: dict[str, tuple[str, Callable[..., str]]] = {
    "combined": ("", combined_line),
    "s3": ("", s3_line),
    "cloudfront": (CF_HEADER, cloudfront_line),
}


@pytest.mark.parametrize("shape", sorted(FORMATS))
@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
def test_import_gives_the_numbers_live_counting_gives(
    make_site: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shape: str,
    zipped: bool,
) -> None:
    live_site = make_site("live")
    live = live_document(built(live_site), monkeypatch)
    want = expected()
    assert live["total"] == want["total"]
    assert counted(live) == want["counted"]

    logged = make_site("logged")
    config = built(logged)
    paths = doc_paths(json.loads((config.output_dir / "index.json").read_text("utf-8")))
    header, line = FORMATS[shape]
    text = header + "".join(
        line(req, when, paths[req.doc]) for req, when in zip(REQUESTS, times(), strict=True)
    )
    # Noise that must not count: an archive page, a 404, a POST, a feed page.
    text += combined_line(REQUESTS[-1], NOW, "/feeds/nope.atom.xml").replace(" 200 ", " 404 ")
    log = logged.root / ("access.log.gz" if zipped else "access.log")
    log.write_bytes(gzip.compress(text.encode()) if zipped else text.encode())

    # One clock for the import and the report: with the wall clock, a run after midnight UTC
    # saw "today" as another day than the logs' and got a second history row.
    monkeypatch.setattr("feedsmith.serve.subscribers.importer.datetime", _Frozen)
    monkeypatch.setattr("feedsmith.serve.subscribers.command.datetime", _Frozen)
    assert main(["-c", str(logged.config_path), "stats", "import", str(log)]) == 0
    assert "13 feed requests, 12 counted" in capsys.readouterr().out
    assert main(["-c", str(logged.config_path), "stats", "--json"]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["total"] == live["total"]
    assert counted(imported) == counted(live)
    assert imported["history"] == [{"date": "2026-12-07", "total": want["total"]}]


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return NOW


def test_lines_that_are_not_log_lines_are_reported_and_the_rest_imported(
    site: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = built(site)
    monkeypatch.setattr("feedsmith.serve.subscribers.importer.datetime", _Frozen)
    monkeypatch.setattr("feedsmith.serve.subscribers.command.datetime", _Frozen)
    log = site.root / "mixed.log"
    good = combined_line(REQUESTS[0], NOW - timedelta(minutes=5), "/feeds/all.atom.xml")
    log.write_text("this is not a log line\n" + good + "x" * 20000 + "\n", "utf-8")
    assert main(["-c", str(config.path), "stats", "import", str(log)]) == 1
    captured = capsys.readouterr()
    assert f"{log}:1: not a combined, S3 or CloudFront log line" in captured.err
    assert f"{log}:3: longer than" in captured.err
    assert main(["-c", str(config.path), "stats"]) == 0
    table = capsys.readouterr().out
    assert "all: all" in table and "462" in table and "Feedly 462" in table
    assert "total 462 subscribers over the last 48 hours" in table


def test_an_unreadable_log_file_exits_3(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    config = built(site)
    missing = site.root / "missing.log"
    assert main(["-c", str(config.path), "stats", "import", str(missing)]) == 3
    assert "missing.log" in capsys.readouterr().err


def test_log_paths_under_any_prefix_map_to_the_feed(make_site: Any, tmp_path: Path) -> None:
    from feedsmith.serve.subscribers.feedmap import FeedMap

    feeds = FeedMap([{"kind": "tag", "name": "AI", "files": {"tags/ai.atom.xml": {}}}])
    for path in ("/feeds/tags/ai.atom.xml", "/bucket/feeds/tags/ai.atom.xml", "/tags/ai.atom.xml"):
        assert feeds.by_path(path) == ("tag", "AI", "atom")
    assert feeds.by_path("/archive/tags/ai/1.atom.xml") is None
    assert feeds.by_path("/" * 5000 + "x") is None
