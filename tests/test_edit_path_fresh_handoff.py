"""``feedsmith build`` after an edit: the no-change question fails, and the full build takes
the posts' keys it found (``quick.ask``) instead of listing the posts and asking again. The
build through ``main()`` writes what a builder of its own writes, byte for byte, and still
finds a published file deleted or edited by hand. Counters and bytes, not time."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from feedsmith import cli
from feedsmith.pipeline import SiteBuilder, memo, quick
from test_edit_path import OLD_MTIME, write_post
from test_edit_path_fresh_rows import _twin_sites, fresh_build, tree


def questions(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One item per no-change question asked (its answer: was nothing changed?)."""
    asked: list[bool] = []
    real = memo.FastPath.unchanged

    def unchanged(self: memo.FastPath, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, *args, **kwargs)
        asked.append(answer is not None)
        return answer

    monkeypatch.setattr(memo.FastPath, "unchanged", unchanged)
    return asked


@pytest.mark.parametrize("damage", ["none", "deleted", "edited", "gz deleted"])
def test_an_edit_built_by_main_asks_once_and_writes_what_a_builder_writes(
    make_site: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    sites, configs = _twin_sites(make_site, "cli", "builder")
    for s in sites:  # the memo and the rows of a `feedsmith build`, for both
        assert cli.main(["-c", str(s.config_path), "build"]) == 0
    asked = questions(monkeypatch)
    handed: list[Any] = []
    real_ask = quick.ask

    def ask(*args: Any) -> quick.Asked:
        answer = real_ask(*args)
        handed.append(answer)
        return answer

    monkeypatch.setattr(quick, "ask", ask)
    clocks: list[datetime] = []
    real_build = SiteBuilder.build

    def build(self: SiteBuilder, now: datetime, *args: Any, **kwargs: Any) -> Any:
        clocks.append(now)
        return real_build(self, now, *args, **kwargs)

    monkeypatch.setattr(SiteBuilder, "build", build)
    for s in sites:
        write_post(s, 23, "Edited!", OLD_MTIME + 1000)
    out = configs[0].output_dir
    target = {
        "none": None,
        "deleted": out / "categories" / "life.atom.xml",
        "edited": out / "tags" / "red.json",
        "gz deleted": out / "tags" / "green.rss.xml.gz",
    }[damage]
    if target is not None:
        want = target.read_bytes()
        if damage.endswith("deleted"):
            target.unlink()
        else:
            target.write_bytes(b"edited by hand" + want[14:])
    assert cli.main(["-c", str(sites[0].config_path), "build"]) == 0
    # Asked once (it said "changed"), and the build took the keys it found.
    assert asked == [False]
    assert len(handed) == 1 and handed[0].report is None and handed[0].keys is not None
    assert any(rel.endswith("p23.md") for rel, _, _ in handed[0].keys)
    fresh_build(configs[1], clocks[0])  # the reference: a builder of its own, same clock
    assert tree(out) == tree(configs[1].output_dir)
    if target is not None:
        assert target.read_bytes() == want
    # Nothing changed since: the next run is answered from the records, nothing written.
    before = {p: os.stat(p).st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert cli.main(["-c", str(sites[0].config_path), "build"]) == 0
    assert {p: os.stat(p).st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
