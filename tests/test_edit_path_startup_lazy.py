"""A new process that rebuilds a plain site (no ``jekyll:``) after an edit does not import the
Liquid engine: importing it was ~0.1-0.2 s of every fresh edit's start-up, for markup only a
Jekyll site's posts are rendered with. Checked in a new process, by what it imported."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from test_edit_path_startup import run_probe

PROBE = """
import sys
from feedsmith.cli import main
code = main(["build", "--no-progress", "-c", sys.argv[1]])
names = ("feedsmith.pipeline.site", "feedsmith.core.posts", "feedsmith.pipeline.includes",
         "liquid", "feedsmith.core.jekyll.liquid", "feedsmith.core.jekyll.liquid_state")
print("IMPORTED", ",".join(m for m in names if m in sys.modules))
raise SystemExit(code)
"""


def build(site: Any) -> list[str]:
    imported = run_probe(PROBE, site)[-1].removeprefix("IMPORTED").strip()
    return [m for m in imported.split(",") if m]


def write_post(site: Any, i: int, body: str, mtime_s: int = 1_600_000_000) -> Path:
    front = {"title": f"Post {i}", "date": f"2025-11-{i + 1:02d} 10:00:00 +0000"}
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "", body, ""]
    path: Path = site.posts_dir / f"2025-11-{i + 1:02d}-p{i}.md"
    path.write_text("\n".join(lines), "utf-8")
    os.utime(path, ns=(mtime_s * 10**9 + i, mtime_s * 10**9 + i))
    return path


def test_an_edit_of_a_plain_site_is_built_without_importing_liquid(site: Any) -> None:
    for i in range(5):
        write_post(site, i, f"Body {i}.")
    site.config()
    build(site)
    # Markup that Liquid would render: on a plain site it is text, as it always was.
    write_post(site, 2, "Edited {{ site.title }} {% raw %}.", mtime_s=1_700_000_000)
    imported = build(site)
    assert "feedsmith.core.posts" in imported  # the edit was parsed in this process
    assert "feedsmith.pipeline.includes" in imported
    assert not {
        "liquid",
        "feedsmith.core.jekyll.liquid",
        "feedsmith.core.jekyll.liquid_state",
    } & set(imported)
    feed = (site.output_dir / "all.atom.xml").read_text("utf-8")
    assert "Edited {{ site.title }} {% raw %}." in feed


COLLECTOR_PROBE = """
import gc, sys
from feedsmith.cli import main
own_argv = sys.argv[2] == "own"
sys.argv = ["feedsmith", "build", "--no-progress", "-c", sys.argv[1]]
code = main(sys.argv[1:]) if own_argv else main()
print("COLLECTOR", gc.isenabled(), gc.get_freeze_count() > 0)
raise SystemExit(code)
"""


def collector_after_build(site: Any, how: str) -> tuple[str, str]:
    enabled, frozen = run_probe(COLLECTOR_PROBE, site, how)[-1].split()[1:]
    return enabled, frozen


def test_the_command_freezes_what_its_build_left_and_a_caller_keeps_its_collector(
    site: Any,
) -> None:
    for i in range(3):
        write_post(site, i, f"Body {i}.")
    site.config()
    build(site)
    write_post(site, 1, "First edit.", mtime_s=1_700_000_000)
    # ``feedsmith build`` as a command (main() reads sys.argv): the process ends after it, so
    # the build's survivors are frozen, not walked by a collection, and the collector is on.
    assert collector_after_build(site, "command") == ("True", "True")
    assert "First edit." in (site.output_dir / "all.atom.xml").read_text("utf-8")
    write_post(site, 1, "Second edit.", mtime_s=1_700_000_100)
    # A caller passing its own argv goes on running: nothing of its heap is frozen.
    assert collector_after_build(site, "own") == ("True", "False")
    assert "Second edit." in (site.output_dir / "all.atom.xml").read_text("utf-8")
