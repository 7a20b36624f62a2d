"""The Rust engine made to fail, so a test sees the markdown-it-py fallback render a post."""

from __future__ import annotations

from typing import NoReturn


class PanicException(BaseException):  # what pyo3 raises for a Rust panic
    pass


class Exploding:
    """Stands in for ``core.markdown._FAST``: every call panics, as a Rust bug would."""

    def render(self, text: str) -> NoReturn:
        raise PanicException("index out of bounds")

    def tree(self, text: str) -> NoReturn:
        raise PanicException("index out of bounds")
