"""What a build tells its caller: a report when it worked, :class:`BuildError` when it did not.

Counting: ``feeds_written``/``feeds_unchanged``/``feeds_removed`` count feed *files* (one per
group per format), the thing a reader subscribes to; ``index.opml``, ``index.json`` and ``.gz``
sidecars are not counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from feedsmith.core.model import Problem
from feedsmith.system.diskerrors import describe

ProgressFn = Callable[[int, int], None]


class BuildError(Exception):
    """The build failed and published nothing new; the previous output is untouched.

    ``stage`` says where (``scan``, ``render``, ``publish``, ``save state``); the original
    exception is chained as ``__cause__``. The one exception to "nothing new was published" is
    ``stage == "save state"``: the feeds are out, only the bookkeeping failed
    (``published`` is then ``True``).
    """

    def __init__(self, stage: str, cause: BaseException) -> None:
        self.stage = stage
        self.published = stage == "save state"
        if isinstance(cause, OSError) and cause.filename is not None:  # see diskerrors
            super().__init__(f"{stage}: {describe(cause)}")
            return
        detail = str(cause) or type(cause).__name__
        super().__init__(f"{stage}: {type(cause).__name__}: {detail}")


class RenderError(Exception):
    """A renderer failed while ``publish`` was pulling its bytes (cause chained)."""


@dataclass
class BuildReport:
    """What one successful build did (see the module docstring for how feeds are counted)."""

    posts: int
    feeds_written: int
    feeds_unchanged: int
    feeds_removed: int
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # invalid posts
    excluded: int = 0  # drafts, unpublished, future-dated
    seconds: float = 0.0
    next_publish: datetime | None = None
    ok: bool = True
    files_written: tuple[str, ...] = ()  # every path replaced on disk (sidecars, manifest too)
    files_removed: tuple[str, ...] = ()
    #: ``(sink name, reason)`` for each sink (bucket, WebSub...) that failed after the local
    #: feeds were published; the next build delivers again. ``ok`` stays about the local feeds.
    sink_errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.posts} posts, {self.feeds_written} feeds written, "
            f"{self.feeds_unchanged} unchanged, {self.feeds_removed} removed, "
            f"{len(self.problems)} problems, {self.seconds:.2f} s"
        )
