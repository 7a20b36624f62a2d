"""A dependency-free progress bar for long builds, drawn only when a person is watching."""

from __future__ import annotations

import time
from typing import TextIO


class TerminalProgress:
    """Callable ``progress(done, total)`` that redraws one line at most ~10 times a second.

    The build calls it from its hot loop, so it must be cheap when nothing needs redrawing.
    """

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        frac = done / total if total else 1.0
        filled = int(self.width * frac)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} posts")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
