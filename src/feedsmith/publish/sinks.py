"""Which sinks a configuration asks for, built once per builder.

The local writer is not among them: every build has it, first (see
:mod:`feedsmith.publish.changes`). Each optional destination (a bucket, WebSub hubs) adds its sink
here when its config section is set, so the build itself never learns about destinations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from feedsmith.config import Config
from feedsmith.publish.changes import Sink

if TYPE_CHECKING:
    from feedsmith.publish.s3.lease import LeaseKeeper


def configured_sinks(config: Config, *, lease: LeaseKeeper | None = None) -> list[Sink]:
    """The sinks after the local writer, in delivery order (none configured: none).

    With ``lease`` (a bucket's builders elect one publisher), each sink delivers only while
    this builder holds it: followers build locally and stay ready.
    """
    sinks: list[Sink] = []
    if config.publish.s3 is not None:
        from feedsmith.publish.s3.sink import S3Sink  # boto3 is only imported when a bucket is set

        sinks.append(S3Sink.from_config(config))
    if config.websub.enabled:
        from feedsmith.publish.websub.notify import WebSubSink

        sinks.append(WebSubSink(config))
    if lease is not None:
        from feedsmith.publish.s3.lease import Leased

        return [Leased(sink, lease) for sink in sinks]
    return sinks
