"""The body of ``feedsmith stats`` (kept out of cli.py, which only maps outcomes to exits)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from feedsmith.core.config import Config
from feedsmith.serve.stores import FeedStore
from feedsmith.serve.subscribers.importer import import_logs, print_table
from feedsmith.serve.subscribers.recorder import Subscribers
from feedsmith.serve.subscribers.views import stats_document

EXIT_OK = 0
EXIT_SKIPPED_LINES = 1


def run_stats(config: Config, args: argparse.Namespace) -> int:
    if getattr(args, "stats_command", None) == "import":
        result = import_logs(config, args.files)
        for line in result.problems:
            print(line, file=sys.stderr)
        if result.skipped > len(result.problems):
            print(f"… and {result.skipped - len(result.problems)} more", file=sys.stderr)
        print(
            f"{result.lines} lines, {result.requests} feed requests, {result.counted} counted "
            f"(crawlers are not), {result.skipped} not log lines"
        )
        return EXIT_SKIPPED_LINES if result.skipped else EXIT_OK
    if args.json:
        now = datetime.now(UTC)
        subs = Subscribers(config, FeedStore.for_config(config), lambda: now)
        print(json.dumps(stats_document(subs, now), ensure_ascii=False, indent=1))
        return EXIT_OK
    print_table(config)
    return EXIT_OK
