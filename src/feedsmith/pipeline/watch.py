"""Which files *may* have changed since the last look: the running service's change oracle.

A rebuild in the service would otherwise begin with a stat of every post (~60–90 ms at 10,000
posts) and of every published file it keeps (~5,000 stats), only to find that one file
changed. Linux inotify tells instead; this module reads it through ``ctypes`` (no dependency,
~200 lines are all it takes).

The contract is deliberately one-sided. An event only makes a path a *suspect*, which the
caller then stats (and re-reads) as before; a path with no event since the tree was armed is
unchanged. Whenever the kernel's record could be incomplete, the answer is "unknown" and the
caller falls back to its full scan, then re-arms: the queue overflowed, a folder appeared,
vanished or moved (its files were never watched, or no longer are), the watched root itself
went away, or the tree is on a file system where inotify misses changes made elsewhere
(NFS, SMB, FUSE, 9p...). Only known-local file systems are watched at all.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import struct
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from feedsmith.core.text import escape_controls

log = logging.getLogger("feedsmith.watch")

# <sys/inotify.h>
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

#: Everything that can change a file's bytes, size or mtime, or a folder's listing. IN_ATTRIB
#: covers ``touch``/``utime`` (a key is size + mtime) and permission changes.
_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
)
#: The watched folder itself is gone, moved or unmounted: its events stop.
_LOST = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED
_HEADER = struct.Struct("iIII")

#: File systems whose changes all pass through this kernel, so inotify sees every one of them.
LOCAL_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "zfs", "f2fs", "jfs", "reiserfs", "overlay"}
)


def filesystem_type(path: str) -> str | None:
    """The type of the file system holding ``path`` (from ``/proc/self/mountinfo``)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        fields = line.split(" ")
        try:
            mount = _unescape(fields[4])
            fstype = fields[fields.index("-") + 1]
        except (IndexError, ValueError):
            continue
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):  # the last of equal mount points is on top
            best, best_type = mount, fstype
    return best_type


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash as \ooo
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class _Libc:
    """The inotify calls this module makes, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.init1 = lib.inotify_init1
        self.init1.argtypes = [ctypes.c_int]
        self.init1.restype = ctypes.c_int
        self.add_watch = lib.inotify_add_watch
        self.add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.add_watch.restype = ctypes.c_int


@functools.cache
def _libc() -> _Libc | None:
    """The C library's inotify calls, loaded once; ``None`` off Linux or without them."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _Libc(ctypes.CDLL(None, use_errno=True))
    except (OSError, AttributeError):
        return None


@dataclass
class _Tree:
    root: str
    wants: Callable[[str], bool]  # paths (relative to root) worth reporting
    enters: Callable[[str], bool] | None = None  # folders (relative) watched; None: all
    suspects: set[str] = field(default_factory=set)
    known: bool = False  # False until armed, and after anything the events cannot describe


