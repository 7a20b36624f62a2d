"""Memory of a process *with its workers*: the RSS of a process and all its descendants, summed.

One figure per service, the way an operator sizes a machine: ``serve`` is a builder plus a web
server and its workers, a build is a process plus its render pool. ``ru_maxrss`` only knows one
process, so the benches sample the tree with psutil.
"""

from __future__ import annotations

import threading

import psutil

#: How often the set of descendants is looked up again. Finding children reads every process's
#: stat (psutil scans /proc), which every 50 ms took a visible share of a core on the 2-core
#: machine; a pool's processes live for the whole build, so once a second finds them.
REFRESH_SECONDS = 1.0


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0  # exited meanwhile


def tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its descendants now (empty when ``pid`` is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_bytes(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` itself, RSS of its descendants summed), in bytes."""
    procs = tree(pid)
    if not procs:
        return 0, 0
    return _rss(procs[0]), sum(_rss(p) for p in procs[1:])


class TreeSampler:
    """Polls the summed RSS of a process tree in a thread; ``peak`` is the largest sum seen."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        procs: list[psutil.Process] = []
        every = max(1, round(REFRESH_SECONDS / self.interval))
        n = 0
        while not self._stop.is_set():
            if n % every == 0:
                procs = tree(self.pid)
            n += 1
            self.peak = max(self.peak, sum(_rss(p) for p in procs))
            self._stop.wait(self.interval)
