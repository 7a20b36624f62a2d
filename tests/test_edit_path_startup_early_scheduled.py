"""The early no-change answer (:mod:`feedsmith.pipeline.early`) for blogs whose every report has
an info-level problem — a scheduled post, a draft — like the sample blog in ``examples/``. It
must print what the full no-change path prints (compared through real ``python -m feedsmith``
processes, the early one told apart by what it imported), and the build due when a scheduled
post's time comes must be a full one that publishes it (the clock injected through
``early_build``'s ``now`` and ``build_site``'s)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest

from feedsmith.cli import main
from feedsmith.config import load_config
from feedsmith.core.model import Problem, Severity
from feedsmith.pipeline import build_site, early
from feedsmith.pipeline.early import RECORD_FILE, early_build, remember_config
from feedsmith.pipeline.report import BuildReport

REPO = Path(__file__).resolve().parents[1]
OLD = 1_600_000_000 * 10**9  # a post's stat as old as a real one's (a fresh one is "racy")
POST = "---\ntitle: Post {i}\ndate: {date}\n{extra}---\n\nBody {i}.\n"
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
SECONDS = re.compile(r", \d+\.\d\d s$")
IMPORTED = re.compile(r"^import time:.*\|\s+(\S+)$")


def write(site: Any, name: str, i: int, date: str, extra: str = "") -> None:
    path = site.write_post(name, POST.format(i=i, date=date, extra=extra))
    os.utime(path, ns=(OLD + i, OLD + i))


def sample_blog(tmp_path: Path) -> Path:
    """The sample blog (a scheduled post, a draft, Japanese file names), copied, plus a draft
    whose name holds an ESC (its report line is escaped: both paths must print it so)."""
    root = tmp_path / "sample"
    shutil.copytree(REPO / "examples" / "posts", root / "examples" / "posts")
    shutil.copy(REPO / "config.yaml", root / "config.yaml")
    (root / "examples" / "posts" / "esc\x1bdraft.md").write_text(
        "---\ntitle: Hidden\ndate: 2025-10-01\ndraft: true\n---\n\nNot yet.\n", "utf-8"
    )
    for n, path in enumerate(sorted((root / "examples" / "posts").iterdir())):
        os.utime(path, ns=(OLD + n, OLD + n))
    return root


def run(root: Path, *args: str) -> tuple[int, list[str], list[str], set[str]]:
    """``python -m feedsmith -c config.yaml build`` in ``root``: exit code, stdout lines,
    stderr lines (timings masked, import-time lines taken out) and the modules imported."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "feedsmith",
            "-c",
            "config.yaml",
            "build",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
    )
    imported, err = set(), []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            found = IMPORTED.match(line)
            if found:
                imported.add(found.group(1))
        else:
            err.append(SECONDS.sub(", S s", STAMP.sub("", line)))
    out = [SECONDS.sub(", S s", line) for line in proc.stdout.splitlines()]
    return proc.returncode, out, err, imported


@pytest.mark.slow
@pytest.mark.parametrize("strict", [False, True])
def test_the_sample_blog_gets_the_early_answer_and_it_prints_what_the_full_path_prints(
    tmp_path: Path, strict: bool
) -> None:
    root = sample_blog(tmp_path)
    args = ("--strict",) if strict else ()
    first = run(root, *args)
    assert first[0] == 0, first[2]
    assert not any(" 0 feeds written" in line for line in first[1])  # a real build first
    (root / ".feedsmith" / RECORD_FILE).unlink()  # no record: the early path cannot answer
    full = run(root, *args)
    assert (root / ".feedsmith" / RECORD_FILE).is_file()  # the full start-up wrote it again
    fast = run(root, *args)
    assert "yaml" in full[3] and "argparse" in full[3]
    assert "yaml" not in fast[3] and "argparse" not in fast[3]  # the early answer it was
    assert fast[:3] == full[:3]
    code, out, err, _ = fast
    assert code == 0
    assert out[-1].startswith("12 posts, 0 feeds written, ")
    assert " 3 problems, " in out[-1]
    assert err[0].startswith("INFO feedsmith.build: build ok (nothing changed): 12 posts")
    assert any("2030-01-01-scheduled-post.md:1: info: scheduled for 2030" in e for e in err)
    assert any("esc\\x1bdraft.md:4: info: draft: excluded" in e for e in err)
    assert not any("\x1b" in e for e in err)


