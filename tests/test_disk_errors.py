"""A full disk (or any I/O error) while building: one line naming the operation, the path and
the filesystem's free space; exit 3; the previous feeds byte for byte as they were.

Two ways to fill the disk: a real tiny tmpfs as ``output_dir`` (root and ``unshare -m`` needed,
else skipped), and always an injected ENOSPC from ``write()`` on the files being written, which
is exactly what a full disk does: the error names no path, so the line must find it itself.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feedsmith import cli
from feedsmith.system.diskerrors import DiskError, describe, doing

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG is Linux-only"
)

POST = """\
---
title: "Post {i}"
date: 2025-11-{day:02d} 10:00:00 +0000
tags: [disk, t{i}]
---

{body}
"""


def write_posts(site: Any, count: int, *, start: int = 0, body_bytes: int = 200) -> None:
    for i in range(start, start + count):
        body = ("All work and no play. " * (body_bytes // 22 + 1))[:body_bytes]
        site.write_post(f"p{i}.md", POST.format(i=i, day=1 + i % 28, body=body), dedent=False)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


class _FullFile(io.RawIOBase):
    """A file on a full disk: every write fails the way ``write(2)`` does (no path)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        return int(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
        super().close()


@pytest.fixture
def disk_full_under(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Files opened for writing (``os.fdopen`` of a descriptor) under any folder put in the
    yielded list fail every ``write`` with ENOSPC."""
    full: list[Path] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        fh = real_fdopen(fd, *args, **kwargs)
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        mode = args[0] if args else kwargs.get("mode", "r")
        if "w" in mode and any(path.is_relative_to(folder) for folder in full):
            return _FullFile(fh)
        return fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    yield full


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().err


def test_full_disk_while_publishing_is_one_line_exit_3_and_feeds_kept(
    site: Any,
    disk_full_under: list[Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_posts(site, 3)
    site.config()
    cfg = str(site.config_path)
    assert run_cli(capsys, "-c", cfg, "build", "--no-progress")[0] == 0
    before = tree(site.output_dir)

    write_posts(site, 2, start=3)
    disk_full_under.append(site.output_dir.resolve())
    caplog.clear()
    code, err = run_cli(capsys, "-c", cfg, "build", "--no-progress")

    assert code == 3
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "build failed, previous feeds kept: publish: cannot write " in line
    assert str(site.output_dir.resolve()) in line
    assert "No space left on device (ENOSPC)" in line
    assert " free of " in line  # the filesystem's free space
    assert not any(r.exc_info and r.levelno > logging.DEBUG for r in caplog.records)
    assert "Traceback" not in caplog.text
    assert tree(site.output_dir) == before


def test_verbose_adds_the_traceback(
    site: Any,
    disk_full_under: list[Path],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_posts(site, 2)
    site.config()
    disk_full_under.append(site.output_dir.resolve())
    caplog.set_level(logging.DEBUG)
    code, err = run_cli(capsys, "-v", "-c", str(site.config_path), "build", "--no-progress")
    assert code == 3 and "ENOSPC" in err
    debug = [r for r in caplog.records if r.exc_info and r.levelno == logging.DEBUG]
    assert debug and isinstance(debug[0].exc_info[1], DiskError)  # type: ignore[index]


def test_full_disk_while_saving_state_names_state_file(
    site: Any, disk_full_under: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_posts(site, 3)
    config = site.config()
    disk_full_under.append(config.state_dir.resolve())
    code, err = run_cli(capsys, "-c", str(site.config_path), "build", "--no-progress")
    assert code == 3
    (line,) = err.strip().splitlines()
    assert "feeds published but build state not saved: save state: cannot write " in line
    assert str((config.state_dir / "state.json").resolve()) in line
    assert "ENOSPC" in line


def test_read_only_output_is_one_line_without_free_space(
    site: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a full disk (EROFS from the rename): named, but no free-space note."""
    write_posts(site, 2)
    site.config()

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), src, None, dst)

    monkeypatch.setattr(os, "replace", refuse)
    code, err = run_cli(capsys, "-c", str(site.config_path), "build", "--no-progress")
    assert code == 3
    (line,) = err.strip().splitlines()
    assert "publish: cannot rename " in line and "(EROFS)" in line
    assert "free of" not in line


