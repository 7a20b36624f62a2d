"""A ``feedsmith build`` lists the posts folder once: the early no-change question, the full
start-up's and the builder's scan share one listing (``statpass.hold``). Checked by what a new
process scans (the folder holding the posts is entered once), and, in one process, that the
listing does not outlive the command: a builder run after it sees a later edit."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from feedsmith.cli import main
from feedsmith.pipeline import SiteBuilder
from test_edit_path_startup import run_probe

# Counts the scandir calls on the posts' subfolder: only the listing walks into it (the
# readability checks open the posts folder itself).
PROBE = """
import os, sys
from feedsmith.cli import main
real = os.scandir
target = os.path.realpath(sys.argv[2])
calls = []
def counting(path="."):
    if os.path.realpath(os.fspath(path)) == target:
        calls.append(path)
    return real(path)
os.scandir = counting
code = main(["build", "--no-progress", "-c", sys.argv[1]])
print("WALKS", len(calls))
raise SystemExit(code)
"""


def write(site: Any, i: int, body: str) -> None:
    path = site.write_post(
        f"2025/p{i}.md",
        f'---\ntitle: "Post {i}"\ndate: "2025-11-{i + 1:02d} 10:00:00 +0000"\n---\n\n{body}\n',
    )
    stamp = (1_600_000_000 + i + len(body)) * 10**9
    os.utime(path, ns=(stamp, stamp))


def walks(site: Any) -> int:
    lines = run_probe(PROBE, site, str(site.posts_dir / "2025"))
    return int(lines[-1].removeprefix("WALKS"))


def test_an_edit_build_in_a_new_process_lists_the_posts_once(site: Any) -> None:
    for i in range(4):
        write(site, i, f"Body {i}.")
    site.config()
    walks(site)  # the first build, then one with nothing changed (the early answer)
    assert walks(site) == 1
    write(site, 2, "Edited body.")
    assert walks(site) == 1  # early question, full start-up and scan: one listing
    assert "Edited body." in (site.output_dir / "all.atom.xml").read_text("utf-8")


def test_the_listing_does_not_outlive_the_command(site: Any) -> None:
    for i in range(4):
        write(site, i, f"Body {i}.")
    config = site.config()
    cwd = os.getcwd()
    os.chdir(site.root)
    try:
        assert main(["build", "--no-progress", "-c", str(site.config_path)]) == 0
        write(site, 1, "Edited after the command.")
        SiteBuilder(config).build(datetime.now(UTC))
    finally:
        os.chdir(cwd)
    assert "Edited after the command." in (site.output_dir / "all.atom.xml").read_text("utf-8")
