"""``feedsmith build`` with nothing changed, in a new process: what it imports and what it
reads. It imports no renderer, Markdown, Liquid, Jekyll reader, media prober or parse cache,
and checks the published files against the stat rows the last build left in
``last-build.json`` instead of reading the whole ``state.json`` — with the same answers: any
damaged file, plain or gzip-only archive page, still gets the full build. Checked by what was
imported and what was called, not by time."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsmith.core.formats import FORMATS
from feedsmith.pipeline import build_site
from feedsmith.pipeline.listing import intact, quick_keys
from feedsmith.pipeline.memo import MEMO_FILE, FastPath, published_rows, rows_intact
from feedsmith.pipeline.quick import STATE_FILE, unchanged_build
from feedsmith.pipeline.statefile import load_state

NOW = datetime(2026, 1, 1, tzinfo=UTC)

#: Never needed to answer "nothing changed" (a site without jekyll:, media or a bucket).
HEAVY = (
    "feedsmith.pipeline.site",
    "feedsmith.pipeline.cache",
    "feedsmith.pipeline.media_probe",
    "feedsmith.pipeline.media_tree",
    "feedsmith.core.render.atom_rss",
    "feedsmith.core.render.jsonfeed",
    "feedsmith.core.posts",
    "feedsmith.config.jekyll",
    "feedsmith.core.jekyll.rules",
    "feedgen",
    "lxml",
    "markdown_it",
    "markdown_it_pyrs",
    "liquid",
    "jinja2",
    "mutagen",
    "msgpack",
)

PROBE = f"""
import sys
from feedsmith.cli import main
code = main(["build", "--no-progress", "-c", sys.argv[1]])
print("IMPORTED", ",".join(m for m in {HEAVY!r} if m in sys.modules))
raise SystemExit(code)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def run_build(site: Any) -> tuple[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(site.config_path)],
        capture_output=True,
        text=True,
        cwd=site.root,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    imported = lines[-1].removeprefix("IMPORTED").strip()
    return lines[-2], [m for m in imported.split(",") if m]


def write_posts(site: Any, n: int) -> None:
    for i in range(n):
        front = {"title": f"Post {i}", "date": f"2025-11-{i + 1:02d} 10:00:00 +0000"}
        front["tags"] = ["t"] if i % 2 else []  # type: ignore[assignment]
        lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", "B.", ""]
        path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
        path.write_text("\n".join(lines), "utf-8")
        os.utime(path, ns=(1_600_000_000 * 10**9 + i, 1_600_000_000 * 10**9 + i))


@pytest.fixture
def archived(site: Any) -> Any:
    """A site whose feeds have archive pages (stored gzip-only), built once by a new process."""
    write_posts(site, 7)
    site.config(feed={"max_entries": 2})
    _first, imported = run_build(site)
    assert "feedsmith.pipeline.site" in imported  # a real build
    assert list((site.output_dir / "archive").rglob("*.gz"))
    return site


def test_nothing_changed_imports_no_renderer_reader_prober_or_parse_cache(archived: Any) -> None:
    again, imported = run_build(archived)
    assert imported == []
    assert again.startswith("7 posts") and " 0 feeds written" in again


def test_the_last_build_leaves_a_stat_row_per_published_file(archived: Any) -> None:
    config = archived.config(feed={"max_entries": 2})
    memo = json.loads((config.state_dir / MEMO_FILE).read_bytes())
    files = load_state(config.state_dir / STATE_FILE).files
    assert memo["files"] == published_rows(files)
    assert {row[0] for row in memo["files"]} == set(files)
    assert any(rel.startswith("archive/") for rel in files)


def test_a_new_process_checks_the_rows_not_the_state(
    archived: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(archived.root)  # the memo is for the working directory it was made in
    config = archived.config(feed={"max_entries": 2})
    fast = FastPath(config, config.fingerprint(), config.state_dir / STATE_FILE, persist=True)
    asked = []

    def from_state() -> dict[str, dict[str, Any]]:
        asked.append(1)
        return load_state(config.state_dir / STATE_FILE).files

    keys = quick_keys(config.posts_dir)
    assert fast.unchanged(NOW, keys, from_state) is not None
    assert asked == []
    # A memo without rows (an older one) still answers, from the state's records.
    path = config.state_dir / MEMO_FILE
    memo = json.loads(path.read_bytes())
    memo["files"] = None
    path.write_text(json.dumps(memo), "utf-8")
    fast = FastPath(config, config.fingerprint(), config.state_dir / STATE_FILE, persist=True)
    assert fast.unchanged(NOW, keys, from_state) is not None
    assert asked == [1]


def _damage(path: Path, how: str) -> None:
    st = path.stat()
    if how == "same size":  # rewritten in place: only the mtime tells
        path.write_bytes(path.read_bytes())
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    elif how == "other bytes":
        path.write_bytes(b"damaged")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["same size", "other bytes", "deleted"])
@pytest.mark.parametrize("which", ["all.rss.xml", "all.rss.xml.gz", "archive"])
def test_a_damaged_published_file_still_gets_the_full_build(
    archived: Any, how: str, which: str
) -> None:
    out = archived.output_dir
    target = sorted((out / "archive").rglob("*.gz"))[0] if which == "archive" else out / which
    before = target.read_bytes()
    _damage(target, how)
    _, imported = run_build(archived)
    assert "feedsmith.pipeline.site" in imported
    assert target.read_bytes() == before  # put back
    _, imported = run_build(archived)
    assert imported == []


def test_rows_give_the_answers_the_records_give(archived: Any) -> None:
    """``rows_intact`` against ``intact`` over every file, intact and damaged one by one."""
    config = archived.config(feed={"max_entries": 2})
    files = load_state(config.state_dir / STATE_FILE).files
    rows = published_rows(files)
    assert rows is not None
    out = config.output_dir

    def by_records() -> bool:
        return all(intact(out, rel, rec) for rel, rec in files.items())

    assert rows_intact(out, rows) is by_records() is True
    names = sorted({*files, *(rel + ".gz" for rel in files)})
    for name in names[:: max(1, len(names) // 12)]:
        path = out / name
        if not path.exists():
            continue
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
        assert rows_intact(out, rows) is by_records() is False, name
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert rows_intact(out, rows) is True
    # A record without a stat (never intact) leaves no rows: the records answer.
    files["all.json"] = {k: v for k, v in files["all.json"].items() if k != "gz_mtime_ns"}
    assert published_rows(files) is None


def test_the_quick_answer_is_the_last_report(
    archived: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(archived.root)
    config = archived.config(feed={"max_entries": 2})
    report = build_site(config, NOW)  # the same as a new process's build
    quick = unchanged_build(config, NOW)
    assert quick is not None
    assert (quick.posts, quick.feeds_unchanged) == (
        7,
        report.feeds_written + report.feeds_unchanged,
    )
    page = sorted((config.output_dir / "archive").rglob("*.gz"))[0]
    assert gzip.decompress(page.read_bytes()).startswith(b"<?xml")


def test_the_format_table_imports_its_renderers_on_first_use() -> None:
    code = (
        "import sys\n"
        "import feedsmith.core.layout\n"
        "assert 'feedsmith.core.render.atom_rss' not in sys.modules\n"
        "from feedsmith.core.formats import FORMATS\n"
        "print(sorted(type(f.renderer).__name__ for f in FORMATS.values()))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for fmt in FORMATS.values():
        assert callable(fmt.renderer.document)
        assert fmt.renderer.engine is not None