def test_serve_builder_logs_one_line_and_keeps_last_good_feeds(
    site: Any, disk_full_under: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    from feedsmith.serve.schedule import BuildService
    from feedsmith.serve.status import read_status

    write_posts(site, 3)
    config = site.config()
    service = BuildService(config)
    try:
        assert service.build_now("first").ok  # type: ignore[union-attr]
        before = tree(site.output_dir)
        write_posts(site, 1, start=3)
        disk_full_under.append(site.output_dir.resolve())
        caplog.clear()
        outcome = service.build_now("second")
    finally:
        service.shutdown(wait=True)
    assert outcome is not None and not outcome.ok
    assert outcome.error is not None and "ENOSPC" in outcome.error
    assert str(site.output_dir.resolve()) in outcome.error
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failed) == 1 and not failed[0].exc_info
    assert "ENOSPC" in failed[0].getMessage()
    status = read_status(config.state_dir)
    assert status is not None and status.last_build is not None
    assert "ENOSPC" in (status.last_build.error or "")
    assert tree(site.output_dir) == before


def test_diskerror_survives_pickling_and_names_path(tmp_path: Path) -> None:
    """Raised in a pool worker, it must reach the builder whole."""
    import pickle

    with pytest.raises(DiskError) as caught, doing("write", tmp_path / "x.xml"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    again = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(again, DiskError)
    assert (again.operation, again.filename, again.errno) == ("write", str(tmp_path / "x.xml"), 28)
    assert describe(again).startswith(f"cannot write {tmp_path / 'x.xml'}: No space left")
    assert f"{tmp_path}" in describe(again) and " free of " in describe(again)


DRIVER = """
import os, shutil, subprocess, sys
from pathlib import Path
site, out, snap = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(out)], check=True)
def build(name):
    with open(snap / (name + ".err"), "wb") as err:
        code = subprocess.call([sys.executable, "-m", "feedsmith", "-c", str(site / "config.yaml"),
                                "build", "--no-progress"], stdout=subprocess.DEVNULL, stderr=err)
    (snap / (name + ".rc")).write_text(str(code))
build("first")
shutil.copytree(out, snap / "before")
for i in range(4):
    body = ("x" * 79 + "\\n") * 4000
    (site / "posts" / f"big{i}.md").write_text(
        f'---\\ntitle: "Big {i}"\\ndate: 2025-12-0{i + 1} 10:00:00 +0000\\n---\\n\\n{body}')
build("second")
shutil.copytree(out, snap / "after")
"""


@pytest.mark.slow
def test_real_full_tmpfs_output_dir(site: Any, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare -m to mount a tmpfs")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m refused: {probe.stderr.decode(errors='replace').strip()}")
    write_posts(site, 3)
    site.config()
    site.output_dir.mkdir()
    snap = tmp_path / "snap"
    snap.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, "utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run(
        [
            "unshare",
            "-m",
            sys.executable,
            str(driver),
            str(site.root),
            str(site.output_dir),
            str(snap),
        ],
        check=True,
        timeout=120,
        env=env,
        cwd=site.root,
    )
    assert (snap / "first.rc").read_text() == "0", (snap / "first.err").read_text()
    assert (snap / "second.rc").read_text() == "3"
    err = (snap / "second.err").read_text("utf-8")
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if "ENOSPC" in ln]
    assert "build failed, previous feeds kept: publish: cannot write " in line
    assert f"{site.output_dir} has " in line and " free of 1.0 MiB" in line
    assert not [ln for ln in err.splitlines() if " ERROR " in ln]
    assert tree(snap / "after") == tree(snap / "before")
