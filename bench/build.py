"""Build benchmark: cold, no-change, one-edited and one-added builds at 1k / 10k (/ 100k) posts.

Prints medians, it asserts nothing: timings belong in a report, not in a test that flakes on a
busy machine. Two ways of paying for a build are measured, because they answer different
questions:

* **fresh process** — ``python -m feedsmith -c CONFIG build`` per build: what a cron job or CI
  pays, including interpreter start-up and loading whatever cache the previous build left on disk.
  Wall time is taken around the subprocess; peak RSS comes from ``os.wait4``.
* **service** — one long-running Python process holding one builder object (``SiteBuilder`` when
  the build module has it, else ``build_site`` on each call) that builds on command: what the
  running service pays on its schedule, with whatever it keeps in memory between builds.

Memory is reported in both modes as the largest single process and, sampled with psutil
(``bench/memory.py``), the whole tree: the process with its render workers, summed — what the
machine must have, the same figure for a cron job and for the service.

Each run starts from nothing (output and state directories moved aside: renamed into a
``.bench-trash`` folder beside them, for feedsmith and Hugo alike, and deleted only when the
whole bench is done — on ext4 without a journal, files created right after an ``rm -rf`` of a
large tree are ~20x slower to create for minutes, see ``Trash``), then builds cold, again with
nothing changed, after editing the newest post and after adding a post newer than all others.
The corpus is put back afterwards, so a generated corpus under ``bench/out/`` is reused by later
runs (it is regenerated only when missing or generated with other parameters).

    python bench/build.py                 # N = 1,000 and 10,000
    python bench/build.py --big           # also 100,000, and the 100k/10k cold ratio
    python bench/build.py --sizes 200     # quick smoke run

**Side by side with Hugo.** When ``hugo`` is on ``PATH`` (Debian's ``hugo`` package; this
script never installs it), each run also builds a Hugo site made from the same corpus (the same
post files, hard-linked under ``content/posts/``; RSS for the home page, every section and every
taxonomy term — categories, tags, authors — no theme, so no HTML; ``hasCJKLanguage`` as a
Japanese site sets it, else a summary is 70 "words" of unspaced Japanese, most of a post) with
``hugo --quiet`` from
nothing, right after feedsmith's cold builds of that run: the ratios are taken between builds
on the same machine at about the same time. The output's bytes are counted after the cold build
(feedsmith's by kind: subscription documents, archive pages, gzip twins, HTML pages) against the
posts' own bytes. ``--no-hugo`` skips it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.append(str(REPO / "src"))  # an installed or PYTHONPATH feedsmith wins

import corpus  # noqa: E402  (bench/ is not a package; the path is set just above)
from memory import TreeSampler  # noqa: E402

STEPS = ("cold", "no-change", "edit one", "add one")
HUGO = "hugo"  # the mode name of Hugo's cold builds in Results
HUGO_CONFIG = f"""\
baseURL = "{corpus.SITE_URL}/"
title = "feedsmith bench blog"
languageCode = "ja"
hasCJKLanguage = true
disableKinds = ["sitemap", "robotsTXT", "404"]
[taxonomies]
  category = "categories"
  tag = "tags"
  author = "author"
[outputs]
  home = ["RSS"]
  section = ["RSS"]
  taxonomy = ["RSS"]
  term = ["RSS"]
