"""``feedsmith build`` with nothing changed, answered from ``state_dir``'s records before
argparse, logging, YAML or the core are imported (:mod:`feedsmith.pipeline.early`). Any change —
a post, a published file, the config's bytes, the record itself — goes the full way; the
constants the early module repeats are the ones they repeat. Checked by what was imported and
which path answered, not by time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from feedsmith.cli import main
from feedsmith.pipeline import early
from feedsmith.pipeline.early import RECORD_FILE, build_config_arg, early_build

OLD = 1_600_000_000 * 10**9  # a post's stat as old as a real one's (a fresh one is "racy")
POST = "---\ntitle: Post {i}\ndate: 2025-11-0{i} 10:00:00 +0000\n---\n\nBody {i}.\n"


def write(site: Any, i: int, extra: str = "") -> None:
    path = site.write_post(f"p{i}.md", POST.format(i=i) + extra)
    os.utime(path, ns=(OLD + i, OLD + i))


@pytest.fixture
def built(site: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    for i in range(1, 4):
        write(site, i)
    site.config()
    monkeypatch.chdir(site.root)
    assert main(["build", "--no-progress", "-c", "config.yaml"]) == 0
    capsys.readouterr()
    return site


def test_the_constants_repeated_are_the_ones_of_their_modules() -> None:
    from feedsmith.config import ENV_VAR
    from feedsmith.core.layout import MANIFEST, stored_gzip_only
    from feedsmith.core.post_files import MARKDOWN_EXTENSIONS
    from feedsmith.pipeline.report import BuildReport
    from feedsmith.pipeline.sources import POST_EXTENSIONS

    assert early.MANIFEST == MANIFEST and early.CONFIG_ENV_VAR == ENV_VAR
    assert set(early.statpass.PLAIN_SUFFIXES) == set(MARKDOWN_EXTENSIONS) == POST_EXTENSIONS
    for rel in ("archive/all/1.atom.xml", "all.atom.xml", "tags/archive.json", "archive"):
        assert early.GZIP_ONLY_RULES["gzip"](rel) == stored_gzip_only(rel)
        assert early.GZIP_ONLY_RULES["plain"](rel) is False
    report = BuildReport(7, 0, 12, 0, [], 0, 0, None)
    report.seconds = 0.123
    assert early.summary(7, 12, 0.123) == report.summary()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["build"], ""),
        (["-c", "x.yaml", "build"], "x.yaml"),
        (["build", "--config", "x.yaml", "--strict", "--no-progress"], "x.yaml"),
        (["--config=x.yaml", "build"], "x.yaml"),
        (["-c", "a.yaml", "build", "-c", "b.yaml"], "b.yaml"),
        (["--strict", "build"], None),
        (["build", "-v"], None),
        (["build", "--jekyll", "."], None),
        (["-c", "-v", "build"], None),
        (["build", "--conf", "x.yaml"], None),
        (["serve"], None),
        (["build", "build"], None),
        (["-c", "x.yaml"], None),
    ],
)
def test_the_command_line_is_read_as_argparse_would_or_not_at_all(
    argv: list[str], expected: str | None
) -> None:
    assert build_config_arg(argv) == expected


def test_nothing_changed_is_answered_from_the_records(built: Any, capsys: Any) -> None:
    assert (built.root / ".feedsmith" / RECORD_FILE).is_file()
    assert early_build(["build", "-c", "config.yaml"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("3 posts, 0 feeds written, ") and " 0 problems, " in out
    assert "INFO feedsmith.build: build ok (nothing changed): 3 posts" in err


def test_a_new_process_imports_neither_argparse_logging_yaml_nor_the_core(built: Any) -> None:
    probe = (
        "import sys\nfrom feedsmith.cli import main\ncode = main(['build', '-c', 'config.yaml'])\n"
        "mods = ('argparse', 'logging', 'yaml', 'dataclasses', 'orjson', 'feedsmith.config',"
        " 'feedsmith.core.config', 'feedsmith.core.model', 'feedsmith.pipeline.memo')\n"
        "print('IMPORTED', ','.join(m for m in mods if m in sys.modules))\nraise SystemExit(code)"
    )
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=built.root, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "IMPORTED"
    assert "build ok (nothing changed)" in proc.stderr


def test_changed_config_bytes_go_the_full_way_and_a_changed_config_rebuilds(
    built: Any, capsys: Any
) -> None:
    config = built.root / "config.yaml"
    config.write_text(config.read_text("utf-8") + "# a comment\n", "utf-8")
    assert early_build(["build", "-c", "config.yaml"]) is None  # same config, other bytes
    assert main(["build", "-c", "config.yaml"]) == 0
    assert " 0 feeds written" in capsys.readouterr().out  # the full path's own answer
    assert early_build(["build", "-c", "config.yaml"]) == 0  # the record follows the bytes
    capsys.readouterr()
    built.config(feed={"max_entries": 2})
    assert early_build(["build", "-c", "config.yaml"]) is None
    assert main(["build", "-c", "config.yaml"]) == 0
    out = capsys.readouterr().out
    assert " 0 feeds written" not in out


@pytest.mark.parametrize(
    "damage",
    ["edit_post", "add_post", "delete_post", "touch_feed", "delete_gz", "corrupt_record"],
)
def test_any_change_goes_the_full_way(built: Any, damage: str, capsys: Any) -> None:
    feeds = built.output_dir
    if damage == "edit_post":
        write(built, 1, "More.\n")
    elif damage == "add_post":
        write(built, 4)
    elif damage == "delete_post":
        (built.posts_dir / "p2.md").unlink()
    elif damage == "touch_feed":
        (feeds / "all.atom.xml").write_bytes(b"<feed/>")
    elif damage == "delete_gz":
        (feeds / "all.atom.xml.gz").unlink()
    else:
        (built.root / ".feedsmith" / RECORD_FILE).write_text("{not json", "utf-8")
    assert early_build(["build", "-c", "config.yaml"]) is None
    capsys.readouterr()
    assert main(["build", "-c", "config.yaml"]) == 0
    out = capsys.readouterr().out
    if damage in ("edit_post", "add_post"):
        assert " 0 feeds written" not in out
    if damage in ("touch_feed", "delete_gz"):  # repaired
        assert (feeds / "all.atom.xml.gz").is_file()
        assert (feeds / "all.atom.xml").read_bytes() != b"<feed/>"
    assert early_build(["build", "-c", "config.yaml"]) == 0  # and the next run is early again


def test_a_record_for_another_working_directory_or_path_is_not_used(
    built: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = json.loads((built.root / ".feedsmith" / RECORD_FILE).read_text("utf-8"))
    assert record["given"] == "config.yaml" and record["cwd"] == str(built.root)
    assert early_build(["build", "-c", str(built.root / "config.yaml")]) is None
    monkeypatch.chdir(tmp_path)
    assert early_build(["build", "-c", "site/config.yaml"]) is None


def test_a_state_dir_others_can_read_goes_the_full_way(built: Any) -> None:
    state_dir = built.root / ".feedsmith"
    os.chmod(state_dir / "state.json", 0o644)
    assert early_build(["build", "-c", "config.yaml"]) is None
    assert main(["build", "-c", "config.yaml"]) == 0  # which tightens it
    assert early_build(["build", "-c", "config.yaml"]) == 0
