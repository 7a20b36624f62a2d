"""The floor of a cold build: what the per-post work alone costs, beside Hugo's whole build.

A cold build must at least read every post once (front matter, Markdown, sanitising — the
``parse`` row) and serialise every post's entry once in each format it is published in (the
``entries`` rows: full content for the subscription documents, summary-only for archive pages;
feedgen for Atom and RSS, as the project requires) and compress what it writes once (``gzip``:
one copy of each of those entries at the build's level). This script times exactly that, in
one process, with ``time.process_time`` (CPU seconds: the shared machine's load moves wall
times, CPU much less), on a corpus made by ``bench/corpus.py`` — no grouping, no feeds, no
archive pages, no files written, no process start-up.

That sum divided by the cores (2 here) is a lower bound for any cold build made of these
libraries, however well the rest is done: if it is above half of Hugo's full build timed in the
same run, issue 28's "cold build ≤ 0.5× Hugo" cannot be met by making feedsmith's own code
faster, only by cheaper parsing/serialising libraries.

    python bench/floor.py                     # 10,000 posts, Hugo side by side when installed
    python bench/floor.py --posts 1000 --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))


def floor_once(site: Path) -> dict[str, float]:
    """CPU seconds of each irreducible step over every post of ``site`` (one pass)."""
    from zlib_ng import zlib_ng

    from feedsmith.config import load_config
    from feedsmith.core.documents import _summary_config, entry_fragments
    from feedsmith.core.frontmatter import parse_document
    from feedsmith.core.markdown import render_post
    from feedsmith.core.posts import parse_post
    from feedsmith.publish.staging import GZIP_LEVEL

    config = load_config(site / "config.yaml")
    files = sorted(config.posts_dir.rglob("*.md"))
    blobs = [(p.read_bytes(), p.relative_to(config.posts_dir).as_posix(), str(p)) for p in files]
    formats = tuple(config.feed.formats)
    summary = _summary_config(config)

    t = time.process_time()
    posts = []
    texts = []
    for data, rel, shown in blobs:
        outcome = parse_post(data, rel, shown, config)
        if outcome.post is not None:
            posts.append(outcome.post)
            texts.append(data)
    parse = time.process_time() - t

    bodies = [
        (parse_document(data.decode("utf-8")).body, post.url)
        for data, post in zip(texts, posts, strict=True)
    ]
    t = time.process_time()
    for body, url in bodies:
        render_post(body, url)
    markdown = time.process_time() - t

    t = time.process_time()
    full = [entry_fragments(post, config, formats) for post in posts]
    entries_full = time.process_time() - t

    t = time.process_time()
    short = [entry_fragments(post, summary, formats) for post in posts]
    entries_summary = time.process_time() - t

    def as_bytes(value: bytes | str) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8")

    t = time.process_time()
    for frags in (*full, *short):
        for value in frags.values():
            zlib_ng.compress(as_bytes(value), GZIP_LEVEL)
    gz = time.process_time() - t
    return {
        "parse": parse,
        "entries_full": entries_full,
        "entries_summary": entries_summary,
        "gzip": gz,
        "markdown": markdown,
        "posts": float(len(posts)),
    }


def main() -> None:
    import corpus  # bench/ is not a package: its path is set above
    from build import corpus_dir, hugo_build, hugo_site

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-hugo", action="store_true")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args()

    site = corpus_dir(args.out, args.posts, corpus.DEFAULT_SEED)
    corpus.ensure_corpus(args.posts, site, corpus.DEFAULT_SEED)
    hugo_root = None if args.no_hugo else hugo_site(site)
    rows: list[dict[str, float]] = []
    hugo: list[float] = []
    for _ in range(args.runs):
        rows.append(floor_once(site))
        if hugo_root is not None:
            hugo.append(hugo_build(hugo_root).seconds)
    steps = ("parse", "entries_full", "entries_summary", "gzip")
    med = {k: statistics.median(r[k] for r in rows) for k in steps}
    total = sum(med.values())
    n = int(rows[0]["posts"])
    print(f"{n} posts, median of {args.runs} (CPU seconds, one process):")
    for k in steps:
        print(f"  {k:16} {med[k]:7.2f} s  ({med[k] / n * 1e6:6.0f} µs a post)")
    print(f"  {'sum':16} {total:7.2f} s")
    md = statistics.median(r["markdown"] for r in rows)
    print(f"  (of parse: Markdown + sanitising alone, Rust libraries: {md:.2f} s)")
    print(f"floor on {args.cores} cores (perfectly parallel): {total / args.cores:.2f} s")
    if hugo:
        h = statistics.median(hugo)
        print(f"Hugo full build, same run (wall, median): {h:.2f} s; 0.5x Hugo = {h / 2:.2f} s")
        print(f"floor / Hugo = {total / args.cores / h:.2f}x")
    elif not args.no_hugo:
        print("Hugo not timed: no `hugo` on PATH (Debian's hugo package)")


if __name__ == "__main__":
    main()