"""


@dataclass
class Sample:
    seconds: float
    rss_mb: float  # peak RSS of the building process (largest single process)
    tree_mb: float | None = None  # peak summed RSS of the process and its children (sampled)
    summary: str = ""
    #: CPU seconds (user + system) of the building process: steadier than wall time on a
    #: shared machine. Fresh process: the whole child (start-up included); service: the build.
    cpu: float | None = None


@dataclass
class Results:
    """Samples per (size, mode, step), filled run by run."""

    samples: dict[tuple[int, str, str], list[Sample]] = field(default_factory=dict)
    #: (size, who) → bytes by kind of the output after a cold build, and the posts' bytes.
    outputs: dict[tuple[int, str], dict[str, tuple[int, int]]] = field(default_factory=dict)
    posts_bytes: dict[int, int] = field(default_factory=dict)

    def add(self, n: int, mode: str, step: str, sample: Sample) -> None:
        self.samples.setdefault((n, mode, step), []).append(sample)

    def median(self, n: int, mode: str, step: str, attr: str = "seconds") -> float | None:
        values = [getattr(s, attr) for s in self.samples.get((n, mode, step), [])]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None


class BenchError(RuntimeError):
    """A build under measurement failed: the figures would be meaningless, so stop that size."""


# --- corpus handling --------------------------------------------------------------------------


def corpus_dir(root: Path, n: int, seed: int) -> Path:
    return root / f"corpus-{n}-seed{seed}"


def newest_index(n: int, seed: int) -> int:
    """The generated post with the latest date: editing it touches the site feed too."""
    return max(range(n), key=lambda i: (corpus.post_meta(seed, i).date, i))


class Trash:
    """Build products moved aside (renamed into a ``.bench-trash`` folder beside them) and
    deleted only when the whole bench is done (:meth:`empty`).

    Why not ``rm -rf`` before each cold build: on ext4 without a journal, creating files right
    after deleting a large tree is ~20x slower for minutes (the kernel's ``recently_deleted``
    inode scan), which slowed feedsmith's cold build (~16,000 files) far more than Hugo's
    (~800), whichever was timed next. A rename costs nothing of the sort."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self._moved = 0

    def discard(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        folder = path.parent / ".bench-trash"
        folder.mkdir(exist_ok=True)
        if folder not in self.folders:
            self.folders.append(folder)
        self._moved += 1
        try:
            os.rename(path, folder / f"{path.name}.{os.getpid()}.{self._moved}")
        except OSError:  # another filesystem (a mount point): nothing else to do
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def empty(self) -> None:
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.folders.clear()


TRASH = Trash()


def wipe_build_products(site: Path) -> None:
    """Move output and state (cache included) aside: the next build is cold."""
    from feedsmith.config import load_config

    config = load_config(site / "config.yaml")
    for path in (config.output_dir, config.state_dir):
        TRASH.discard(Path(path))


@contextlib.contextmanager
def edited(site: Path, index: int, revision: int) -> Iterator[None]:
    before = corpus.post_path(site, index).stat()
    path, old = corpus.edit_one_post(site, index, revision=revision)
    try:
        yield
    finally:
        # Put back the bytes *and* the mtime: a file modified within the last 2 s is "racy"
        # (its stat cannot be trusted, see feedsmith.pipeline.cache), which would make the next
        # run's no-change build re-read it, a cost a real no-change rebuild minutes later never has.
        path.write_bytes(old)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@contextlib.contextmanager
def added(site: Path, seed: int) -> Iterator[None]:
    path = corpus.add_one_post(site, seed=seed)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def posts_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in (site / "posts").rglob("*.md"))


def output_kinds(root: Path) -> dict[str, tuple[int, int]]:
    """(files, bytes) of an output tree by kind: what a blog owner pays to store and upload."""
    kinds: dict[str, tuple[int, int]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        base = rel.removesuffix(".gz")
        if base.startswith("archive/"):
            kind = "archive pages"
        elif base.endswith((".html", ".css", ".js")):
            kind = "HTML pages"
        elif base.endswith((".xml", ".json", ".opml")):
            kind = "subscription docs"
        else:
            kind = "other"
        if rel.endswith(".gz"):
            kind = "gz twins"
        files, size = kinds.get(kind, (0, 0))
        kinds[kind] = (files + 1, size + path.stat().st_size)
    return kinds


def record_output(site: Path, n: int, results: Results) -> None:
    from feedsmith.config import load_config

    results.posts_bytes[n] = posts_bytes(site)
    results.outputs[(n, "feedsmith")] = output_kinds(load_config(site / "config.yaml").output_dir)


# --- Hugo, side by side -----------------------------------------------------------------------


def hugo_site(site: Path) -> Path | None:
    """A Hugo site of the corpus's posts beside it (made once; the posts hard-linked), or None
    without ``hugo`` on PATH."""
    if shutil.which("hugo") is None:
        return None
    root = site.parent / f"{site.name}-hugo"
    stamp = root / "corpus.json"
    info = (site / "corpus.json").read_bytes()
    if not stamp.exists() or stamp.read_bytes() != info:
        TRASH.discard(root)
        (root / "content").mkdir(parents=True)
        shutil.copytree(site / "posts", root / "content" / "posts", copy_function=_link_or_copy)
        stamp.write_bytes(info)
    (root / "config.toml").write_text(HUGO_CONFIG, "utf-8")
    return root


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def hugo_build(root: Path) -> Sample:
    """``hugo --quiet`` from nothing (no public/, no resources/): Hugo's full build."""
    for name in ("public", "resources", ".hugo_build.lock"):
        TRASH.discard(root / name)  # moved aside, as feedsmith's output is (see Trash)
    cmd = ["hugo", "--quiet"]
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=err)
        with TreeSampler(proc.pid) as sampler:
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise BenchError(f"hugo failed:\n{_tail(err.read().decode(errors='replace'))}")
    return Sample(seconds, usage.ru_maxrss / 1024, sampler.peak / 2**20, "hugo --quiet")


