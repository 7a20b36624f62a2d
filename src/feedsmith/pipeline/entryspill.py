"""Packed entries parked in an unlinked temp file while a one-shot cold build renders.

A cold pool build serialises every entry its feeds need before the first feed is rendered
(see :meth:`~feedsmith.pipeline.scheduler.LazyFiles.start`), and every post sits on archive
pages spread over the whole job order, so all of them were held at once: ~4.5 KB a post of the
largest process's peak (~450 MB at 100,000 posts). ``feedsmith build`` builds once and has no
use for them afterwards, so it keeps them on disk instead: the file's bytes live in the page
cache, which the kernel can write out and drop, not in the process. What stays in memory is
an index (key -> layout, offset, length), under 100 bytes an entry.

The service keeps its entries in memory (:class:`~feedsmith.core.render.entries.PackedEntryCache`)
for its next, incremental builds, so it never uses this.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO

from feedsmith.core.render.entries import Packed, PackedEntryCache

#: Bytes written to the temp file at once (fewer, larger writes).
_FLUSH_AT = 1 << 20


class SpilledEntries:
    """Packed entries by key, their bytes in a temp file; entries already in ``held`` (the
    builder's own cache) are served from there.

    The subset of :class:`PackedEntryCache` that :class:`~feedsmith.pipeline.scheduler.LazyFiles`
    uses (``in``, ``len``, ``put_packed``, ``get_packed``, ``discard``). Unbounded: it holds
    exactly the entries the build's feeds need, each until its last feed is submitted."""

    def __init__(self, folder: Path | str, held: PackedEntryCache) -> None:
        os.makedirs(folder, exist_ok=True)
        # Unlinked at once (O_TMPFILE on Linux): nothing is left behind, however the build ends.
        self._file: IO[bytes] | None = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        self._fd = self._file.fileno()
        self._index: dict[str, tuple[tuple[tuple[str, bool], ...], int, int]] = {}
        self._buffer = bytearray()
        self._written = 0  # bytes in the file; the buffer follows them
        self.held = held
        self.max_items = 0  # no bound: LazyFiles may raise it, which changes nothing
        #: Entries and bytes ever spilled (tests and ``-v`` figures).
        self.spilled = 0
        self.spilled_bytes = 0

    def put_packed(self, key: str, packed: Packed) -> None:
        layout, blob = packed
        self._index[key] = (layout, self._written + len(self._buffer), len(blob))
        self._buffer += blob
        self.spilled += 1
        self.spilled_bytes += len(blob)
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            view = memoryview(self._buffer)
            while view:
                view = view[os.write(self._fd, view) :]
            self._written += len(self._buffer)
            self._buffer = bytearray()

    def get_packed(self, key: str) -> Packed | None:
        where = self._index.get(key)
        if where is None:
            return self.held.get_packed(key)
        layout, offset, length = where
        if offset + length > self._written:
            self._flush()
        blob = os.pread(self._fd, length, offset)
        if len(blob) != length:  # pread may return less; a regular file rarely does
            blob += _read_rest(self._fd, length - len(blob), offset + len(blob))
        return layout, blob

    def discard(self, key: str) -> None:
        self._index.pop(key, None)
        self.held.discard(key)

    def __contains__(self, key: object) -> bool:
        return key in self._index or key in self.held

    def __len__(self) -> int:
        return len(self._index) + len(self.held)

    def in_memory(self) -> int:
        """Bytes of entries held in memory rather than in the file (the unflushed buffer)."""
        return len(self._buffer)

    def close(self) -> None:
        """Drop the file and the index (the build submitted its last feed)."""
        self._index.clear()
        self._buffer = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None


def _read_rest(fd: int, length: int, offset: int) -> bytes:
    parts = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            raise OSError(f"entry spill file ended {length} bytes early")
        parts.append(part)
        length -= len(part)
        offset += len(part)
    return b"".join(parts)
