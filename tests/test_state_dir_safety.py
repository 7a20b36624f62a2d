"""state_dir: nothing read from it runs as code, it is private; staged writes go nowhere else."""

from __future__ import annotations

import errno
import os
import pickle
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest

from feedsmith.cli import main
from feedsmith.publish.staging import stage
from test_serve_e2e import http, post_text, run_serve

POST = "---\ntitle: Hello\ndate: 2025-11-01\ntags: [a]\n---\n\nBody.\n"


class Payload:
    """Unpickling this runs ``os.system``: what a planted pickle does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def build(site: Any) -> int:
    return main(["build", "--no-progress", "-c", str(site.config_path)])


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize(
    "name", ["parse-cache.pickle", "kept.pickle", "parse-cache.msgpack", "kept.msgpack"]
)
def test_a_planted_pickle_never_runs(
    site: Any, tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    state = config.state_dir
    state.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    (state / name).write_bytes(pickle.dumps(Payload(marker)))
    assert build(site) == 0
    assert not marker.exists()
    assert (site.output_dir / "all.atom.xml").exists()
    if name.endswith(".pickle"):  # an older feedsmith's file: said once, removed
        assert f"{name} from an older feedsmith (never loaded)" in caplog.text
        assert not (state / name).exists()
        caplog.clear()
        assert build(site) == 0
        assert "older feedsmith" not in caplog.text
    else:
        assert "ignoring" in caplog.text and name in caplog.text


@pytest.mark.parametrize("command", ["build", "check", "serve"])
@pytest.mark.parametrize("unsafe", [0o770, 0o757, 0o1777])
def test_a_state_dir_others_can_write_is_refused(
    site: Any, capsys: pytest.CaptureFixture[str], command: str, unsafe: int
) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    config.state_dir.mkdir()
    os.chmod(config.state_dir, unsafe)
    code = main([command, "-c", str(site.config_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(config.state_dir) in err and f"chmod 700 {config.state_dir}" in err
    assert len(err.strip().splitlines()) == 1
    assert not site.output_dir.exists()  # nothing built
    assert os.listdir(config.state_dir) == []  # nothing read or written there
    assert mode(config.state_dir) == unsafe


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown to another user")
def test_a_state_dir_of_another_user_is_refused(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    config.state_dir.mkdir(mode=0o700)
    os.chown(config.state_dir, 65534, 65534)
    assert build(site) == 2
    err = capsys.readouterr().err
    assert "owned by uid 65534" in err and str(config.state_dir) in err
    assert not site.output_dir.exists()


def all_under(root: Path) -> list[Path]:
    return [Path(folder) / name for folder, dirs, files in os.walk(root) for name in dirs + files]


def test_state_is_private_and_output_public_whatever_the_umask(site: Any) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    site.write_post("2025-11-02-broken.md", POST.replace("Hello", "Broken"))
    site.config()
    old = os.umask(0o002)  # a permissive umask must not open state up
    try:
        assert build(site) == 0
        (site.posts_dir / "2025-11-02-broken.md").write_bytes(b"")  # kept: kept.msgpack
        assert build(site) == 0
    finally:
        os.umask(old)
    state = site.root / ".feedsmith"
    assert mode(state) == 0o700
    files = all_under(state)
    assert {p.name for p in files} >= {"state.json", "parse-cache.msgpack", "kept.msgpack"}
    assert {p.name: mode(p) for p in files if p.is_file()} == {
        p.name: 0o600 for p in files if p.is_file()
    }
    published = [p for p in all_under(site.output_dir) if p.is_file()]
    assert published and all(mode(p) & 0o044 == 0o044 for p in published)  # public


def test_files_an_older_version_left_readable_are_tightened_at_start(site: Any) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    assert build(site) == 0
    os.chmod(config.state_dir, 0o755)
    for path in config.state_dir.iterdir():
        os.chmod(path, 0o644)
    assert main(["check", "-c", str(site.config_path)]) == 0  # even check, which writes nothing
    assert mode(config.state_dir) == 0o700
    assert {mode(p) for p in config.state_dir.iterdir()} == {0o600}


def test_a_symlink_planted_in_state_dir_is_replaced_not_written_through(
    site: Any, tmp_path: Path
) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    config.state_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    for name in ("state.json", "status.json", "last-build.json", "parse-cache.msgpack"):
        os.symlink(victim, config.state_dir / name)
    assert build(site) == 0
    assert victim.read_bytes() == b"precious"
    assert not (config.state_dir / "state.json").is_symlink()


def test_a_symlink_at_the_lock_file_is_not_followed(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-hello.md", POST)
    config = site.config()
    config.state_dir.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    victim.chmod(0o644)
    os.symlink(victim, config.state_dir / ".lock")
    build(site)  # refused or not, the victim is neither created, changed nor re-moded
    assert victim.read_bytes() == b"precious" and mode(victim) == 0o644


def test_a_symlink_at_a_staged_name_cannot_redirect_the_write(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the random part of a staged name is guessed, the exclusive create refuses the
    planted symlink: the build fails and keeps the previous feeds; the target is untouched."""
    site.write_post("2025-11-01-hello.md", POST)
    site.config()
    assert build(site) == 0
    before = (site.output_dir / "all.atom.xml").read_bytes()
    site.write_post("2025-11-02-more.md", POST.replace("Hello", "More"))
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "guessed")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    for name in os.listdir(site.output_dir):
        for suffix in (".feedsmith-tmp", ".feedsmith-stage"):
            os.symlink(victim, site.output_dir / f".{name}.guessed{suffix}")
    code = build(site)  # stale temp names are cleared first, or the create fails: either way
    assert victim.read_bytes() == b"precious" and not victim.is_symlink()
    after = (site.output_dir / "all.atom.xml").read_bytes()
    assert (code, after) == (3, before) or (code == 0 and b"More" in after)


def test_staging_refuses_a_symlink_at_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secrets, "token_hex", lambda n=None: "guessed")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / ".all.atom.xml.guessed.feedsmith-stage")
    with pytest.raises(OSError) as refused:  # O_EXCL: the planted name already exists
        stage(out, "all.atom.xml", b"<feed/>")
    assert refused.value.errno == errno.EEXIST
    assert victim.read_bytes() == b"precious"
    monkeypatch.undo()
    staged = stage(out, "all.atom.xml", b"<feed/>")  # a random name: no clash
    assert Path(staged.tmp).read_bytes() == b"<feed/>" and mode(Path(staged.tmp)) & 0o044


@pytest.mark.slow
def test_serve_with_the_builtin_hub_keeps_its_database_private(site: Any, tmp_path: Path) -> None:
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"builtin": True}
    old = os.umask(0o002)
    try:
        with run_serve(site, tmp_path / "serve.log", interval=60, watch=False) as served:
            status, _, _ = http(served.url("/healthz"))
            assert status == 200
            state = site.root / ".feedsmith"
            db = state / "websub.sqlite"
            assert db.exists() and mode(db) == 0o600
            assert mode(state) == 0o700 and mode(state / "metrics") == 0o700
            for path in all_under(state):
                if path.is_file() and path.parent == state:
                    assert mode(path) == 0o600, path
    finally:
        os.umask(old)