# --- fresh-process builds ---------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    # An installed feedsmith has its bytecode compiled; a shell with PYTHONDONTWRITEBYTECODE
    # would make every fresh process compile every module again (~0.1 s), which is not what
    # a cron job pays. See warm_bytecode().
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode() -> None:
    """Compile (and cache) feedsmith's modules once, before any fresh process is timed."""
    modules = (
        "feedsmith.cli, feedsmith.pipeline, feedsmith.core.documents, feedsmith.core.opml, "
        "feedsmith.serve.app"
    )
    subprocess.run(
        [sys.executable, "-c", f"import {modules}"], env=_child_env(), check=True, timeout=120
    )


def fresh_build(site: Path, *, sample_tree: bool = False) -> Sample:
    """One ``python -m feedsmith build`` in a new process, timed from spawn to exit."""
    cmd = [sys.executable, "-m", "feedsmith", "-c", str(site / "config.yaml"), "build"]
    cmd.append("--no-progress")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=site, env=_child_env(), stdout=out, stderr=err)
        sampler = TreeSampler(proc.pid) if sample_tree else None
        with sampler or contextlib.nullcontext():
            _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{_tail(stderr)}\n{_tail(stdout)}"
        )
    lines = stdout.strip().splitlines()
    return Sample(
        seconds=seconds,
        rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        tree_mb=sampler.peak / 2**20 if sampler else None,
        summary=lines[-1] if lines else "",
        cpu=usage.ru_utime + usage.ru_stime,
    )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- service builds ---------------------------------------------------------------------------


