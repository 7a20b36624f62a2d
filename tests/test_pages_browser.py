"""Feed pages in a real browser engine: headless Chromium loads a page over HTTP from the app.

What an HTML parser cannot tell: that the served CSP lets the page's own style and script run
(the copy buttons are shown by ``feedsmith.js``), that hostile text stays text once a browser
has built the DOM, and what the page looks like (a screenshot, kept in the test's tmp dir).
Skipped where no Chromium is installed, except under CI (``CI`` set, as CI services do): there a
missing browser is a failure, not a silent skip. ``.ci/run`` installs Debian's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import html5lib
import pytest
from werkzeug.serving import make_server

from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)> & </title>'
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "no Chromium here (Debian: apt-get install chromium)"
pytestmark = pytest.mark.slow


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def browser() -> str:
    """Chromium's path; skips without one locally, fails without one in CI."""
    if CHROMIUM is None:
        if _in_ci():
            pytest.fail(f"CI is set but {NO_CHROMIUM}: the browser test must run in CI")
        pytest.skip(NO_CHROMIUM)
    return CHROMIUM


#: As the machine's probe runs it: no sandbox (root), and no background connections, which this
#: machine's closed network would refuse.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture
def base_url(browser: str, site: Any) -> Iterator[str]:
    for n, title in enumerate(["日本語の投稿", HOSTILE, "Third"]):
        site.write_post(
            f"2025-10-0{n + 1}-p{n}.md",
            f"---\ntitle: {json.dumps(title)}\ndate: 2025-10-0{n + 1}\ntags: [AI]\n"
            f"excerpt: {json.dumps('要約 ' + title)}\n---\n\nBody.\n",
            dedent=False,
        )
    config = site.config()
    build_site(config, T1)
    server = make_server(
        "127.0.0.1", 0, create_app(config, FeedStore.for_config(config)), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,  # bounds a hang only; a page loads in about a second
        check=True,
    )


def test_chromium_shows_the_page_runs_its_script_under_the_csp_and_keeps_text_text(
    base_url: str, tmp_path: Path
) -> None:
    url = f"{base_url}/feeds/tags/ai.html"
    dom = chromium(tmp_path, "--dump-dom", url).stdout
    root = html5lib.parse(dom, namespaceHTMLElements=False)
    heading = root.find(".//h1")
    assert heading is not None and "".join(heading.itertext()) == "Tag: AI"
    titles = [a.text for a in root.findall(".//section[@class='entries']//h3/a")]
    assert titles == ["Third", HOSTILE, "日本語の投稿"]
    # feedsmith.js ran (same origin, allowed by script-src 'self') and showed the buttons.
    buttons = root.findall(".//button[@class='copy']")
    assert len(buttons) == 3 and all(b.get("hidden") is None for b in buttons)
    # The hostile title added no element: one script (ours), no image.
    assert [s.get("src") for s in root.iter("script")] == ["../feedsmith.js"]
    assert not list(root.iter("img"))

    shot = tmp_path / "page.png"
    chromium(tmp_path, "--window-size=900,1200", f"--screenshot={shot}", url)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), (None, "1 skipped")])
def test_without_chromium_ci_fails_and_a_local_run_skips(ci: str | None, outcome: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = str(Path(sys.executable).parent)  # no chromium on it
    if ci is not None:
        env["CI"] = ci
    args = ["-p", "no:xdist", "-p", "no:cacheprovider", "-k", "test_chromium_shows", "-q"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, *args],
        capture_output=True,
        env=env,
        cwd=Path(__file__).parent.parent,
        timeout=300,  # bounds a hang only
        check=False,
    )
    out = run.stdout.decode()
    assert outcome in out, out
    assert NO_CHROMIUM in out
    assert run.returncode == (1 if ci else 0), out