@pytest.fixture
def scheduled(site: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> Any:
    """Three posts and a fourth dated 2025-11-20 10:00 UTC, built as of the day before (so the
    last build's report says it is scheduled and ``next_publish`` is its time)."""
    for i in range(1, 4):
        write(site, f"p{i}.md", i, f"2025-11-0{i} 10:00:00 +0000")
    write(site, "p4.md", 4, "2025-11-20 10:00:00 +0000")
    config = site.config()
    monkeypatch.chdir(site.root)
    report = build_site(load_config(site.config_path), datetime(2025, 11, 19, 10, tzinfo=UTC))
    remember_config(load_config(site.config_path), "config.yaml")  # as `feedsmith build` does
    assert report.next_publish == datetime(2025, 11, 20, 10, tzinfo=UTC)
    assert [p.severity for p in report.problems] == ["info"]
    assert b"Post 4" not in (config.output_dir / "all.atom.xml").read_bytes()
    capsys.readouterr()
    return site


DUE = datetime(2025, 11, 20, 10, tzinfo=UTC)


def test_before_the_scheduled_time_the_early_answer_repeats_the_scheduled_line(
    scheduled: Any, capsys: Any
) -> None:
    assert early_build(["build", "-c", "config.yaml"], now=DUE - timedelta(seconds=1)) == 0
    out, err = capsys.readouterr()
    assert out.startswith("3 posts, 0 feeds written, ") and " 1 problems, " in out
    lines = err.splitlines()
    assert "build ok (nothing changed): 3 posts" in lines[0]
    assert lines[1:] == [
        "posts/p4.md:1: info: scheduled for 2025-11-20T10:00:00+00:00; excluded until then"
    ]


def test_the_build_due_at_the_scheduled_time_is_a_full_one_that_publishes_the_post(
    scheduled: Any, capsys: Any
) -> None:
    argv = ["build", "-c", "config.yaml"]
    assert early_build(argv, now=DUE) is None  # due: not answered from the records
    assert early_build(argv) is None  # nor by the real clock, later still
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("4 posts, ") and " 0 feeds written" not in out
    assert " 0 problems, " in out
    assert b"Post 4" in (scheduled.output_dir / "all.atom.xml").read_bytes()
    assert early_build(argv) == 0  # and nothing changed since: early again, no problem line
    out, err = capsys.readouterr()
    assert out.startswith("4 posts, 0 feeds written, ") and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "extra", ["draft: true\n", "date_bad: [\n"], ids=["draft_info", "broken_front_matter"]
)
def test_only_an_info_only_report_is_repeated_early(
    site: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any, extra: str
) -> None:
    for i in range(1, 3):
        write(site, f"p{i}.md", i, f"2025-11-0{i} 10:00:00 +0000")
    write(site, "p3.md", 3, "2025-11-03 10:00:00 +0000", extra)
    site.config()
    monkeypatch.chdir(site.root)
    assert main(["build", "-c", "config.yaml"]) == 0
    full = capsys.readouterr()
    severity = "info" if extra.startswith("draft") else "error"
    assert "posts/p3.md:" in full.err and f": {severity}: " in full.err
    answer = early_build(["build", "-c", "config.yaml"])
    assert answer == (0 if severity == "info" else None)
    if answer is None:  # the full path answers, and repeats the error itself
        assert main(["build", "-c", "config.yaml"]) == 0
        again = capsys.readouterr()
        assert " 0 feeds written" in again.out and f": {severity}: " in again.err


def test_the_summary_with_problems_is_the_reports() -> None:
    report = BuildReport(7, 0, 12, 0, [Problem("a.md", None, "info", "draft: excluded")], 0, 0)
    report.seconds = 0.5
    assert early.summary(7, 12, 0.5, 1) == report.summary()
    assert early.REPEATED_SEVERITY in get_args(Severity)
