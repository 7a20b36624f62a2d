"""``state_dir`` is private: only this user can write into it, and only this user can read it.

What lies there decides what the next build publishes (the parse cache, kept posts, the build
state) and holds secrets (the WebSub subscribers' ``hub.secret`` in ``websub.sqlite``). A folder
others can write into would let them plant any of these files, or a symlink where feedsmith is
about to write; a folder others can read hands them the secrets. So feedsmith creates it 0700,
writes every file in it 0600 through a temp file created exclusively under a random name, and
refuses to start on a folder someone else owns or can write (:class:`StateDirError`, exit 2).

A folder or files left readable by an older feedsmith (0755 / 0644) are tightened when the
folder is checked at start: nothing else changes, so nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from feedsmith.system.diskerrors import doing

log = logging.getLogger("feedsmith.statedir")

DIR_MODE = 0o700
FILE_MODE = 0o600


class StateDirError(Exception):
    """``state_dir`` is not private to this user: one line naming the path and the fix."""


def ensure_state_dir(path: Path, *, create: bool = True) -> None:
    """Create ``path`` 0700 (with ``create``), refuse one others own or can write, and tighten
    what an older feedsmith left readable by others."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not create:
            return
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        st = os.stat(path)
    check_private(path, st)
    if st.st_mode & 0o077:
        os.chmod(path, DIR_MODE)
    _tighten_contents(path)


def check_private(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise StateDirError(f"state_dir {path} is not a folder; point state_dir at a folder")
    uid = os.geteuid()
    if st.st_uid != uid:
        raise StateDirError(
            f"state_dir {path} is owned by uid {st.st_uid}, not by this user (uid {uid}): "
            f"refusing to use it; fix: use a folder of your own (or chown {uid} {path}; "
            f"chmod 700 {path})"
        )
    if st.st_mode & 0o022:
        raise StateDirError(
            f"state_dir {path} can be written by other users (mode {st.st_mode & 0o777:o}): "
            f"refusing to use it; fix: chmod 700 {path}"
        )


def _tighten_contents(path: Path) -> None:
    """Files (and folders, e.g. ``metrics``) directly in ``state_dir`` that others can read:
    made private. Symlinks are left alone (chmod would follow them)."""
    with os.scandir(path) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if not st.st_mode & 0o077 or st.st_uid != os.geteuid():
                    continue
                if stat.S_ISREG(st.st_mode):
                    os.chmod(entry.path, FILE_MODE, follow_symlinks=False)
                elif stat.S_ISDIR(st.st_mode):
                    os.chmod(entry.path, DIR_MODE, follow_symlinks=False)


def write_private(
    path: Path, write: Callable[[BinaryIO], object], *, fsync: bool = True, mode: int = FILE_MODE
) -> None:
    """Replace ``path`` with what ``write`` writes, atomically, as a 0600 file (``mode`` 0644
    only for what is public anyway: the output folder's manifest).

    The temp file is made by ``mkstemp``: a random name, created with ``O_EXCL`` (a symlink
    planted at that name fails the create instead of redirecting the write) and mode 0600,
    which ``os.replace`` carries over to ``path``.
    """
    with doing("write", path):  # a failed write() or fsync() names no path by itself
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".feedsmith-tmp", dir=path.parent
        )
        try:
            if mode != FILE_MODE:
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                if fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def open_private(path: Path, flags: int = os.O_RDWR) -> int:
    """A file descriptor on ``path`` (created 0600 if missing), never through a symlink; an
    existing file readable by others is made 0600."""
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_legacy(path: Path, consequence: str) -> None:
    """A pickle from an older feedsmith: never loaded (loading a pickle runs code), removed,
    said once in the log."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning(
            "ignoring %s from an older feedsmith (never loaded; %s): %s", path, exc, consequence
        )
        return
    log.warning(
        "ignored and removed %s from an older feedsmith (never loaded): %s", path, consequence
    )


def write_if_changed(path: Path, data: bytes) -> bool:
    """:func:`write_atomic` (private) unless ``path`` already holds exactly ``data``: the memos
    a build leaves are mostly what the last build left, and an unchanged one costs no write and
    no fsync. ``True`` when written."""
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
    write_atomic(path, data)
    return True


def write_atomic(path: Path, data: bytes, *, public: bool = False) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new bytes, never a mix; the
    file is private (0600, see above) unless ``public`` (0644: output)."""
    write_private(path, lambda fh: fh.write(data), mode=0o644 if public else 0o600)
