"""I/O errors as one line an operator can act on: what was being done, to which path, and,
when the disk is full, how much room that filesystem has left.

A write to an open file that fails (``ENOSPC`` from ``write``/``fsync``/``close``) raises an
``OSError`` that names no path, and the traceback around it says nothing about which
filesystem is full. The writers wrap their I/O in :func:`doing`, which turns such an error
into a :class:`DiskError` carrying the operation and the path; :func:`describe` makes the line
``feedsmith build`` prints and ``serve`` logs (the traceback is for ``-v`` only).
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import os
from collections.abc import Iterator

#: The disk (or the user's quota on it) is full: the line then says how full.
FULL = frozenset({errno_mod.ENOSPC, errno_mod.EDQUOT})


class DiskError(OSError):
    """An ``OSError`` that says which operation failed on which path. Still an ``OSError``,
    so every ``except OSError`` that handled the original keeps handling it; picklable, so
    one raised in a pool worker reaches the builder intact."""

    def __init__(self, operation: str, path: str, code: int | None, reason: str) -> None:
        super().__init__(code, reason, path)
        self.operation = operation

    def __reduce__(self) -> tuple[object, ...]:
        return (DiskError, (self.operation, self.filename, self.errno, self.strerror))

    def __str__(self) -> str:
        return describe(self)


@contextlib.contextmanager
def doing(operation: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """Re-raise an ``OSError`` from the block as a :class:`DiskError` naming ``operation``
    and the path (the error's own, if it names one; else ``path``)."""
    try:
        yield
    except DiskError:
        raise
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DiskError(operation, os.fsdecode(where), exc.errno, reason) from exc


def describe(exc: BaseException) -> str:
    """One line: ``cannot write /srv/feeds/x.xml: No space left on device (ENOSPC); /srv has
    12.0 KiB free of 1.0 MiB``. Any other exception: its type and message."""
    if not isinstance(exc, OSError) or exc.filename is None:
        return f"{type(exc).__name__}: {exc}"
    operation = getattr(exc, "operation", "access")
    reason = exc.strerror or OSError.__str__(exc) or type(exc).__name__
    code = errno_mod.errorcode.get(exc.errno) if exc.errno is not None else None
    if code:
        reason = f"{reason} ({code})"
    line = f"cannot {operation} {os.fsdecode(exc.filename)}: {reason}"
    if exc.errno in FULL:
        room = free_space(os.fsdecode(exc.filename))
        if room:
            line += f"; {room}"
    return line


def free_space(path: str) -> str | None:
    """``/mount has N free of M`` for the filesystem ``path`` is (or would be) on."""
    probe = _existing(os.path.abspath(path))
    try:
        st = os.statvfs(probe)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    total = st.f_blocks * st.f_frsize
    return f"{_mount_point(probe)} has {_size(free)} free of {_size(total)}"


def _existing(path: str) -> str:
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _mount_point(path: str) -> str:
    """The top folder of ``path``'s filesystem (what ``df`` shows), found by its device."""
    try:
        dev = os.stat(path).st_dev
        while True:
            parent = os.path.dirname(path)
            if parent == path or os.stat(parent).st_dev != dev:
                return path
            path = parent
    except OSError:
        return path


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
