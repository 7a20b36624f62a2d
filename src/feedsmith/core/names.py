"""Names the import-free no-change answer and the full pipeline share, defined once.

``feedsmith build`` with nothing changed is answered before the core, the config's loader or
YAML are imported (:mod:`feedsmith.pipeline.early`, :mod:`feedsmith.pipeline.statpass`), yet it
must look where the full build writes and reads. These names live here, in a module importing
nothing, so both sides take them from one place instead of keeping copies a test holds equal.
"""

from __future__ import annotations

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