def service_worker(config_path: str) -> int:
    """Child side of the service mode: one builder object, a build per ``build`` line on stdin.

    Replies one JSON line per build on stdout. Anything the build prints goes to stderr so it
    cannot corrupt the protocol.
    """
    from feedsmith import pipeline as build_module
    from feedsmith.config import load_config

    protocol = sys.stdout
    sys.stdout = sys.stderr
    config = load_config(config_path)
    builder_cls = getattr(build_module, "SiteBuilder", None)
    if builder_cls is not None:
        builder = builder_cls(config)
        run = builder.build
        kind = "SiteBuilder"
    else:

        def run(now: datetime, progress: Any = None) -> Any:
            return build_module.build_site(config, now, progress=progress)

        kind = "build_site"
    for line in sys.stdin:
        if line.strip() != "build":
            continue
        try:
            started, cpu = time.perf_counter(), time.process_time()
            report = run(datetime.now(UTC), progress=None)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            summary = report.summary() if hasattr(report, "summary") else repr(report)
            reply: dict[str, Any] = {"ok": True, "seconds": seconds, "summary": summary}
            reply["cpu"] = cpu
        except Exception as exc:  # reported to the parent, which stops this size
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        reply["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reply["kind"] = kind
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()
    return 0


class Service:
    """Parent side: a long-running child process that builds when told to."""

    def __init__(self, site: Path) -> None:
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        cmd = [sys.executable, str(Path(__file__).resolve()), "--service-worker"]
        cmd.append(str(site / "config.yaml"))
        self.proc = subprocess.Popen(
            cmd,
            cwd=site,
            env=_child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )

    def build(self) -> Sample:
        assert self.proc.stdin and self.proc.stdout
        with TreeSampler(self.proc.pid) as sampler:  # the service with its render workers
            self.proc.stdin.write("build\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            log = _tail(self.log.read().decode(errors="replace"))
            raise BenchError(f"service worker died:\n{log}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BenchError(f"service build failed: {reply['error']}")
        return Sample(
            reply["seconds"], reply["rss_mb"], sampler.peak / 2**20, reply["summary"], reply["cpu"]
        )

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- one run of the four steps ----------------------------------------------------------------


def run_sequence(
    site: Path,
    n: int,
    mode: str,
    run: int,
    edit_index: int,
    results: Results,
    verbose: bool,
    edits: int = 1,
) -> None:
    """cold → no-change → one edited → one added, all from a wiped state, corpus restored after.

    ``edits`` > 1 in the service: that many edits of the newest post one after another (each a
    new text), each a sample of "edit one", so its median is the p50 of many edits."""
    wipe_build_products(site)

    def record(step: str, sample: Sample) -> None:
        results.add(n, mode, step, sample)
        if verbose:
            tree = f", tree {sample.tree_mb:.0f} MB" if sample.tree_mb else ""
            print(
                f"  {n:>7} {mode:<13} run {run} {step:<9} {sample.seconds:8.3f} s  "
                f"rss {sample.rss_mb:.0f} MB{tree}  | {sample.summary}",
                file=sys.stderr,
            )

    if mode == "fresh process":
        record("cold", fresh_build(site, sample_tree=True))
        if (n, "feedsmith") not in results.outputs:
            record_output(site, n, results)
        record("no-change", fresh_build(site))
        with edited(site, edit_index, revision=run):
            record("edit one", fresh_build(site))
            with added(site, seed=run):
                record("add one", fresh_build(site))
    else:
        with Service(site) as service:
            record("cold", service.build())
            if (n, "feedsmith") not in results.outputs:
                record_output(site, n, results)
            record("no-change", service.build())
            for extra in range(1, edits):
                with edited(site, edit_index, revision=1000 * run + extra):
                    record("edit one", service.build())
            with edited(site, edit_index, revision=run):
                record("edit one", service.build())
                with added(site, seed=run):
                    record("add one", service.build())


# --- report -----------------------------------------------------------------------------------


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _fmt_mb(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} MB"


def table(results: Results, sizes: list[int], modes: list[str], runs: int) -> str:
    head = ["N", "mode", *STEPS, "peak RSS, cold (largest process / whole tree, sampled)"]
    lines = [
        f"Medians of {runs} run(s) (wall, and CPU of the building process); feedsmith "
        f"{_version()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---:" if i > 1 else "---" for i in range(len(head))) + "|",
    ]
    for n in sizes:
        for mode in modes:
            if (n, mode, "cold") not in results.samples:
                continue
            cells = [f"{n:,}", mode]
            for step in STEPS:
                wall = _fmt_s(results.median(n, mode, step))
                cpu = results.median(n, mode, step, "cpu")
                cells.append(f"{wall} ({_fmt_s(cpu)} CPU)" if cpu is not None else wall)
            rss = _fmt_mb(results.median(n, mode, "cold", "rss_mb"))
            tree = results.median(n, mode, "cold", "tree_mb")
            cells.append(f"{rss} / {_fmt_mb(tree)}" if tree is not None else rss)
            lines.append("| " + " | ".join(cells) + " |")
    if 10_000 in sizes and 100_000 in sizes:
        for mode in modes:
            small = results.median(10_000, mode, "cold")
            big = results.median(100_000, mode, "cold")
            if small and big:
                lines.append("")
                lines.append(f"100k / 10k cold ({mode}): {big / small:.1f}×")
    return "\n".join(lines)


def _fmt_bytes(value: int) -> str:
    return f"{value / 1e6:,.1f} MB"


def hugo_table(results: Results, sizes: list[int], modes: list[str]) -> str:
    """feedsmith's cold builds and output against Hugo's, same runs; output by kind."""
    lines = []
    for n in sizes:
        posts = results.posts_bytes.get(n)
        ours = results.outputs.get((n, "feedsmith"))
        if not posts or ours is None:
            continue
        total = sum(size for _, size in ours.values())
        files = sum(count for count, _ in ours.values())
        lines += ["", f"N = {n:,}: posts {_fmt_bytes(posts)}"]
        lines.append(
            f"  feedsmith output {_fmt_bytes(total)}, {files:,} files = {total / posts:.1f}× "
            "the posts' bytes"
        )
        for kind, (count, size) in sorted(ours.items()):
            lines.append(f"    {kind:<18} {count:>7,} files {_fmt_bytes(size):>12}")
        hugo = results.median(n, HUGO, "cold")
        theirs = results.outputs.get((n, HUGO))
        if hugo is None or theirs is None:
            lines.append("  Hugo: not measured (no hugo on PATH, or --no-hugo)")
            continue
        hugo_total = sum(size for _, size in theirs.values())
        hugo_files = sum(count for count, _ in theirs.values())
        lines.append(
            f"  Hugo output {_fmt_bytes(hugo_total)}, {hugo_files:,} files = "
            f"{hugo_total / posts:.1f}× the posts' bytes; feedsmith / Hugo bytes "
            f"{total / hugo_total:.1f}×"
        )
        lines.append(f"  Hugo cold (hugo --quiet, median): {_fmt_s(hugo)}")
        for mode in modes:
            ours_cold = results.median(n, mode, "cold")
            if ours_cold is not None:
                lines.append(
                    f"  feedsmith cold ({mode}) / Hugo cold: {_fmt_s(ours_cold)} / "
                    f"{_fmt_s(hugo)} = {ours_cold / hugo:.2f}×"
                )
    return "\n".join(lines)


def _version() -> str:
    try:
        from feedsmith import __version__

        return __version__
    except ImportError:  # pragma: no cover - only when run outside the repo
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="corpus sizes (default 1000 10000)")
    parser.add_argument("--big", action="store_true", help="add N = 100,000")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out", help="corpus directory")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("fresh", "service"),
        default=["fresh", "service"],
        help="which builds to measure (default both)",
    )
    parser.add_argument("--no-hugo", action="store_true", help="do not build with Hugo too")
    parser.add_argument(
        "--edits",
        type=int,
        default=1,
        help="service: edits of the newest post per run, each a sample (default 1)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only the final table")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every sample here")
    parser.add_argument("--service-worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.service_worker:
        return service_worker(args.service_worker)

    sizes = list(args.sizes or [1_000, 10_000])
    if args.big and 100_000 not in sizes:
        sizes.append(100_000)
    modes = [{"fresh": "fresh process", "service": "service"}[m] for m in args.modes]
    results = Results()
    failed = False
    warm_bytecode()
    for n in sizes:
        site = corpus_dir(args.out, n, args.seed)
        started = time.perf_counter()
        corpus.ensure_corpus(n, site, args.seed)
        if not args.quiet:
            print(f"corpus {site} ready in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        edit_index = newest_index(n, args.seed)
        hugo_root = None if args.no_hugo else hugo_site(site)
        try:
            for run in range(1, args.runs + 1):
                for mode in modes:
                    run_sequence(
                        site, n, mode, run, edit_index, results, not args.quiet, args.edits
                    )
                if hugo_root is not None:
                    sample = hugo_build(hugo_root)
                    results.add(n, HUGO, "cold", sample)
                    results.outputs[(n, HUGO)] = output_kinds(hugo_root / "public")
                    if not args.quiet:
                        print(
                            f"  {n:>7} {HUGO:<13} run {run} cold      {sample.seconds:8.3f} s  "
                            f"rss {sample.rss_mb:.0f} MB, tree {sample.tree_mb or 0:.0f} MB",
                            file=sys.stderr,
                        )
        except BenchError as exc:
            print(f"N={n}: {exc}", file=sys.stderr)
            failed = True
        finally:
            wipe_build_products(site)
    TRASH.empty()  # every build is done: deleting the old trees slows nothing timed now
    print(table(results, sizes, modes, args.runs))
    print(hugo_table(results, sizes, modes))
    if args.json:
        raw = [
            {"n": n, "mode": mode, "step": step, **asdict(sample)}
            for (n, mode, step), samples in results.samples.items()
            for sample in samples
        ]
        args.json.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
