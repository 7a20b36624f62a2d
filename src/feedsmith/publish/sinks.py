"""Which sinks a configuration asks for, built once per builder, and the loop that feeds them.

The local writer is not among them: every build has it, first (see
:mod:`feedsmith.publish.changes`). Each optional destination (a bucket, WebSub hubs) adds its sink
here when its config section is set, so the build itself never learns about destinations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from feedsmith.core.config import Config
from feedsmith.core.text import escape_controls
from feedsmith.publish.changes import ChangeSet, Sink

if TYPE_CHECKING:  # a type only: see configured_sinks for why the sinks load late
    from feedsmith.publish.s3.lease import LeaseKeeper

#: The build's logger: a failing sink is part of the build's story.
log = logging.getLogger("feedsmith.build")


def configured_sinks(config: Config, *, lease: LeaseKeeper | None = None) -> list[Sink]:
    """The sinks after the local writer, in delivery order (none configured: none).

    With ``lease`` (a bucket's builders elect one publisher), each sink delivers only while
    this builder holds it: followers build locally and stay ready.
    """
    # Each destination's module is imported only when the config asks for it: WebSub pulls in
    # requests and SQLite, a bucket boto3 — about 130 ms of every fresh ``feedsmith build`` of a
    # site that uses neither (a start-up cost, not an import cycle).
    sinks: list[Sink] = []
    if config.publish.s3 is not None:
        from feedsmith.publish.s3.sink import S3Sink

        sinks.append(S3Sink.from_config(config))
    if config.websub.enabled:
        from feedsmith.publish.websub.notify import WebSubSink

        sinks.append(WebSubSink(config))
    if lease is not None:
        from feedsmith.publish.s3.lease import Leased

        return [Leased(sink, lease) for sink in sinks]
    return sinks


def deliver(sinks: Sequence[Sink], changes: ChangeSet) -> list[tuple[str, str]]:
    """Hand ``changes`` to every sink after the local writer. A failing sink is logged and
    reported, never raised: the local feeds are out, and the sink catches up next build
    (it is called after no-change builds too)."""
    errors: list[tuple[str, str]] = []
    for sink in sinks:
        try:
            sink.consume(changes)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("sink %s failed, next build retries: %s", sink.name, escape_controls(reason))
            errors.append((sink.name, reason))
    return errors
