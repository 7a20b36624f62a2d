"""Which sinks a configuration asks for, built once per builder, and the loop that feeds them.

The local writer is not among them: every build has it, first (see
:mod:`feedsmith.publish.changes`). Each optional destination (a bucket, WebSub hubs) adds its sink
here when its config section is set, so the build itself never learns about destinations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from feedsmith.core.config import Config
from feedsmith.core.text import escape_controls
from feedsmith.publish.changes import ChangeSet, Sink
from feedsmith.publish.s3.lease import Leased, LeaseKeeper
from feedsmith.publish.s3.sink import S3Sink  # boto3 itself is imported only when a bucket is set
from feedsmith.publish.websub.notify import WebSubSink

#: The build's logger: a failing sink is part of the build's story.
log = logging.getLogger("feedsmith.build")


def configured_sinks(config: Config, *, lease: LeaseKeeper | None = None) -> list[Sink]:
    """The sinks after the local writer, in delivery order (none configured: none).

    With ``lease`` (a bucket's builders elect one publisher), each sink delivers only while
    this builder holds it: followers build locally and stay ready.
    """
    sinks: list[Sink] = []
    if config.publish.s3 is not None:
        sinks.append(S3Sink.from_config(config))
    if config.websub.enabled:
        sinks.append(WebSubSink(config))
    if lease is not None:
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
