"""Which files under ``posts_dir`` are posts: one rule for every lister (scan, watcher, trigger).

Four places walk the posts folder (the full scan with its symlink policy, the quick stat pass,
inotify, the serve trigger's fallback); if each decided on its own, a file one of them saw and
another ignored would be a post on some builds only. So they all ask a :class:`PostFiles`.

Plain folders: every Markdown file not hidden. A Jekyll site (``jekyll:``) is read as Jekyll's
reader walks it: ``_posts`` folders at any depth under folders Jekyll itself reads (not ``_x``,
``.x``, ``#x``, ``x~``, not ``exclude:``d, ``include:`` overriding), everything inside a
``_posts`` folder, Markdown and HTML; ``_drafts`` never (they are not published).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from feedsmith.core.config import Config
from feedsmith.core.names import MARKDOWN_EXTENSIONS  # shared with .statpass: core.names

#: Jekyll converts these in ``_posts`` (kramdown's list, and HTML passed through).
JEKYLL_EXTENSIONS = (*MARKDOWN_EXTENSIONS, ".mkdn", ".html", ".htm")
POSTS_FOLDER = "_posts"


@dataclass(frozen=True)
class PostFiles:
    """The rule, as plain data (it goes to worker processes and into fingerprints)."""

    extensions: tuple[str, ...] = MARKDOWN_EXTENSIONS
    jekyll: bool = False
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    def name_ok(self, name: str) -> bool:
        """A file name that can be a post (cheap: the watcher asks it for every event)."""
        return not name.startswith(".") and name.lower().endswith(self.extensions)

    def enters(self, rel_dir: str) -> bool:
        """Whether a folder (``/``-separated, relative to ``posts_dir``) is walked at all."""
        name = rel_dir.rstrip("/").rpartition("/")[2]
        if name.startswith("."):
            return False
        if not self.jekyll:
            return True
        if self._excluded(rel_dir.rstrip("/")):
            return False
        if self._in_posts(rel_dir + "/") or name == POSTS_FOLDER:
            return not _special(name) or name == POSTS_FOLDER
        return not _special(name) or name in self.include

    def wants(self, rel: str) -> bool:
        """A file (relative path) that is a post candidate: the listers' final word."""
        name = rel.rpartition("/")[2]
        if not self.name_ok(name):
            return False
        if not self.jekyll:
            return True
        return self._in_posts(rel) and not _special(name) and not self._excluded(rel)

    def _in_posts(self, rel: str) -> bool:
        return rel.startswith(POSTS_FOLDER + "/") or f"/{POSTS_FOLDER}/" in rel

    def _excluded(self, rel: str) -> bool:
        """Jekyll's EntryFilter#excluded?: a pattern names the path or a folder above it (glob
        patterns as File.fnmatch), unless ``include:`` names it."""
        if rel in self.include or rel.rpartition("/")[2] in self.include:
            return False
        for pattern in self.exclude:
            pat = pattern.strip("/")
            if not pat:
                continue
            if rel == pat or rel.startswith(pat + "/") or fnmatch.fnmatchcase(rel, pat):
                return True
        return False


def _special(name: str) -> bool:
    """Jekyll's EntryFilter#special? and #backup?: names it never reads."""
    return name.startswith(("_", ".", "#")) or name.endswith("~")


PLAIN = PostFiles()


def post_files(config: Config) -> PostFiles:
    """The rule a config implies."""
    site = config.jekyll
    if site is None:
        return PLAIN
    return PostFiles(
        extensions=JEKYLL_EXTENSIONS,
        jekyll=True,
        exclude=site.exclude,  # Jekyll's own defaults included (config/jekyll.py)
        include=site.include,
    )
