"""The build: post files in, published feeds and a change set out.

The package is split by pipeline stage, each module a step a newcomer can name:

====================  ======================================================================
:mod:`.site`          the orchestrator, :class:`SiteBuilder` and :func:`build_site`
:mod:`.listing`       scan: post files and their stat keys; shared file checks
:mod:`.tracking`      what changed since the last build (inotify, the service)
:mod:`.memo`          the nothing-changed fast path
:mod:`.index`         parse, incrementally (the parse index, last known good)
:mod:`.plan`          which feeds to render again (signatures)
:mod:`.scheduler`     the render scheduler: lazy files, the process pool and its workers
:mod:`.report`        :class:`BuildReport`, :class:`BuildError`
====================  ======================================================================

Grouping, rendering, writing and the sinks are modules of their own beside this package
(:mod:`feedsmith.core.groups`, :mod:`feedsmith.core.documents`, :mod:`feedsmith.publish.output`,
:mod:`feedsmith.publish.changes`), pure where they can be.
"""

from feedsmith.pipeline.report import BuildError, BuildReport, ProgressFn, RenderError
from feedsmith.pipeline.site import LOCK_FILE, STATE_FILE, SiteBuilder, build_site

__all__ = [
    "LOCK_FILE",
    "STATE_FILE",
    "BuildError",
    "BuildReport",
    "ProgressFn",
    "RenderError",
    "SiteBuilder",
    "build_site",
]
