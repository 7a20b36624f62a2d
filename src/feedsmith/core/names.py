"""Names the import-free no-change answer and the full pipeline share, defined once.

``feedsmith build`` with nothing changed is answered before the core, the config's loader or
YAML are imported (:mod:`feedsmith.pipeline.early`, :mod:`feedsmith.pipeline.statpass`), yet it
must look where the full build writes and reads. These names live here, in a module importing
nothing, so both sides take them from one place instead of keeping copies a test holds equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

#: The manifest: what exists, with hashes, change times and what is gone (``core.layout``).
MANIFEST = "index.json"
#: Every published path under it is stored only as ``.gz`` (``core.layout.stored_gzip_only``).
ARCHIVE_PREFIX = "archive/"
#: The environment variable naming the config file when ``-c`` is not given.
CONFIG_ENV_VAR = "FEEDSMITH_CONFIG"
#: The folders' defaults, relative to the config file.
DEFAULT_POSTS_DIR = "posts"
DEFAULT_OUTPUT_DIR = "feeds"
DEFAULT_STATE_DIR = ".feedsmith"
#: A plain site's posts: Markdown files by these suffixes (``core.post_files``).
MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdown", ".mkd")


def is_archive_page(rel: str) -> bool:
    """Whether ``rel`` is an archive page: what the default storage keeps only as ``.gz``
    (``core.layout.stored_gzip_only`` adds what a record says)."""
    return rel.startswith(ARCHIVE_PREFIX)


def never_gzip_only(rel: str) -> bool:
    """``feed.archive_storage: plain``'s rule: every file is a plain file plus its ``.gz``."""
    return False


#: The rule a build stores by, per ``feed.archive_storage``: which published paths are only
#: their ``.gz``. Here, not in ``core.layout``, so the import-free no-change answer checks a
#: memo's rows by the very functions the build wrote them by.
GZIP_ONLY_RULES: dict[str, Callable[[str], bool]] = {
    "gzip": is_archive_page,
    "plain": never_gzip_only,
}
