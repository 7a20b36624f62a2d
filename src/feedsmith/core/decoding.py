"""Post files' bytes → text: byte order marks, line endings, legacy Japanese encodings.

Pure (bytes in, text out), so parsing can run in a worker or from a cache. Real Japanese blogs
need more than UTF-8: UTF-8 with or without BOM, and Shift_JIS / EUC-JP detected and reported
rather than rejected. ``display_path`` lives here too: every report line names a file the way
the user would type it.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path


class SourceError(ValueError):
    """A file that cannot be a post; ``reason`` is the one line shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
