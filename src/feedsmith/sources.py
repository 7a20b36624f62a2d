"""Finding post files and turning their bytes into text.

This is the file-system edge of the scan. It decides which files are posts (by extension, never
hidden ones), keeps symlinks from reaching outside ``posts_dir`` (a post directory is often
writable by more people than the server's other files), and decodes bytes the way real Japanese
blogs need: UTF-8 with or without BOM, and the legacy Shift_JIS / EUC-JP encodings detected and
reported rather than rejected.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from errno import ELOOP
from pathlib import Path

from feedsmith.model import Problem, Severity

POST_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})


class SourceError(ValueError):
    """A file that cannot be a post; ``reason`` is the one line shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def display_path(path: Path, base: Path | None = None) -> str:
    """``path`` as the user would type it: relative to the working directory when under it.

    Problems printed by ``feedsmith check`` are then clickable in terminals and editors.
    """
    path = Path(os.path.abspath(path))
    base = Path(os.path.abspath(base if base is not None else Path.cwd()))
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _is_post_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in POST_EXTENSIONS


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def find_sources(posts_dir: Path) -> tuple[list[SourceFile], list[Problem]]:
    """Every post file under ``posts_dir``, sorted by ``rel``, plus problems met on the way.

    Symlinks are followed only when their resolved target stays inside ``posts_dir``; a file
    reachable under several names (through an inner symlink) is listed once, under its first
    ``rel`` in sort order, so one file never becomes two posts with one id. Loops are cut by
    never re-entering a directory that is already on the current path; every folder skipped
    that way (a link to ``.``, ``..``, an ancestor, or a link cycle) gets an ``info`` Problem,
    like every other file left out, so nothing disappears without a line saying why.
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
            real = real_dir / name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    try:
                        target = real.resolve(strict=True)
                    except (OSError, RuntimeError) as exc:
                        # A dangling link is only worth a word if it looks like a post; a link
                        # loop may have been meant as a folder, so it is always named.
                        if _is_post_name(name):
                            report(shown, f"broken symlink: {os.readlink(real)}")
                        elif isinstance(exc, RuntimeError) or getattr(exc, "errno", 0) == ELOOP:
                            report(shown, f"symlink loop, skipped: {os.readlink(real)}", "info")
                        continue
                    if not _inside(target, root):
                        if _is_post_name(name) or target.is_dir():
                            report(shown, f"symlink points outside posts_dir: {target}")
                        continue
                    real = target
                st = real.stat()
            except OSError as exc:
                report(shown, f"cannot read: {exc.strerror or exc}")
                continue
            if stat.S_ISDIR(st.st_mode):
                key = real.resolve() if not is_link else real
                if key in chain:
                    # A link to ".", "..", or any folder it sits in: following it would loop.
                    where = "posts_dir" if key == root else f"posts_dir/{key.relative_to(root)}"
                    reason = f"symlinked folder skipped: it points to {where}, which contains it"
                    report(shown, f"{reason} (a loop)", "info")
                    continue
                walk(real, shown, rel, chain | {key})
            elif _is_post_name(name):
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


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", None),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)

# Legacy Japanese encodings, tried when a file is not UTF-8. cp932 is Windows' superset of
# Shift_JIS (NEC/IBM extensions, ①, ㈱ …), which is what "Shift_JIS" files really contain.
_LEGACY = (("cp932", "Shift_JIS (cp932)"), ("euc_jp", "EUC-JP"))

_NEWLINES = re.compile(r"\r\n?")


def _japanese_score(text: str) -> float:
    """How much the non-ASCII part of ``text`` looks like Japanese, from 0 to 1.

    Both legacy decoders accept a lot of each other's bytes: EUC-JP kana decode under cp932 as
    half-width katakana, and stray Latin-1 bytes decode as rare kanji. Real Japanese prose is
    mostly hiragana, katakana, common kanji and full-width punctuation, so the decoding that
    yields the most of those wins, and one that yields mostly oddities is not trusted at all.
    """
    total = 0.0
    good = 0.0
    for ch in text:
        o = ord(ch)
        if o < 0x80:
            continue
        total += 1
        if 0x3040 <= o <= 0x30FF or 0x3000 <= o <= 0x303F:  # kana, CJK punctuation
            good += 1
        elif 0x4E00 <= o <= 0x9FFF or 0xFF01 <= o <= 0xFF5E:  # kanji, full-width forms
            good += 0.8
        elif 0xFF61 <= o <= 0xFF9F:  # half-width katakana: legal, but rare in prose
            good += 0.2
        elif 0x2000 <= o <= 0x27BF or 0x3200 <= o <= 0x33FF or 0xA0 <= o <= 0xFF:
            good += 0.5  # symbols, circled numbers, ㈱-style squares, Latin-1 signs
    return good / total if total else 0.0


def _check_text(text: str) -> str:
    if "\x00" in text:
        raise SourceError("binary file (contains NUL bytes)")
    return _NEWLINES.sub("\n", text)


def decode(data: bytes) -> tuple[str, str | None]:
    """Text with the BOM removed and line endings normalized to ``\\n``, plus a warning.

    The warning is ``None`` for UTF-8; otherwise it says which encoding was detected, so the
    author learns their file is not UTF-8 while the post is still published.
    """
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"not valid {label or 'UTF-8'} despite its byte order mark "
                    f"(invalid bytes at offset {exc.start + len(bom)})"
                ) from None
            warning = f"not UTF-8; decoded as {label} (byte order mark)" if label else None
            return _check_text(text), warning
    if b"\x00" in data:
        raise SourceError("binary file (contains NUL bytes)")
    try:
        return _check_text(data.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        utf8_error = exc
    best: tuple[float, str, str] | None = None
    for codec, label in _LEGACY:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = _japanese_score(text)
        if best is None or score > best[0]:
            best = (score, text, label)
    if best is not None and best[0] >= 0.6:
        return _check_text(best[1]), f"not UTF-8; decoded as {best[2]}"
    bad = data[utf8_error.start : utf8_error.start + 1].hex()
    raise SourceError(
        f"not valid UTF-8 (byte 0x{bad} at offset {utf8_error.start}) "
        "and not recognisable as Shift_JIS or EUC-JP"
    )
