"""What crosses to the build pool's workers in a cold build: each entry is serialised once,
ahead of the feeds (the builder keeps it, however small its entry cache's bound), and every
feed's task then carries that packed entry and no post HTML to serialise again."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest

from feedsmith.pipeline import SiteBuilder
from test_incremental import NOW, OLD_MTIME, files_of, post_text, with_dirs, write


class Recording(Executor):
    """The pool's executor, with every task submitted to it remembered by function name."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.submitted: dict[str, list[tuple[Any, ...]]] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted.setdefault(fn.__name__, []).append(args)
        return self.inner.submit(fn, *args, **kwargs)

    def map(self, fn: Callable[..., Any], *iterables: Any, **kwargs: Any) -> Any:
        return self.inner.map(fn, *iterables, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait, cancel_futures=cancel_futures)


def _site(site: Any, count: int) -> Any:
    for i in range(count):
        write(
            site.posts_dir / f"2025-12-{i + 1:02d}-p{i}.md",
            post_text(
                f"Post {i}",
                i + 1,
                tags=["AI", "ニュース"] if i % 2 else ["ai", "python"],
                categories=["Tech"] if i % 3 else ["Life"],
                body=f"Body {i} with **bold** text.",
            ),
            OLD_MTIME + i,
        )
    # Two entries a feed: archive pages too, so summary-only entries are keyed apart.
    return site.config(feed={"max_entries": 2})


@pytest.mark.slow
def test_a_cold_pool_build_serialises_each_entry_once_and_ships_it_packed(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _site(site, 12)
    builder = SiteBuilder(config, pool=True, persist_cache=False)
    # A bound far below what the build needs: the builder must hold every entry serialised
    # ahead until its feeds are rendered, or a worker serialises it again from the HTML.
    builder.planner.entries.max_items = 3
    real_executor = builder.pool.executor
    recorders: list[Recording] = []

    def recording() -> Executor:
        if not recorders:
            recorders.append(Recording(real_executor()))
        return recorders[0]

    monkeypatch.setattr(builder.pool, "executor", recording)
    builder.build(NOW)
    builder.pool.close()

    sent = recorders[0].submitted
    serialised = [key for (items,) in sent["_worker_serialise"] for key, _, _ in items]
    assert len(serialised) == len(set(serialised))  # each entry once
    assert any(key.startswith("summary\x00") for key in serialised)  # archive pages' too
    renders = [task for (task,) in sent["_worker_render"]]
    assert renders
    for _group, z, _paths, keys, pre in renders:
        assert set(keys) <= set(pre)  # every entry arrives packed ...
        assert all(html is None for html in z)  # ... so no post's HTML crosses
    assert all(builder.planner.entries.get_packed(key) is not None for key in serialised)

    reference = with_dirs(config, site.root / "reference")
    SiteBuilder(reference, persist_cache=False, pool=False).build(NOW)
    assert files_of(config.output_dir) == files_of(reference.output_dir)
