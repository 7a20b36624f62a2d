"""`feedsmith check`: one line per problem, a summary line, exit codes, and no writes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from feedsmith.cli import main

REPO = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): (?P<severity>error|warning|info): (?P<reason>.+)$"
)
SUMMARY = re.compile(r"^(\d+) posts, (\d+) skipped, (\d+) problems$")


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def write_valid_site(site) -> None:  # type: ignore[no-untyped-def]
    site.write_post(
        "2025-11-16-ok.md",
        """
        ---
        title: "正常な記事"
        date: 2025-11-16 20:35:04 +0000
        tags: [AI]
        ---
        本文です。
        """,
    )
    site.write_post("2025-11-17-draft.md", "---\ntitle: d\ndraft: true\n---\nx\n")


def test_check_valid_site_exits_0_and_prints_summary(site, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    write_valid_site(site)
    site.config()
    monkeypatch.chdir(site.root)
    before = files_under(site.root)
    code = main(["-c", str(site.config_path), "check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[-1] == "1 posts, 0 skipped, 1 problems"
    assert LINE.match(out[0])
    assert out[0] == "posts/2025-11-17-draft.md:3: info: draft: excluded"
    assert files_under(site.root) == before


def test_check_invalid_post_exits_1_with_path_line_severity_reason(
    site, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    write_valid_site(site)
    site.write_post("bad.md", "---\ntitle: x\ndate: not a date\n---\nbody\n")
    site.write_post("2025-01-01-broken.md", "---\ntitle: [\n---\nbody\n")
    site.config()
    monkeypatch.chdir(site.root)
    before = files_under(site.root)
    code = main(["-c", "config.yaml", "check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    parsed = [LINE.match(line) for line in out[:-1]]
    assert all(parsed), out
    by_path = {m["path"]: m for m in parsed if m}
    assert by_path["posts/bad.md"]["severity"] == "error"
    assert by_path["posts/bad.md"]["line"] == "3"
    assert by_path["posts/bad.md"]["reason"].startswith("date: ")
    assert by_path["posts/2025-01-01-broken.md"]["severity"] == "error"
    assert out[-1] == "1 posts, 2 skipped, 3 problems"
    assert files_under(site.root) == before


def test_check_warning_alone_still_exits_0(site, capsys) -> None:  # type: ignore[no-untyped-def]
    site.write_post("2025-01-01-sjis.md", "---\ntitle: 日本語\n---\n本文\n".encode("cp932"))
    code = main(["-c", str(site.config().path), "check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert ": warning: " in out[0]
    assert out[-1] == "1 posts, 0 skipped, 1 problems"


def test_check_bad_config_exits_2_naming_key_and_file(site, capsys) -> None:  # type: ignore[no-untyped-def]
    site.config()
    site.config_path.write_text(site.config_path.read_text("utf-8") + "surprise_key: 1\n", "utf-8")
    code = main(["-c", str(site.config_path), "check"])
    captured = capsys.readouterr()
    assert code == 2
    assert "surprise_key" in captured.err
    assert str(site.config_path) in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("FEEDSMITH_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "feedsmith", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_as_a_real_process_exit_codes(site) -> None:  # type: ignore[no-untyped-def]
    write_valid_site(site)
    site.config()
    ok = _run(["-c", "config.yaml", "check"], site.root)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "1 posts, 0 skipped, 1 problems"

    site.write_post("nodate.md", "---\ntitle: t\n---\nb\n")
    bad = _run(["-c", "config.yaml", "check"], site.root)
    assert bad.returncode == 1
    assert (
        "posts/nodate.md:1: error: no date: front matter has no 'date' and the file name has no "
        "YYYY-MM-DD- prefix"
    ) in bad.stdout.splitlines()
    assert "Traceback" not in bad.stderr

    site.config_path.write_text("site: {titel: x}\n", "utf-8")
    broken = _run(["-c", "config.yaml", "check"], site.root)
    assert broken.returncode == 2
    assert "site.titel" in broken.stderr and "config.yaml" in broken.stderr
    assert not (site.root / "feeds").exists()
    assert not (site.root / ".feedsmith").exists()


@pytest.mark.parametrize("config_name", ["config.yaml"])
def test_bundled_sample_blog_checks_clean(config_name: str, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["-c", str(REPO / config_name), "check"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    assert not any(": error: " in line for line in out)
    posts, skipped, _ = map(int, SUMMARY.match(out[-1]).groups())  # type: ignore[union-attr]
    assert posts >= 12
    assert skipped == 0
    assert any("draft" in line and ": info: " in line for line in out)
    assert any("scheduled for 2030" in line for line in out)
