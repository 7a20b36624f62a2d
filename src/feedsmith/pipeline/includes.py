"""The file-system side of Liquid includes: only ``_includes/`` and the post's own folder.

Implements :class:`feedsmith.core.jekyll.liquid.IncludeSource`. A post is written by whoever
can commit to the blog, and the site may be built on a machine holding secrets, so an include
name is treated as hostile: it is checked as a name first (no absolute path, ``..``, NUL,
backslash, ``%``-encoding or control character; nothing is opened for such a name), then
resolved with symlinks followed, and the real path must still lie inside its folder and inside
the site (a symlink in ``_includes`` pointing at ``/etc`` is refused, one to a sibling file in
``_includes`` is fine, as in Jekyll's safe mode). The file is opened non-blocking (a FIFO must
not hang the build), must be a regular file, and is read up to ``max_bytes``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from feedsmith.core.config import Config

MAX_INCLUDE_BYTES = 1024 * 1024


def _refused(reason: str) -> Exception:
    """The engine's ``IncludeRefused`` for ``reason``. Imported here, not at the top: importing
    the Liquid engine is start-up cost (~0.1-0.2 s) that every build imports this module for,
    and only a Jekyll site's Liquid (which has imported the engine already) ever reads includes."""
    from feedsmith.core.jekyll.liquid_state import IncludeRefused

    return IncludeRefused(reason)


_FORBIDDEN_CHARS = frozenset('\\%:*?"<>|')


def _checked_name(name: str, folder: str) -> str:
    """``name`` if it can only mean a file under its folder, else IncludeRefused."""
    outside = _refused(f"outside {folder}")
    if not name or name.startswith(("/", "~")) or len(name) > 1024:
        raise outside
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch in _FORBIDDEN_CHARS for ch in name):
        raise outside
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise outside
    return name


class FileIncludes:
    """``include`` from ``includes_dir``, ``include_relative`` from ``post_dir``, both inside
    ``site_root``; ``relative_reads`` lists the names ``include_relative`` was asked for."""

    def __init__(
        self,
        includes_dir: Path,
        post_dir: Path,
        site_root: Path,
        max_bytes: int = MAX_INCLUDE_BYTES,
    ) -> None:
        self.includes_dir = includes_dir
        self.post_dir = post_dir
        self.site_root = site_root
        self.max_bytes = max_bytes
        self.relative_reads: list[str] = []

    def include(self, name: str) -> str | None:
        """``_includes/<name>``'s text; ``None``: no such file; raises IncludeRefused."""
        return self._read(self.includes_dir, name, "_includes")

    def include_relative(self, name: str) -> str | None:
        """``<post's folder>/<name>``'s text; ``None``: no such file; raises IncludeRefused."""
        if name not in self.relative_reads:
            self.relative_reads.append(name)
        return self._read(self.post_dir, name, "the post's folder")

    def _read(self, folder: Path, name: str, label: str) -> str | None:
        _checked_name(name, label)
        try:
            root = self.site_root.resolve(strict=True)
            base = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            return None  # no _includes folder: every include is missing
        if not base.is_relative_to(root):
            raise _refused(f"outside {label}")
        try:
            real = (base / name).resolve(strict=True)
        except FileNotFoundError:
            return None
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
            raise _refused(f"unreadable ({getattr(exc, 'strerror', None) or exc})") from exc
        if not real.is_relative_to(base) or not real.is_relative_to(root):
            raise _refused(f"outside {label}")
        return self._read_file(real)

    def _read_file(self, path: Path) -> str | None:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _refused(f"unreadable ({exc.strerror or exc})") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return None  # a folder, a FIFO or a device is not an include file
            if info.st_size > self.max_bytes:
                raise _refused(f"too large ({info.st_size} bytes, at most {self.max_bytes})")
            chunks: list[bytes] = []
            left = self.max_bytes + 1
            while left > 0 and (chunk := os.read(fd, min(left, 1 << 16))):
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
        finally:
            os.close(fd)
        if len(data) > self.max_bytes:
            raise _refused(f"too large (over {self.max_bytes} bytes)")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _refused("not UTF-8 text") from exc


def includes_for(config: Config, rel: str) -> FileIncludes | None:
    """The reader for post ``rel`` of a Jekyll site (``None`` for a plain posts folder):
    ``_includes/`` of the site, and the post's own folder for ``include_relative``."""
    site = config.jekyll
    if site is None:
        return None
    folder = config.posts_dir / rel.rpartition("/")[0] if "/" in rel else config.posts_dir
    return FileIncludes(site.includes_dir, folder, site.root)