class Watcher:
    """inotify on a few directory trees, through one descriptor.

    Per tree: :meth:`arm` (watch the root and every non-hidden folder under it) *before* the
    caller's full scan, then :meth:`take` before each later scan: the set of paths (relative to
    the root, ``/``-separated) that may have changed since, or ``None`` for "unknown: scan
    everything and arm again". Hidden names (starting with ``.``) are never reported or
    watched, as the scans skip them too.
    """

    def __init__(self, fd: int, libc: _Libc) -> None:
        self._fd = fd
        self._libc = libc
        self._trees: dict[str, _Tree] = {}
        #: watch descriptor -> (tree, folder prefix) pairs: one folder can be in two trees (an
        #: output folder inside the posts folder), and the kernel gives it one descriptor.
        self._wds: dict[int, list[tuple[_Tree, str]]] = {}
        self._finalizer = weakref.finalize(self, os.close, fd)

    @classmethod
    def open(cls) -> Watcher | None:
        """A watcher, or ``None`` where inotify is unavailable (not Linux, instance limit)."""
        libc = _libc()
        if libc is None:
            return None
        fd = libc.init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            log.info("inotify unavailable (%s): rebuilds scan every file", os.strerror(err))
            return None
        return cls(fd, libc)

    def close(self) -> None:
        self._finalizer()

    def fileno(self) -> int:
        """The inotify descriptor, readable when events wait (for ``select``)."""
        return self._fd

    def arm(
        self,
        name: str,
        root: str,
        wants: Callable[[str], bool],
        enters: Callable[[str], bool] | None = None,
    ) -> bool:
        """(Re)start watching tree ``name`` at ``root``; ``False`` when it cannot be watched
        reliably (then :meth:`take` keeps answering ``None``). ``wants`` and ``enters`` get
        paths relative to ``root``: a Jekyll site's ``_site`` or ``node_modules`` is neither
        watched nor a reason to rescan."""
        self._drain()  # events of the old arming must not leak into the new one
        # The real path: a watch on a symlink to a folder would not see the folder's files.
        tree = _Tree(os.path.realpath(root), wants, enters)
        old = self._trees.get(name)
        self._trees[name] = tree
        if old is not None:
            for wd in list(self._wds):
                self._wds[wd] = [pair for pair in self._wds[wd] if pair[0] is not old]
                if not self._wds[wd]:
                    del self._wds[wd]
        fstype = filesystem_type(tree.root)
        if fstype not in LOCAL_FILESYSTEMS:
            log.info(
                "not watching %s (file system %s): rebuilds scan it",
                escape_controls(str(tree.root)),
                fstype,
            )
            return False
        stack = [(tree.root, "")]
        while stack:
            folder, prefix = stack.pop()
            wd = self._libc.add_watch(self._fd, os.fsencode(folder), _MASK)
            if wd < 0:
                err = ctypes.get_errno()
                if err == errno.ENOENT and prefix:
                    continue  # a sub-folder removed meanwhile: its parent's event says so
                # A missing root is normal before the first build wrote the output folder.
                level = logging.DEBUG if err == errno.ENOENT else logging.INFO
                log.log(
                    level,
                    "cannot watch %s (%s): rebuilds scan it",
                    escape_controls(str(folder)),
                    os.strerror(err),
                )
                return False
            self._wds.setdefault(wd, []).append((tree, prefix))
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        rel = prefix + entry.name
                        if (
                            not entry.name.startswith(".")
                            and entry.is_dir(follow_symlinks=False)
                            and (enters is None or enters(rel))
                        ):
                            stack.append((entry.path, prefix + entry.name + "/"))
            except OSError as exc:
                log.info(
                    "cannot list %s (%s): rebuilds scan it",
                    escape_controls(str(folder)),
                    escape_controls(str(exc)),
                )
                return False
        tree.known = True
        return True

    def take(self, name: str) -> set[str] | None:
        """Paths of tree ``name`` that may have changed since the last ``take`` (or ``arm``),
        or ``None`` when that cannot be told; either way the tree's record starts afresh."""
        tree = self._trees.get(name)
        if tree is None:
            return None
        self._drain()
        if not tree.known:
            return None
        suspects, tree.suspects = tree.suspects, set()
        return suspects

    def forget(self, name: str) -> None:
        """Mark tree ``name`` unknown (its caller lost track), until it is armed again."""
        tree = self._trees.get(name)
        if tree is not None:
            tree.known = False

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _, length = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                offset = start + length
                raw = data[start:offset].rstrip(b"\0")
                self._event(wd, mask, os.fsdecode(raw))

    def _event(self, wd: int, mask: int, name: str) -> None:
        if mask & IN_Q_OVERFLOW:
            for tree in self._trees.values():
                tree.known = False
            return
        found = self._wds.get(wd)
        if found is None:
            return  # a watch of an earlier arming
        if mask & _LOST:
            for tree, _ in found:
                tree.known = False
            del self._wds[wd]
            return
        if not name or name.startswith("."):
            return
        for tree, prefix in found:
            if mask & IN_ISDIR:
                if tree.enters is None or tree.enters(prefix + name):
                    tree.known = False  # a folder came, went or moved: its files not watched
            elif tree.wants(prefix + name):
                tree.suspects.add(prefix + name)
