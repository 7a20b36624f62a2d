"""Shared fixtures: a throw-away site (posts dir + config file) in a tmp dir."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import settings

from feedsmith.config import load_config
from feedsmith.core.config import Config

#: The moto fixtures (``moto``, ``aws_env``) for every bucket test.
pytest_plugins = ["s3_fixtures"]

#: No per-example deadline anywhere: the suite runs two workers on machines shared with other
#: work, where hypothesis' default 200 ms deadline fails correct code at random (it did, for a
#: URI checker, under load). A property's size is set by max_examples, not by a clock.
settings.register_profile("feedsmith", deadline=None)
settings.load_profile("feedsmith")


@dataclass
class Site:
    """A site on disk that tests grow post by post, then load as a real :class:`Config`."""

    root: Path
    settings: dict[str, Any]

    @property
    def posts_dir(self) -> Path:
        return self.root / "posts"

    @property
    def output_dir(self) -> Path:
        return self.root / "feeds"

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    def write_post(self, rel: str, text: str | bytes, *, dedent: bool = True) -> Path:
        path = self.posts_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n") if dedent else text, "utf-8")
        return path

    def config(self, **overrides: Any) -> Config:
        settings = {**self.settings, **overrides}
        self.config_path.write_text(yaml.safe_dump(settings, allow_unicode=True), "utf-8")
        return load_config(self.config_path)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = tmp_path / "site"
    (root / "posts").mkdir(parents=True)
    settings: dict[str, Any] = {
        "site": {
            "title": "Test Blog",
            "url": "https://blog.example.com",
            "description": "A blog for tests",
            "language": "en",
            "author": "Site Author",
        },
        "posts_dir": "posts",
        "output_dir": "feeds",
        "state_dir": ".feedsmith",
        "timezone": "UTC",
    }
    return Site(root, settings)


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[[str], Site]:
    """For tests that need more than one site."""

    def factory(name: str) -> Site:
        root = tmp_path / name
        (root / "posts").mkdir(parents=True)
        return Site(
            root,
            {
                "site": {"title": name, "url": "https://blog.example.com"},
                "posts_dir": "posts",
                "output_dir": "feeds",
                "timezone": "UTC",
            },
        )

    return factory
