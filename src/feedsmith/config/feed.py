"""The ``feed:`` section: what every feed holds, and how its history (the archive) is kept.

Apart from the package's ``__init__`` because it is the longest section and the one features
keep growing (archives, their content and storage, pages, pictures).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from feedsmith.config.readers import no_unknown_keys, read_choice, read_int, type_name
from feedsmith.core.config import FORMATS, ConfigError, FeedConfig


def read_feed(feed_raw: dict[str, Any], path: Path) -> FeedConfig:
    """The validated ``feed:`` section of the config file at ``path``."""
    no_unknown_keys(feed_raw, {f.name for f in fields(FeedConfig)}, "feed.", path)
    content = read_choice(feed_raw, "content", "feed.", path, ("full", "summary"))
    formats_raw = feed_raw.get("formats", list(FORMATS))
    if isinstance(formats_raw, str):
        formats_raw = [formats_raw]
    if not isinstance(formats_raw, list) or not formats_raw:
        raise ConfigError(path, "feed.formats", "must be a non-empty list of atom, rss, json")
    formats: list[str] = []
    for fmt in formats_raw:
        if fmt not in FORMATS:
            raise ConfigError(path, "feed.formats", f"unknown format {fmt!r} (atom, rss, json)")
        if fmt not in formats:
            formats.append(fmt)
    max_entries = read_int(feed_raw, "max_entries", "feed.", path, 20, minimum=1)
    archive = feed_raw.get("archive", True)
    if not isinstance(archive, bool):
        raise ConfigError(path, "feed.archive", f"must be true or false, not {type_name(archive)}")
    page_size = read_int(feed_raw, "archive_page_size", "feed.", path, 0, minimum=0)
    if page_size > max_entries:
        raise ConfigError(
            path,
            "feed.archive_page_size",
            f"must be at most feed.max_entries ({max_entries}): the posts of the newest, not yet"
            " full archive page are only in the subscription document",
        )
    archive_content = read_choice(feed_raw, "archive_content", "feed.", path, ("summary", "full"))
    archive_storage = read_choice(feed_raw, "archive_storage", "feed.", path, ("gzip", "plain"))
    pages = feed_raw.get("pages", True)
    if not isinstance(pages, bool):
        raise ConfigError(path, "feed.pages", f"must be true or false, not {type_name(pages)}")
    image_in_content = feed_raw.get("image_in_content", False)
    if not isinstance(image_in_content, bool):
        why = f"must be true or false, not {type_name(image_in_content)}"
        raise ConfigError(path, "feed.image_in_content", why)
    return FeedConfig(
        max_entries=max_entries,
        content=content,  # type: ignore[arg-type]
        formats=tuple(f for f in FORMATS if f in formats),
        archive=archive,
        archive_page_size=page_size or max_entries,
        archive_content=archive_content,  # type: ignore[arg-type]
        archive_storage=archive_storage,  # type: ignore[arg-type]
        pages=pages,
        image_in_content=image_in_content,
    )
