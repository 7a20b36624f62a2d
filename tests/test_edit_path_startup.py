"""A ``feedsmith build`` that finds nothing changed answers before the pipeline is imported
(no parsers, Liquid, Jinja or renderers loaded), with the report a full build would give; a
change, or a damaged output, still gets the full build. Checked in a new process, by what it
imported, not by time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROBE = """
import sys
from feedsmith.cli import main
code = main(["build", "--no-progress", "-c", sys.argv[1]])
heavy = [m for m in ("feedsmith.pipeline.site", "feedsmith.core.posts", "liquid", "jinja2")
         if m in sys.modules]
print("IMPORTED", ",".join(heavy))
raise SystemExit(code)
"""


def run_probe(probe: str, site: Any, *args: str) -> list[str]:
    """``probe`` run by a new interpreter in the site's folder (this checkout's ``src`` first
    on its path); the lines it printed. What a new process imports can only be seen there."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(site.config_path), *args],
        capture_output=True,
        text=True,
        cwd=site.root,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


def build(site: Any) -> tuple[str, list[str]]:
    lines = run_probe(PROBE, site)
    imported = lines[-1].removeprefix("IMPORTED").strip()
    return lines[-2], [m for m in imported.split(",") if m]


def write_post(site: Any, i: int, body: str) -> Path:
    front = {"title": f"Post {i}", "date": f"2025-11-{i + 1:02d} 10:00:00 +0000"}
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", body, ""]
    path: Path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
    path.write_text("\n".join(lines), "utf-8")
    os.utime(path, ns=(1_600_000_000 * 10**9 + i, 1_600_000_000 * 10**9 + i))
    return path


def test_a_build_with_nothing_changed_imports_no_pipeline_and_reports_the_same(
    site: Any,
) -> None:
    for i in range(5):
        write_post(site, i, f"Body {i}.")
    site.config()
    first, imported = build(site)
    assert "feedsmith.pipeline.site" in imported  # a real build: the whole pipeline
    again, imported = build(site)
    assert imported == []
    assert again.split(",")[0] == first.split(",")[0] == "5 posts"
    assert " 0 feeds written" in again


def test_a_change_or_a_damaged_output_still_builds_in_full(site: Any) -> None:
    for i in range(5):
        write_post(site, i, f"Body {i}.")
    site.config()
    build(site)
    build(site)
    path = write_post(site, 2, "Edited.")
    os.utime(path, ns=(1_700_000_000 * 10**9, 1_700_000_000 * 10**9))
    _, imported = build(site)
    assert "feedsmith.pipeline.site" in imported
    assert "Edited." in (site.output_dir / "all.atom.xml").read_text("utf-8")
    build(site)
    (site.output_dir / "all.rss.xml").write_text("damaged", "utf-8")
    _, imported = build(site)
    assert "feedsmith.pipeline.site" in imported
    assert (site.output_dir / "all.rss.xml").read_text("utf-8").startswith("<?xml")
