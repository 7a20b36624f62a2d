"""The incremental build: post files in, a published tree and a change set out.

The stages, in the order :mod:`.site` (the orchestrator, :class:`SiteBuilder`,
:func:`build_site`) runs them, each over the pure core and writing through :mod:`feedsmith.publish`:

====================  ======================================================================
:mod:`.listing`       scan: post files and their stat keys (:mod:`.sources` finds and reads)
:mod:`.tracking`      what changed since the last build, from inotify (:mod:`.watch`)
:mod:`.memo`          the nothing-changed fast path (:mod:`.quick`: before the rest is imported)
:mod:`.index`         parse, incrementally: the parse cache (:mod:`.cache`, :mod:`.records`)
                      and last known good (:mod:`.kept`)
:mod:`.idbook`        the id map between builds (ids for life)
:mod:`.plan`          which feeds to render again (signatures), the manifest's lines
:mod:`.scheduler`     rendering: lazy files, the process pool (tied to the builder)
:mod:`.statefile`     the build state on disk
:mod:`.report`        :class:`BuildReport`, :class:`BuildError`
:mod:`.scan`          the whole scan in one call (``check``, tests: the reference)
:mod:`.progress`      the progress bar on a terminal
====================  ======================================================================

Nothing here knows about HTTP or a scheduler: ``serve`` (above) calls it; what it produces goes
to the sinks of :mod:`feedsmith.publish` (below).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsmith.pipeline.quick import LOCK_FILE, STATE_FILE
    from feedsmith.pipeline.report import BuildError, BuildReport, ProgressFn, RenderError
    from feedsmith.pipeline.site import SiteBuilder, build_site

_FROM_SITE = frozenset({"SiteBuilder", "build_site"})
_FROM_QUICK = frozenset({"LOCK_FILE", "STATE_FILE"})
_FROM_REPORT = frozenset({"BuildError", "BuildReport", "ProgressFn", "RenderError"})


def __getattr__(name: str) -> Any:
    """The builder is imported when first asked for: importing it pulls in the whole pipeline
    (parsers, Liquid, Jinja: ~0.3 s), which a ``feedsmith build`` that finds nothing changed
    (:mod:`.quick`) never needs."""
    if name in _FROM_SITE:
        from feedsmith.pipeline import site

        return getattr(site, name)
    if name in _FROM_REPORT:  # start-up cost only: the report's module imports the core's model
        from feedsmith.pipeline import report

        return getattr(report, name)
    if name in _FROM_QUICK:
        from feedsmith.pipeline import quick

        return getattr(quick, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
