"""Report lines can't be forged (issue 25 items 4 and 5).

A post's file name is chosen by whoever can write to ``posts_dir``. A newline in it must not
print a second, forged report line; an ESC or a bidi override must not reach a terminal or a log
raw. Every place that prints a path or a reason escapes it the same way
(:func:`feedsmith.core.text.escape_controls`): ``check``, ``build``, the server's log, ``/healthz``
and ``status.json``. Skipped symlinked folders get a report line like every other skipped file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from feedsmith.core.model import Problem
from feedsmith.core.text import escape_controls
from feedsmith.serve.status import STATUS_FILE
from test_serve_e2e import TOKEN, eventually, http, post_text, run_serve

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): (?P<severity>error|warning|info): (?P<reason>.+)$"
)

FORGED = "a.md:1: error: x\nFORGED.md"  # would print "FORGED.md:1: error: …" on its own line
ESC = "b\x1b[31mred.md"  # would turn the terminal red
BIDI = "c\u202egpj.md"  # would display as "cmd.jpg"
BACKSLASH = "d\\nlit.md"  # a real backslash: must not read like the newline above
HOSTILE = {
    FORGED: "a.md:1: error: x\\nFORGED.md",
    ESC: "b\\x1b[31mred.md",
    BIDI: "c\\u202egpj.md",
    BACKSLASH: "d\\\\nlit.md",
}
RAW = ("\x1b", "\u202e", "\r")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain/日本語.md", "plain/日本語.md"),
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x00\x07\x1b\x7f", "\\x00\\x07\\x1b\\x7f"),
        ("c1\x85\x9b", "c1\\x85\\x9b"),  # NEL and CSI: C1 controls
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        ("back\\slash", "back\\\\slash"),
        ("bytes\udcff", "bytes\\udcff"),  # an undecodable byte of a file name (surrogateescape)
    ],
)
def test_escape_controls_table(raw: str, shown: str) -> None:
    assert escape_controls(raw) == shown
    assert "\n" not in escape_controls(raw) and escape_controls(raw).isprintable()


def test_escaping_is_unambiguous() -> None:
    # A real newline and a backslash followed by "n" never print the same.
    assert escape_controls("a\nb") != escape_controls("a\\nb")
    line = Problem("posts/" + FORGED, None, "error", "bad\x1b]0;title\x07").format()
    assert line == str(Problem("posts/" + FORGED, None, "error", "bad\x1b]0;title\x07"))
    assert line == "posts/a.md:1: error: x\\nFORGED.md:1: error: bad\\x1b]0;title\\x07"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONIOENCODING": "utf-8"}
    env.pop("FEEDSMITH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "feedsmith", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def _hostile_site(site) -> None:  # type: ignore[no-untyped-def]
    site.write_post("2025-11-16-ok.md", post_text("ok", 16))
    for name in HOSTILE:
        site.write_post(name, b"")  # empty: each file is one "error: empty file"


def _assert_one_escaped_line_each(text: str) -> None:
    for raw in RAW:
        assert raw not in text
    lines = text.splitlines()
    assert not any(line.startswith("FORGED") for line in lines)
    for shown in HOSTILE.values():
        matching = [line for line in lines if shown in line]
        assert matching == [f"posts/{shown}:1: error: empty file"], (shown, lines)


def test_check_prints_one_escaped_line_per_hostile_name(site) -> None:  # type: ignore[no-untyped-def]
    _hostile_site(site)
    site.config()
    done = _run(["check", "-c", str(site.config_path)], site.root)
    assert done.returncode == 1, done.stderr
    out = done.stdout.decode("utf-8")
    _assert_one_escaped_line_each(out)
    lines = out.splitlines()
    assert len(lines) == len(HOSTILE) + 1  # one per problem, then the summary
    assert all(LINE.match(line) for line in lines[:-1])
    assert lines[-1] == f"1 posts, {len(HOSTILE)} skipped, {len(HOSTILE)} problems"


def test_build_prints_one_escaped_line_per_hostile_name(site) -> None:  # type: ignore[no-untyped-def]
    _hostile_site(site)
    site.config()
    done = _run(["build", "-c", str(site.config_path), "--no-progress"], site.root)
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode("utf-8")
    _assert_one_escaped_line_each(err)
    assert (site.output_dir / "all.atom.xml").exists()  # the broken names broke nothing else


def test_check_reports_each_skipped_symlinked_folder(site) -> None:  # type: ignore[no-untyped-def]
    site.write_post("sub/2025-11-16-ok.md", post_text("ok", 16))
    posts = site.posts_dir
    os.symlink(".", posts / "dot")
    os.symlink("..", posts / "sub" / "up")
    os.symlink(".", posts / "sub" / "here")
    os.symlink("cycle2", posts / "cycle1")
    os.symlink("cycle1", posts / "cycle2")
    site.config()
    done = _run(["check", "-c", str(site.config_path)], site.root)
    assert done.returncode == 0, done.stderr  # info lines only: nothing is invalid
    lines = done.stdout.decode("utf-8").splitlines()
    loop = "symlinked folder skipped: it points to {}, which contains it (a loop)"
    assert lines == [
        "posts/cycle1:1: info: symlink loop, skipped: cycle2",
        "posts/cycle2:1: info: symlink loop, skipped: cycle1",
        "posts/dot:1: info: " + loop.format("posts_dir"),
        "posts/sub/here:1: info: " + loop.format("posts_dir/sub"),
        "posts/sub/up:1: info: " + loop.format("posts_dir"),
        "1 posts, 0 skipped, 5 problems",
    ]


@pytest.mark.slow
def test_serve_log_healthz_and_status_carry_the_same_escaped_line(site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The server's log, ``/healthz`` and ``status.json`` name a broken post whose last valid
    version is kept the one escaped way, one line each."""
    site.write_post("2025-11-16-ok.md", post_text("ok", 16))
    for day, name in enumerate(HOSTILE, start=17):
        site.write_post(name, post_text(f"hostile {day}", day))
    with run_serve(site, tmp_path / "serve.log", interval=3600, watch=False) as served:
        assert served.healthz()["counts"]["posts"] == 1 + len(HOSTILE)
        for name in HOSTILE:
            (site.posts_dir / name).write_bytes(b"")  # a save caught half-way
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert http(served.url("/-/rebuild"), method="POST", headers=auth)[0] == 202
        health = eventually(
            lambda: (h := served.healthz())["kept"] and h, "the kept posts in /healthz", 60
        )
        eventually(
            lambda: all(shown in served.log_text() for shown in HOSTILE.values()),
            "the kept posts' log lines",
        )
        # The operator's view (token) carries the whole line; the public one the name only.
        _, _, body = http(served.url("/healthz?detail=1"), headers=auth)
        kept = json.loads(body)["detail"]["kept"]
        log_text = served.log.read_bytes().decode("utf-8")
    public_kept = health["kept"]
    assert len(kept) == len(public_kept) == len(HOSTILE)
    for shown in HOSTILE.values():
        [line] = [k for k in kept if shown in k]
        assert line.startswith(f"posts/{shown}:1: warning: ")
        log_lines = [ln for ln in log_text.splitlines() if shown in ln]
        assert len(log_lines) == 1 and log_lines[0].endswith(line), log_lines
        [public_line] = [k for k in public_kept if shown in k]
        assert public_line.startswith(f"{shown}: broken, ")
    status = json.loads((site.root / ".feedsmith" / STATUS_FILE).read_bytes())
    assert status["kept"] == kept
    for raw in RAW:
        assert raw not in log_text
        assert all(raw not in k for k in kept + public_kept)
    assert not any(ln.startswith("FORGED") for ln in log_text.splitlines())
