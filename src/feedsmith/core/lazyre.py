"""A regular expression compiled the first time it is used, not when its module is imported.

A new ``feedsmith build`` process imports modules holding ~150 patterns, most of which an edit
of one post never runs (Ruby's date shapes, error-message parsing): compiling them at import
was ~10 ms of every start-up. :class:`LazyPattern` stands where the pattern stood and behaves as
the compiled pattern (``match``, ``search``, ``sub``...), which it builds on first use.
"""

from __future__ import annotations

import re
from typing import Any


class LazyPattern:
    """``re.compile(pattern, flags)``, done on the first attribute asked for."""

    __slots__ = ("_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._pattern, self._flags)
        return getattr(compiled, name)
