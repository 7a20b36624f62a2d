"""The cyclic garbage collector paused while a build runs, and what it does afterwards.

A build allocates hundreds of thousands of short-lived objects next to the parse index
(millions of long-lived ones at 100,000 posts), so the collector would keep walking the index
for nothing; the build's own data is acyclic and freed by reference counting, and whatever
cycles it leaves are collected once it is resumed.

A watching builder (the service) then also freezes the survivors (``gc.freeze``): else the
first collection after each build walks every object the build allocated (~20 ms at 10,000
posts) and every few builds a full one walks the whole index (~180 ms, a pause for everything
else in the process too). Cyclic garbage frozen that way is not lost for good: a full-pass
build (the first, one after a failure, one every ``FULL_SCAN_SECONDS``) unfreezes, collects
once and freezes again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator

__all__ = ["collector_paused"]


@contextlib.contextmanager
def collector_paused(after: Callable[[], str | None]) -> Iterator[None]:
    """Collector off inside; then, as ``after()`` says once the block is done: ``"collect"``
    (unfreeze, collect, freeze), ``"freeze"`` (freeze the survivors) or ``None`` (nothing).
    A collector the caller had turned off stays off and untouched."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            what = after()
            if what == "collect":
                gc.unfreeze()
                gc.collect()
            if what is not None:
                gc.freeze()
            gc.enable()
