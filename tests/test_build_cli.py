"""`feedsmith build`: summary line, problems on stderr, exit codes 0 / 1 / 2 / 3."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from feedsmith.cli import main
from feedsmith.core import documents

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(
    r"^(\d+) posts, (\d+) feeds written, (\d+) unchanged, (\d+) removed, (\d+) problems, "
    r"\d+\.\d\d s$"
)


def write_site(site: Any, *, invalid: bool) -> None:
    site.write_post(
        "2025-11-16-ok.md",
        """
        ---
        title: "正常な記事"
        date: 2025-11-16 20:35:04 +0000
        categories: [ニュース]
        tags: [AI]
        ---
        本文です。
        """,
    )
    if invalid:
        site.write_post("broken.md", "---\ntitle: [unclosed\n---\nbody\n", dedent=False)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_skips_invalid_post_and_prints_summary(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    write_site(site, invalid=True)
    site.config()
    assert main(["build", "-c", str(site.config_path)]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    match = SUMMARY.match(lines[-1])
    assert match, lines
    assert match.groups()[:5] == ("1", "9", "0", "0", "1")
    assert "broken.md:" in err and "error:" in err
    assert (site.output_dir / "tags" / "ai.atom.xml").is_file()
    assert (site.output_dir / "categories" / "ニュース.json").is_file()


def test_second_build_reports_everything_unchanged(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    write_site(site, invalid=False)
    site.config()
    assert main(["build", "-c", str(site.config_path)]) == 0
    capsys.readouterr()
    assert main(["build", "-c", str(site.config_path)]) == 0
    match = SUMMARY.match(capsys.readouterr().out.strip().splitlines()[-1])
    assert match and match.groups()[:5] == ("1", "0", "9", "0", "0")


def test_strict_exits_1_when_a_post_was_skipped(site: Any) -> None:
    write_site(site, invalid=True)
    site.config()
    assert main(["build", "--strict", "-c", str(site.config_path)]) == 1
    assert (site.output_dir / "all.atom.xml").is_file()  # still built


def test_strict_exits_0_when_all_posts_are_valid(site: Any) -> None:
    write_site(site, invalid=False)
    site.config()
    assert main(["build", "--strict", "-c", str(site.config_path)]) == 0


def test_bad_config_exits_2(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    site.config_path.write_text("site:\n  url: not-a-url\n", "utf-8")
    assert main(["build", "-c", str(site.config_path)]) == 2
    assert "site.url" in capsys.readouterr().err
    assert not site.output_dir.exists()


def test_failed_build_exits_3_and_keeps_previous_output(
    site: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_site(site, invalid=False)
    site.config()
    assert main(["build", "-c", str(site.config_path)]) == 0
    before = snapshot(site.output_dir)
    site.write_post("2025-11-17-more.md", "---\ntitle: More\ntags: [new]\n---\nMore.\n")

    def boom(group: Any, config: Any, formats: Any = None, **_: Any) -> dict[str, bytes]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(documents, "render_group", boom)
    capsys.readouterr()
    assert main(["build", "-c", str(site.config_path)]) == 3
    err = capsys.readouterr().err
    assert "build failed, previous feeds kept" in err and "disk on fire" in err
    assert snapshot(site.output_dir) == before


def test_build_runs_as_a_module_without_a_tty(site: Any) -> None:
    write_site(site, invalid=False)
    site.config()
    proc = subprocess.run(
        [sys.executable, "-m", "feedsmith", "build", "-c", str(site.config_path)],
        capture_output=True,
        text=True,
        cwd=site.root,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert SUMMARY.match(proc.stdout.strip().splitlines()[-1])
    assert "\r[" not in proc.stderr  # no progress bar when stderr is not a terminal
