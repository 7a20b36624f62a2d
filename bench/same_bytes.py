"""Prove a refactoring changed no published byte: build the same sites with two revisions.

    python bench/same_bytes.py [--before REV] [--posts N]

builds the sample blog (``config.yaml``, ``examples/posts``) and a generated ``N``-post corpus
(``bench/corpus.py``, default 1,000) twice, from scratch and with one fixed clock: once with the
code of git revision ``REV`` (default ``HEAD``; checked out into a temporary worktree) and once
with the working tree. Every file of both outputs is compared by sha256; the script prints the
counts and exits 1 naming the files that differ. Each build runs in its own process with its
own ``PYTHONPATH``, so the two revisions never share imported modules. The build entry point is
found wherever the revision keeps it (``feedsmith.pipeline`` now, ``feedsmith.pipeline`` before
the package split).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from corpus import generate  # noqa: E402

#: The one clock both builds see: outputs differ only if the code does.
NOW = "2026-12-01T12:00:00+00:00"

BUILD = """
import sys
from datetime import datetime
try:
    from feedsmith.pipeline import build_site
except ImportError:  # before the package split
    from feedsmith.build import build_site
from feedsmith.config import load_config
report = build_site(load_config(sys.argv[1]), datetime.fromisoformat(sys.argv[2]))
sys.exit(0 if report.ok else 3)
"""


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def build(src: Path, site: Path, config: Path) -> dict[str, str]:
    """Build ``site`` from scratch with the code in ``src``; its output's digests."""
    for name in ("feeds", ".feedsmith"):
        shutil.rmtree(site / name, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(src)}
    subprocess.run([sys.executable, "-c", BUILD, str(config), NOW], cwd=site, env=env, check=True)
    return digests(site / "feeds")


def sample_site(into: Path) -> tuple[Path, Path]:
    """A copy of the sample blog whose output goes to ``into/feeds``."""
    shutil.copytree(ROOT / "examples", into / "examples")
    text = (ROOT / "config.yaml").read_text("utf-8")
    (into / "config.yaml").write_text(text, "utf-8")
    return into, into / "config.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="HEAD", help="git revision to compare with")
    parser.add_argument("--posts", type=int, default=1000, help="size of the generated corpus")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="same-bytes-") as tmp:
        work = Path(tmp)
        old = work / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(old), args.before],
            check=True,
        )
        try:
            sites = [sample_site(work / "sample")]
            generate(args.posts, work / "corpus")
            sites.append((work / "corpus", work / "corpus" / "config.yaml"))
            differ: list[str] = []
            for site, config in sites:
                before = build(old / "src", site, config)
                after = build(ROOT / "src", site, config)
                changed = sorted(
                    set(before) ^ set(after) | {k for k in before if after.get(k) != before[k]}
                )
                print(
                    f"{site.name}: {len(before)} files before, {len(after)} after,"
                    f" {len(changed)} differ"
                )
                differ += [f"{site.name}/{name}" for name in changed]
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False
            )
    if differ:
        print("differ:\n  " + "\n  ".join(differ[:50]))
        return 1
    print(f"byte-identical with {args.before}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
