"""What the Liquid tests share: an in-memory include source and a render with a fixed site."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from feedsmith.core.jekyll.liquid import IncludeRefused, LiquidOutcome, render_liquid

PACIFIC = timezone(timedelta(hours=-8))
SITE_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=PACIFIC)


class DictIncludes:
    """``_includes`` and the post's folder as dicts; a name in ``refused`` is refused."""

    def __init__(
        self,
        files: Mapping[str, str] | None = None,
        relative: Mapping[str, str] | None = None,
        refused: frozenset[str] = frozenset(),
    ) -> None:
        self.files = dict(files or {})
        self.relative = dict(relative or {})
        self.refused = refused
        self.asked: list[str] = []

    def include(self, name: str) -> str | None:
        self.asked.append(name)
        if name in self.refused:
            raise IncludeRefused("outside _includes")
        return self.files.get(name)

    def include_relative(self, name: str) -> str | None:
        self.asked.append(name)
        if name in self.refused:
            raise IncludeRefused("outside the post's folder")
        return self.relative.get(name)


def make_site(**extra: Any) -> dict[str, Any]:
    return {
        "url": "https://example.com",
        "baseurl": "/blog",
        "time": SITE_TIME,
        "title": "Example",
        "repository": "jekyll/jekyll",
        "data": {"authors": {"ann": {"name": "Ann"}, "bob": {"name": "Bob"}}},
        **extra,
    }


def make_page(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Hello",
        "date": datetime(2023, 1, 29, 18, 30, 22, tzinfo=PACIFIC),
        "tags": ["x", "y"],
        "n": 3,
        **extra,
    }


def render(
    source: str,
    *,
    includes: DictIncludes | None = None,
    site: Mapping[str, Any] | None = None,
    page: Mapping[str, Any] | None = None,
    first_line: int = 1,
) -> LiquidOutcome:
    return render_liquid(
        source,
        site=make_site() if site is None else site,
        page=make_page() if page is None else page,
        includes=includes or DictIncludes(),
        markdownify=lambda text: f"<p>{text}</p>",
        first_line=first_line,
    )


def text_of(source: str, **kwargs: Any) -> str:
    """The rendered text, failing the test on any error."""
    outcome = render(source, **kwargs)
    assert outcome.error is None, outcome.error
    return outcome.text
