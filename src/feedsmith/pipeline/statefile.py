"""The build state on disk: read it back (missing or corrupt → a fresh start), write it only
when its bytes change."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from feedsmith.core.state import STATE_VERSION, BuildState, dumps_state
from feedsmith.system.statedir import write_atomic

log = logging.getLogger("feedsmith.state")


def load_state(path: Path) -> BuildState:
    """The previous build's state; missing or unreadable → empty (logged), never an error.

    Losing the state costs accuracy of ``updated`` for edited posts and one verification pass
    over the output, never a failed build.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        log.info("no build state at %s: starting fresh", path)
        return BuildState()
    except OSError as exc:
        log.warning("cannot read build state %s (%s): starting fresh", path, exc)
        return BuildState()
    try:
        return BuildState.from_json(_loads(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("ignoring corrupt build state %s (%s): starting fresh", path, exc)
        return BuildState()


def load_files(path: Path) -> dict[str, dict[str, Any]] | None:
    """Only the published files' records of the state (what the no-change fast path checks
    the disk against), without the validation and copies of the rest; ``None`` when the
    file is missing or not a state this version reads (the caller then asks
    :func:`load_state`)."""
    try:
        data = _loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return None
    files = data.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("bytes"), int) for v in files.values()
    ):
        return None
    return files


def _loads(raw: bytes) -> Any:
    """``json.loads`` of UTF-8 bytes; orjson first (~3x faster on a 10,000-post state, which a
    new process reads on every build), json for what orjson refuses and json accepts (an
    integer beyond 64 bits): both raise ``ValueError`` for what is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))


def save_state(path: Path, state: BuildState, writer: StateWriter | None = None) -> bool:
    """Atomically replace ``path`` (temp file in the same folder, fsync, ``os.replace``).

    Returns ``False`` without touching the file when it already holds exactly these bytes, so a
    no-change rebuild writes nothing at all. ``writer`` (a running builder's) serialises only
    what changed since its last save and remembers what it wrote.
    """
    if writer is None:
        writer = StateWriter()
    return writer.save(path, state)


class StateWriter:
    """Saves of one builder. It remembers the bytes and the stat key of what it last wrote,
    so an unchanged state is recognised without reading the 5 MB file back (while the file
    is the one written: same size, mtime and inode).

    The bytes are serialised whole each time: splicing only the changed records into the last
    save's bytes was measured (10,000 posts, ~25,000 file records) at 21–22 ms a save against
    16 ms for orjson's whole dump, the two 5 MB joins costing more than the serialising."""

    def __init__(self) -> None:
        self._written: tuple[bytes, tuple[int, int, int]] | None = None

    def save(self, path: Path, state: BuildState) -> bool:
        data = dumps_state(state)
        written, self._written = self._written, None
        if written is not None and written[0] == data and _stat(path) == written[1]:
            self._written = written
            return False
        with contextlib.suppress(OSError):
            if written is None and path.read_bytes() == data:
                self._remember(path, data)
                return False
        write_atomic(path, data)
        self._remember(path, data)
        return True

    def _remember(self, path: Path, data: bytes) -> None:
        key = _stat(path)
        if key is not None and key[0] == len(data):
            self._written = (data, key)


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)
