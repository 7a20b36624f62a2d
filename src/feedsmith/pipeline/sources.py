"""Finding post files and reading their bytes.

This is the file-system edge of the scan. It decides which files are posts (by extension, never
hidden ones), keeps symlinks from reaching outside ``posts_dir`` (a post directory is often
writable by more people than the server's other files), and decodes bytes the way real Japanese
blogs need: UTF-8 with or without BOM, and the legacy Shift_JIS / EUC-JP encodings detected and
reported rather than rejected.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from errno import ELOOP
from pathlib import Path

from feedsmith.core.decoding import SourceError, display_path
from feedsmith.core.model import Problem, Severity
from feedsmith.core.post_files import MARKDOWN_EXTENSIONS, PLAIN, PostFiles

#: A plain posts folder's extensions (a Jekyll site adds HTML: :mod:`feedsmith.core.post_files`).
POST_EXTENSIONS = frozenset(MARKDOWN_EXTENSIONS)


@dataclass(frozen=True)
class SourceFile:
    """One post file found by the scan.

    ``path`` is the file to read (a followed symlink's resolved target); ``rel`` is where the
    user put it, relative to ``posts_dir`` with ``/`` separators — the post's identity on disk.
    """

    path: Path
    rel: str
    size: int
    mtime_ns: int


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def find_sources(
    posts_dir: Path, files: PostFiles = PLAIN
) -> tuple[list[SourceFile], list[Problem]]:
    """Every post file under ``posts_dir``, sorted by ``rel``, plus problems met on the way.

    Symlinks are followed only when their resolved target stays inside ``posts_dir``; a file
    reachable under several names (through an inner symlink) is listed once, under its first
    ``rel`` in sort order, so one file never becomes two posts with one id. Loops are cut by
    never re-entering a directory that is already on the current path; every folder skipped
    that way (a link to ``.``, ``..``, an ancestor, or a link cycle) gets an ``info`` Problem,
    like every other file left out, so nothing disappears without a line saying why.
    ``files`` says which folders are walked and which files are posts.
    """
    root = Path(posts_dir).resolve()
    found: list[tuple[str, Path, os.stat_result]] = []
    problems: list[Problem] = []

    def report(path: Path, reason: str, severity: Severity = "error") -> None:
        problems.append(Problem(display_path(path), None, severity, reason))

    def walk(real_dir: Path, shown_dir: Path, rel_parts: tuple[str, ...], chain: frozenset[Path]):
        try:
            with os.scandir(real_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report(shown_dir, f"cannot read directory: {exc.strerror or exc}")
            return
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            shown = shown_dir / name
            rel = (*rel_parts, name)
            rel_s = "/".join(rel)
            real = real_dir / name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    try:
                        target = real.resolve(strict=True)
                    except (OSError, RuntimeError) as exc:
                        # A dangling link is only worth a word if it looks like a post; a link
                        # loop may have been meant as a folder, so it is always named.
                        if files.wants(rel_s):
                            report(shown, f"broken symlink: {os.readlink(real)}")
                        elif isinstance(exc, RuntimeError) or getattr(exc, "errno", 0) == ELOOP:
                            report(shown, f"symlink loop, skipped: {os.readlink(real)}", "info")
                        continue
                    if not _inside(target, root):
                        if files.wants(rel_s) or (target.is_dir() and files.enters(rel_s)):
                            report(shown, f"symlink points outside posts_dir: {target}")
                        continue
                    real = target
                st = real.stat()
            except OSError as exc:
                report(shown, f"cannot read: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(st.st_mode):
                if not files.enters(rel_s):
                    continue
                key = real.resolve() if not is_link else real
                if key in chain:
                    # A link to ".", "..", or any folder it sits in: following it would loop.
                    where = "posts_dir" if key == root else f"posts_dir/{key.relative_to(root)}"
                    reason = f"symlinked folder skipped: it points to {where}, which contains it"
                    report(shown, f"{reason} (a loop)", "info")
                    continue
                walk(real, shown, rel, chain | {key})
            elif files.wants(rel_s):
                if stat.S_ISREG(st.st_mode):
                    found.append(("/".join(rel), real, st))
                else:
                    report(shown, "not a regular file")

    walk(root, Path(posts_dir), (), frozenset({root}))
    found.sort(key=lambda item: item[0])
    seen: set[Path] = set()
    sources: list[SourceFile] = []
    for rel, path, st in found:
        identity = path.resolve()
        if identity in seen:
            continue
        seen.add(identity)
        sources.append(SourceFile(path, rel, st.st_size, st.st_mtime_ns))
    return sources, problems


def read_bytes(src: SourceFile, max_bytes: int) -> bytes:
    """The file's bytes, refusing files over ``max_bytes`` before reading them into memory.

    The size is checked again while reading, since the file may have grown since the scan.
    """
    with open(src.path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise SourceError(f"file is {size} bytes, larger than max_post_bytes {max_bytes}")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(
            f"file is more than {max_bytes} bytes, larger than max_post_bytes {max_bytes}"
        )
    return data
