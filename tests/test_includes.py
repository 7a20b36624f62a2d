"""FileIncludes: includes read only from ``_includes`` and the post's folder, inside the site,
bounded in size; hostile names and symlinks refused without reading anything outside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feedsmith.core.jekyll.liquid import IncludeRefused, render_liquid
from feedsmith.pipeline.includes import FileIncludes

SECRET = "TOP-SECRET-VALUE"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site with a secret file beside it (and one inside, outside the allowed folders)."""
    (tmp_path / "secret.txt").write_text(SECRET, "utf-8")
    root = tmp_path / "site"
    (root / "_includes" / "sub").mkdir(parents=True)
    (root / "_posts" / "en").mkdir(parents=True)
    (root / "_config.yml").write_text(f"token: {SECRET}\n", "utf-8")
    (root / "_includes" / "note.html").write_text("<b>{{ include.t }}</b>", "utf-8")
    (root / "_includes" / "sub" / "deep.html").write_text("deep", "utf-8")
    (root / "_includes" / "bom.html").write_bytes("\ufeffwith bom é".encode())
    (root / "_posts" / "en" / "part.md").write_text("relative part", "utf-8")
    return root


def reader(root: Path, **kwargs: int) -> FileIncludes:
    return FileIncludes(root / "_includes", root / "_posts" / "en", root, **kwargs)


def test_reads_includes_and_relative_files(site: Path) -> None:
    files = reader(site)
    assert files.include("note.html") == "<b>{{ include.t }}</b>"
    assert files.include("sub/deep.html") == "deep"
    assert files.include("bom.html") == "with bom é"
    assert files.include_relative("part.md") == "relative part"
    assert files.relative_reads == ["part.md"]


def test_missing_files_are_none(site: Path) -> None:
    files = reader(site)
    assert files.include("nope.html") is None
    assert files.include("sub") is None  # a folder is not an include
    assert files.include_relative("nope.md") is None
    assert files.relative_reads == ["nope.md"]


def test_no_includes_folder_means_every_include_is_missing(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    (root / "_posts").mkdir(parents=True)
    assert FileIncludes(root / "_includes", root / "_posts", root).include("x.html") is None


@pytest.mark.parametrize(
    "name",
    [
        "../../secret.txt",
        "../_config.yml",
        "sub/../../_config.yml",
        "/etc/passwd",
        str(Path("/etc/passwd")),
        "./note.html",
        "sub//deep.html",
        "note.html\x00.png",
        "..%2f..%2fsecret.txt",
        "%2e%2e/secret.txt",
        "..\\..\\secret.txt",
        "~/secret.txt",
        "C:/secret.txt",
        "",
        "note.html\n",
    ],
)
def test_hostile_names_are_refused(site: Path, name: str) -> None:
    files = reader(site)
    with pytest.raises(IncludeRefused):
        files.include(name)
    with pytest.raises(IncludeRefused):
        files.include_relative(name)


def test_symlink_out_of_includes_is_refused(site: Path) -> None:
    (site / "_includes" / "evil.html").symlink_to(site.parent / "secret.txt")
    (site / "_includes" / "config.html").symlink_to(site / "_config.yml")
    with pytest.raises(IncludeRefused, match="outside _includes"):
        reader(site).include("evil.html")
    with pytest.raises(IncludeRefused, match="outside _includes"):
        reader(site).include("config.html")  # inside the site, outside _includes


def test_symlinked_folder_out_of_the_site_is_refused(site: Path) -> None:
    (site / "_includes" / "out").symlink_to(site.parent, target_is_directory=True)
    with pytest.raises(IncludeRefused):
        reader(site).include("out/secret.txt")


def test_symlink_within_includes_is_followed(site: Path) -> None:
    (site / "_includes" / "alias.html").symlink_to(site / "_includes" / "sub" / "deep.html")
    assert reader(site).include("alias.html") == "deep"


def test_includes_folder_that_is_a_symlink_out_of_the_site_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "_posts").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.html").write_text(SECRET, "utf-8")
    (root / "_includes").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(IncludeRefused):
        FileIncludes(root / "_includes", root / "_posts", root).include("x.html")


def test_symlink_loop_is_refused(site: Path) -> None:
    (site / "_includes" / "a.html").symlink_to(site / "_includes" / "b.html")
    (site / "_includes" / "b.html").symlink_to(site / "_includes" / "a.html")
    with pytest.raises(IncludeRefused):
        reader(site).include("a.html")


def test_large_file_is_refused(site: Path) -> None:
    (site / "_includes" / "big.html").write_text("x" * 101, "utf-8")
    (site / "_includes" / "fits.html").write_text("x" * 100, "utf-8")
    files = reader(site, max_bytes=100)
    with pytest.raises(IncludeRefused, match="too large"):
        files.include("big.html")
    assert files.include("fits.html") == "x" * 100


def test_not_utf8_is_refused(site: Path) -> None:
    (site / "_includes" / "latin1.html").write_bytes("café".encode("latin-1"))
    with pytest.raises(IncludeRefused, match="UTF-8"):
        reader(site).include("latin1.html")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_does_not_hang_and_is_no_include(site: Path) -> None:
    os.mkfifo(site / "_includes" / "pipe.html")
    assert reader(site).include("pipe.html") is None


def test_hostile_post_renders_nothing_from_outside_the_site(site: Path) -> None:
    (site / "_includes" / "evil.html").symlink_to(site.parent / "secret.txt")
    (site / "_includes" / "loop.html").write_text("x{% include loop.html %}", "utf-8")
    body = (
        "{% include ../../secret.txt %}\n"
        "{% include /etc/passwd %}\n"
        "{% include evil.html %}\n"
        "{% include_relative ../../../secret.txt %}\n"
        "{% include_relative ../../_config.yml %}\n"
        "{% include note.html t=page.title %}\n"
    )
    files = reader(site)
    outcome = render_liquid(
        body,
        site={},
        page={"title": "T"},
        includes=files,
        markdownify=str,
    )
    assert outcome.error is None
    assert SECRET not in outcome.text
    assert "<b>T</b>" in outcome.text
    refused = [p for p in outcome.problems if "refused" in p[2]]
    assert [p[0] for p in refused] == [1, 2, 3, 4, 5]
    looped = render_liquid(
        "{% include loop.html %}", site={}, page={}, includes=files, markdownify=str
    )
    assert looped.error is not None and "loop" in looped.error[1]
