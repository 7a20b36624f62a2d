"""Command line: parse arguments, call the library, map outcomes to exit codes. Nothing else.

Exit codes (documented in the README and tested):

* 0 — success (``check``: no invalid post; ``build``: feeds published, invalid posts skipped);
* 1 — ``check`` found an invalid post, or ``build --strict`` skipped one;
* 2 — usage or configuration error (one line naming the key and the file), or a ``state_dir``
  that another user owns or can write (one line naming the folder and the fix);
* 3 — the build itself failed (the previous output is left exactly as it was), or an I/O error
  (disk full, read-only filesystem, permissions) stopped the command: one line naming the
  operation, the path and, for a full disk, the free space of its filesystem;
* 4 — feeds published locally, but a sink (bucket, hub) failed: the next build retries;
* 5 — ``build``: another builder holds the bucket's lease (nothing built or published);
* 6 — ``serve --from-bucket``: the bucket cannot be read at start (missing, refused, down).

``stats import``: 0 every line read, 1 some lines were not log lines (one report line each, the
rest imported), 3 a file could not be read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: see main() for why nothing else is imported up here
    import argparse
    from pathlib import Path

    from feedsmith.core.config import Config

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_BUILD_FAILED = 3
EXIT_SINK_FAILED = 4  # feeds published locally, a sink (bucket, hub) failed: next build retries
EXIT_LEASE_HELD = 5  # build: another builder publishes to this bucket
EXIT_BUCKET_UNREADABLE = 6  # serve --from-bucket: the bucket cannot be read at start


def _parser() -> argparse.ArgumentParser:
    import argparse
    from pathlib import Path

    from feedsmith import __version__
    from feedsmith.config import FROM_BUCKET_ENV_VAR

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS,
        help="config file (default: $FEEDSMITH_CONFIG, else ./config.yaml)",
    )
    common.add_argument(
        "--jekyll",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="read the Jekyll site at PATH as Jekyll does (its _config.yml, _posts, _data, "
        "_includes); replaces the config's jekyll:; without a config file, defaults are used "
        "(./feeds, ./.feedsmith)",
    )
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
    )
    parser = argparse.ArgumentParser(
        prog="feedsmith",
        description="Build Atom, RSS and JSON feeds from a directory of Markdown posts.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"feedsmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{build,serve,check,stats}", required=True)

    sub.add_parser(
        "check",
        parents=[common],
        help="parse every post and report problems; writes nothing",
        description="Parse every post, print one line per problem and a summary. Exit 1 if any "
        "post is invalid.",
    )
    build = sub.add_parser(
        "build", parents=[common], help="build every feed into output_dir", description="Build."
    )
    build.add_argument("--strict", action="store_true", help="exit 1 if any post was invalid")
    build.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="build, then serve the feeds and rebuild on a schedule",
        description="Build once, serve output_dir over HTTP with a production WSGI server and "
        "rebuild every schedule.interval_seconds.",
    )
    serve.add_argument("--host", help="bind address (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: server.port, 8080)")
    serve.add_argument("--workers", type=int, help="web worker processes (default: server.workers)")
    serve.add_argument(
        "--from-bucket",
        action="store_true",
        default=os.environ.get(FROM_BUCKET_ENV_VAR, "") not in ("", "0"),
        help="a replica: serve what the builder published to publish.s3; no local feeds, no "
        "builds (env FEEDSMITH_FROM_BUCKET=1)",
    )
    stats = sub.add_parser(
        "stats",
        parents=[common],
        help="subscribers per feed; 'stats import FILE…' reads access logs",
        description="Print subscribers per feed over stats.window_hours, as counted by serve "
        "or imported from access logs.",
    )
    stats.add_argument("--json", action="store_true", help="print /stats.json's document")
    stats_sub = stats.add_subparsers(dest="stats_command", metavar="{import}")
    imports = stats_sub.add_parser(
        "import",
        parents=[common],
        help="count the feed requests of access logs",
        description="Read combined-format (nginx, Apache), S3 server access and CloudFront "
        "standard logs, gzipped or not, into the subscriber counts.",
    )
    imports.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return parser


def _setup_logging(verbose: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    # A `feedsmith build` that finds nothing changed (the usual cron run) is answered from the
    # records of the last build before argparse, logging, YAML or the core are imported: those
    # imports were as much CPU as the answer (:mod:`feedsmith.pipeline.early`). Everything
    # else, and any doubt, takes the full start-up below.
    # One listing of the posts for the whole command (statpass.hold): the early question, the
    # full start-up's and the builder's scan took the same ~10,000 stats three times.
    from feedsmith.pipeline import statpass
    from feedsmith.pipeline.early import early_build

    statpass.hold()
    try:
        early = early_build(sys.argv[1:] if argv is None else list(argv))
        if early is not None:
            return early
        return _main(argv)
    finally:
        statpass.release()


def _main(argv: Sequence[str] | None) -> int:
    import logging
    from pathlib import Path

    from feedsmith.config import ENV_VAR, load_config, resolve_config_path
    from feedsmith.core.config import ConfigError
    from feedsmith.system.diskerrors import describe
    from feedsmith.system.statedir import StateDirError, ensure_state_dir

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "build":  # a service's scans must each list afresh (statpass.hold)
        from feedsmith.pipeline import statpass

        statpass.release()
    _setup_logging(getattr(args, "verbose", False))
    named = getattr(args, "config", None) or os.environ.get(ENV_VAR)
    config_path = resolve_config_path(getattr(args, "config", None))
    jekyll = getattr(args, "jekyll", None)
    from_bucket = args.command == "serve" and args.from_bucket
    try:
        config = load_config(
            config_path,
            serve_only=from_bucket,
            jekyll=Path(jekyll).absolute() if jekyll else None,
            # only ./config.yaml may be missing: a file named with -c or $FEEDSMITH_CONFIG
            # that is not there is a typo, not a wish for the defaults
            optional=bool(jekyll) and not named,
        )
        if from_bucket and config.publish.s3 is None:
            raise ConfigError(config.path, "publish.s3", "is required by serve --from-bucket")
    except ConfigError as exc:
        print(f"feedsmith: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:  # before anything reads state_dir: what lies there must be this user's own
        ensure_state_dir(config.state_dir, create=args.command != "check")
    except StateDirError as exc:
        print(f"feedsmith: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "build" and not jekyll:
        from feedsmith.pipeline.early import remember_config

        remember_config(
            config, getattr(args, "config", None) or os.environ.get(ENV_VAR) or "config.yaml"
        )

    try:
        if args.command == "check":
            return _check(config)
        if args.command == "build":
            return _build(
                config, strict=args.strict, progress=not args.no_progress, exits=argv is None
            )
        if args.command == "serve" and from_bucket:
            from feedsmith.serve.server import serve_replica

            return serve_replica(config, host=args.host, port=args.port, workers=args.workers)
        if args.command == "serve":
            return _serve(config, host=args.host, port=args.port, workers=args.workers)
        if args.command == "stats":
            from feedsmith.serve.subscribers.command import run_stats

            return run_stats(config, args)
    except OSError as exc:  # disk full, read-only, permissions...: one line, traceback with -v
        logging.getLogger("feedsmith").debug("%s failed", args.command, exc_info=True)
        print(f"feedsmith: {args.command} failed: {describe(exc)}", file=sys.stderr)
        return EXIT_BUILD_FAILED
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse prevents it
    return EXIT_USAGE


def _display_base() -> Path:
    from pathlib import Path

    return Path(os.getcwd())


def _check(config: Config) -> int:
    # The builder's scan, not a plain one: it reads (never writes) state_dir, so a broken post
    # whose last valid version is still published is reported as the warning builds give.
    from datetime import UTC, datetime

    from feedsmith.core.text import escape_controls
    from feedsmith.pipeline import SiteBuilder
    from feedsmith.pipeline.podcast import check_shows

    builder = SiteBuilder(config, watch=False, persist_cache=False)
    result = builder.scan(datetime.now(UTC), warn_held=True)
    if config.jekyll is not None:
        for line in jekyll_summary(config, [p.source for p in result.posts]):
            print(escape_controls(line))
    for problem in result.problems:
        print(problem.format())
    print(f"{len(result.posts)} posts, {result.skipped} skipped, {len(result.problems)} problems")
    template_error = _check_page_template(config, result.posts)
    if template_error:
        print(f"error: feed page template: {escape_controls(template_error)}")
    show_problems = check_shows(config, result.posts)  # Apple's rules for podcast shows
    for problem in show_problems:
        print(problem.format())
    show_errors = any(p.severity == "error" for p in show_problems)
    return EXIT_INVALID if result.skipped or template_error or show_errors else EXIT_OK


def jekyll_summary(config: Config, sources: Sequence[str]) -> list[str]:
    """What ``check`` read from a Jekyll site, so a user sees at once whether feedsmith
    understood it: one ``jekyll: …`` line per fact, notes last."""
    site = config.jekyll
    if site is None:
        return []
    from feedsmith.core.jekyll.rules import posts_folder  # start-up cost only (jekyll: sites)

    folders = {f for f in map(posts_folder, sources) if f is not None}
    kept = [site.feed_path] + [
        f"{path}<tag>.xml" if name == "*" else path for _, name, path in site.feed_aliases
    ]
    lines = [
        f"jekyll: site {site.root}",
        f"jekyll: config files {', '.join(site.config_files)}",
        f"jekyll: site URL {config.site.url} (baseurl {site.baseurl or '(none)'})",
        f"jekyll: permalink {site.permalink}",
        f"jekyll: time zone {config.timezone}",
        f"jekyll: {len(sources)} posts in {len(folders)} _posts folders",
        f"jekyll: {site.includes_count} includes",
        f"jekyll: {len(config.authors)} authors"
        + (f" (site author {config.site.author})" if config.site.author else ""),
        f"jekyll: jekyll-feed URLs kept {', '.join(kept)}"
        + ("" if site.jekyll_feed else " (jekyll-feed not in the site's plugins)"),
    ]
    lines += [f"jekyll: note: {note}" for note in site.notes]
    return lines


def _check_page_template(config: Config, posts: list[Any]) -> str | None:
    """Render the site feed's page the way a build would, so a broken custom template is found
    before a build fails on it."""
    if not config.feed.pages:
        return None
    from feedsmith.core.groups import ALL, FeedGroup
    from feedsmith.core.pages import PageRenderer, TemplateProblem

    newest = sorted(posts, key=lambda p: (p.date, p.id), reverse=True)[: config.feed.max_entries]
    group = FeedGroup("all", ALL, ALL, ALL, tuple(newest))
    try:
        PageRenderer(config).render(group, newest)
    except TemplateProblem as exc:
        return str(exc)
    return None


def _build(config: Config, *, strict: bool, progress: bool, exits: bool = False) -> int:
    keeper = None
    if config.publish.s3 is not None:
        from feedsmith.publish.s3.lease import keeper_for

        keeper = keeper_for(config)
        keeper.step(watching=False)  # a one-shot build cannot wait: the written expiry decides
        if not keeper.held() and keeper.status.role == "follower":
            s3 = config.publish.s3
            print(
                f"feedsmith: another builder ({keeper.status.holder}) holds the lease on "
                f"s3://{s3.bucket}/{s3.prefix} until {keeper.status.expires}; not building",
                file=sys.stderr,
            )
            return EXIT_LEASE_HELD
        if keeper.held():
            keeper.start()  # renewals while a long build runs
    try:
        return _build_and_publish(
            config, strict=strict, progress=progress, keeper=keeper, exits=exits
        )
    finally:
        if keeper is not None:
            keeper.stop(release=True)


def _collector_after() -> None:
    """Start-up and exit cost of a one-shot build: the collector is kept off for the whole
    build (not only inside :class:`~feedsmith.pipeline.SiteBuilder`), then every survivor is
    frozen (``gc.freeze``) before it is turned on again. Else, at 10,000 posts, the first
    collection after the build walked everything the build had allocated (~0.15 s CPU) and
    the interpreter's last collection at exit walked the parse index again (with the Liquid
    import gone too, a fresh edit's process: 4.29 → 3.55 s CPU, README "Speed"). Frozen
    objects are still freed by reference counting; only cyclic garbage made before the
    freeze stays until the process ends, which is right after. A caller that runs
    :func:`main` with its own ``argv`` (tests, scripts) keeps its collector as it was."""
    import gc

    gc.freeze()
    gc.enable()


def _build_and_publish(
    config: Config, *, strict: bool, progress: bool, keeper: Any, exits: bool = False
) -> int:
    """One build and its report. ``exits``: this process is the command (``main()`` read
    ``sys.argv``) and ends when it returns, so what the build allocated is frozen out of the
    garbage collector's sight (see :func:`_collector_after`)."""
    import gc
    from datetime import UTC, datetime

    from feedsmith.core.text import escape_controls
    from feedsmith.pipeline.quick import ask

    # Nothing changed (the usual cron run): answered before the pipeline is even imported.
    asked = ask(config, datetime.now(UTC))
    quick = asked.report
    if quick is not None:
        for problem in quick.problems:
            print(problem.format(), file=sys.stderr)
        print(quick.summary())
        return EXIT_INVALID if strict and quick.skipped else EXIT_OK

    from feedsmith.pipeline import BuildError, SiteBuilder
    from feedsmith.pipeline.progress import TerminalProgress
    from feedsmith.publish.sinks import configured_sinks

    bar = TerminalProgress(sys.stderr) if progress and sys.stderr.isatty() else None
    collecting = gc.isenabled()
    if exits:
        gc.disable()  # see _collector_after
    try:
        sinks = configured_sinks(config, lease=keeper)
        builder = SiteBuilder(config, watch=False, sinks=sinks)  # as build_site, plus:
        builder.asked = asked.keys  # the posts' keys the question above took
        report = builder.build(datetime.now(UTC), progress=bar)
    except BuildError as exc:
        if bar:
            bar.close()
        why = escape_controls(str(exc))
        if exc.published:
            print(f"feedsmith: feeds published but build state not saved: {why}", file=sys.stderr)
        else:
            print(f"feedsmith: build failed, previous feeds kept: {why}", file=sys.stderr)
        return EXIT_BUILD_FAILED
    finally:
        if exits and collecting:
            _collector_after()
    if bar:
        bar.close()
    if config.websub.enabled:
        from feedsmith.publish.websub.notify import drain

        drain(sinks)  # bounded: what is not out by then stays queued for the next run
    for problem in report.problems:
        print(problem.format(), file=sys.stderr)
    print(report.summary())
    for name, reason in report.sink_errors:
        print(
            f"feedsmith: feeds published locally, {name} failed: {escape_controls(reason)}",
            file=sys.stderr,
        )
    if report.sink_errors:
        return EXIT_SINK_FAILED
    if strict and report.skipped:
        return EXIT_INVALID
    return EXIT_OK


def _serve(config: Config, *, host: str | None, port: int | None, workers: int | None) -> int:
    from feedsmith.serve.server import serve

    return serve(config, host=host, port=port, workers=workers)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
