"""Finding post files and decoding their bytes: what real post directories contain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.decoding import SourceError, decode, display_path
from feedsmith.pipeline.sources import SourceFile, find_sources, read_bytes

JA_POST = (
    '---\ntitle: "日本語のタイトル"\ncategories: ["技術動向"]\n---\n'
    "\nこれは本文です。ひらがなとカタカナ、漢字。\n"
)


def _touch(path: Path, text: str = "---\ntitle: x\n---\nbody\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- find_sources ---------------------------------------------------------------------------


def test_find_sources_recurses_sorted_with_all_extensions_case_insensitive(tmp_path):
    for rel in ["b.md", "a/z.MARKDOWN", "a/y.mdown", "c.Mkd", "a/b/x.md"]:
        _touch(tmp_path / rel)
    sources, problems = find_sources(tmp_path)
    assert [s.rel for s in sources] == ["a/b/x.md", "a/y.mdown", "a/z.MARKDOWN", "b.md", "c.Mkd"]
    assert problems == []
    first = sources[0]
    assert first.size == (tmp_path / "a/b/x.md").stat().st_size
    assert first.mtime_ns == (tmp_path / "a/b/x.md").stat().st_mtime_ns


def test_find_sources_ignores_other_extensions_silently(tmp_path):
    _touch(tmp_path / "post.md")
    for rel in ["notes.txt", "image.png", "README", "post.md.bak", "draft.html"]:
        _touch(tmp_path / rel)
    sources, problems = find_sources(tmp_path)
    assert [s.rel for s in sources] == ["post.md"]
    assert problems == []


def test_find_sources_skips_hidden_files_and_folders(tmp_path):
    _touch(tmp_path / "visible.md")
    _touch(tmp_path / ".hidden.md")
    _touch(tmp_path / ".git" / "x.md")
    _touch(tmp_path / "sub" / ".obsidian" / "y.md")
    sources, problems = find_sources(tmp_path)
    assert [s.rel for s in sources] == ["visible.md"]
    assert problems == []


def test_find_sources_follows_symlink_inside_posts_dir(tmp_path):
    posts = tmp_path / "posts"
    _touch(posts / "drafts" / "real.md")
    os.symlink(posts / "drafts" / "real.md", posts / "linked.md")
    os.symlink(posts / "drafts", posts / "folder")
    _touch(posts / "drafts" / "other.md")
    sources, problems = find_sources(posts)
    assert problems == []
    # The file reachable three ways is read once, under its first name in sort order.
    rels = [s.rel for s in sources]
    assert rels == ["drafts/other.md", "drafts/real.md"]


def test_find_sources_reads_symlinked_file_from_its_target(tmp_path):
    posts = tmp_path / "posts"
    target = _touch(posts / "store" / "real.txt")  # not a post name itself
    os.symlink(target, posts / "post.md")
    sources, problems = find_sources(posts)
    assert problems == []
    assert [s.rel for s in sources] == ["post.md"]
    assert sources[0].path == target.resolve()


def test_find_sources_reports_symlink_escaping_posts_dir(tmp_path):
    posts = tmp_path / "posts"
    _touch(posts / "ok.md")
    secret = _touch(tmp_path / "outside" / "secret.md")
    os.symlink(secret, posts / "escape.md")
    os.symlink(tmp_path / "outside", posts / "escape-dir")
    sources, problems = find_sources(posts)
    assert [s.rel for s in sources] == ["ok.md"]
    assert len(problems) == 2
    assert all(p.severity == "error" for p in problems)
    assert {p.reason for p in problems} == {
        f"symlink points outside posts_dir: {secret.resolve()}",
        f"symlink points outside posts_dir: {(tmp_path / 'outside').resolve()}",
    }
    assert {Path(p.path).name for p in problems} == {"escape.md", "escape-dir"}


def test_find_sources_survives_symlink_loops(tmp_path):
    posts = tmp_path / "posts"
    _touch(posts / "a" / "post.md")
    os.symlink(posts, posts / "a" / "loop")
    os.symlink(posts / "self.md", posts / "self.md")  # a link to itself
    sources, problems = find_sources(posts)
    assert [s.rel for s in sources] == ["a/post.md"]
    assert [(Path(p.path).name, p.severity, p.reason.split(":")[0]) for p in problems] == [
        ("loop", "info", "symlinked folder skipped"),
        ("self.md", "error", "broken symlink"),
    ]


def test_find_sources_reports_each_skipped_symlinked_folder_as_info(tmp_path):
    posts = tmp_path / "posts"
    _touch(posts / "a" / "b" / "post.md")
    os.symlink(".", posts / "dot")  # posts_dir itself
    os.symlink("..", posts / "a" / "up")  # its parent, posts_dir
    os.symlink("../..", posts / "a" / "b" / "top")  # an ancestor two levels up
    os.symlink(".", posts / "a" / "here")  # the folder it sits in
    os.symlink("cycle2", posts / "cycle1")  # a link cycle: no folder at all
    os.symlink("cycle1", posts / "cycle2")
    sources, problems = find_sources(posts)
    assert [s.rel for s in sources] == ["a/b/post.md"]
    assert [(p.path, p.severity, p.reason) for p in problems] == [
        (
            display_path(posts / "a" / "b" / "top"),
            "info",
            "symlinked folder skipped: it points to posts_dir, which contains it (a loop)",
        ),
        (
            display_path(posts / "a" / "here"),
            "info",
            "symlinked folder skipped: it points to posts_dir/a, which contains it (a loop)",
        ),
        (
            display_path(posts / "a" / "up"),
            "info",
            "symlinked folder skipped: it points to posts_dir, which contains it (a loop)",
        ),
        (display_path(posts / "cycle1"), "info", "symlink loop, skipped: cycle2"),
        (display_path(posts / "cycle2"), "info", "symlink loop, skipped: cycle1"),
        (
            display_path(posts / "dot"),
            "info",
            "symlinked folder skipped: it points to posts_dir, which contains it (a loop)",
        ),
    ]
    assert not any(p.severity == "error" for p in problems)


def test_find_sources_treats_posts_dir_symlink_as_the_root(tmp_path):
    real = tmp_path / "real"
    _touch(real / "p.md")
    os.symlink(real, tmp_path / "posts")
    sources, problems = find_sources(tmp_path / "posts")
    assert [s.rel for s in sources] == ["p.md"]
    assert problems == []


def test_find_sources_ignores_directory_named_like_a_post(tmp_path):
    _touch(tmp_path / "weird.md" / "inner.md")
    sources, _ = find_sources(tmp_path)
    assert [s.rel for s in sources] == ["weird.md/inner.md"]


def test_display_path_is_relative_under_cwd_and_absolute_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "posts" / "a.md") == "posts/a.md"
    other = tmp_path.parent / "elsewhere.md"
    assert display_path(other) == str(other)


# -- read_bytes -----------------------------------------------------------------------------


def _source(path: Path) -> SourceFile:
    st_ = path.stat()
    return SourceFile(path, path.name, st_.st_size, st_.st_mtime_ns)


def test_read_bytes_returns_file_contents(tmp_path):
    path = tmp_path / "a.md"
    path.write_bytes(b"hello")
    assert read_bytes(_source(path), 5) == b"hello"


def test_read_bytes_rejects_oversized_file_with_sizes_in_reason(tmp_path):
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * 101)
    with pytest.raises(SourceError) as info:
        read_bytes(_source(path), 100)
    assert info.value.reason == "file is 101 bytes, larger than max_post_bytes 100"


# -- decode ---------------------------------------------------------------------------------


def test_decode_plain_utf8_has_no_warning():
    assert decode(JA_POST.encode()) == (JA_POST, None)


def test_decode_strips_utf8_bom():
    text, warning = decode(b"\xef\xbb\xbf" + JA_POST.encode())
    assert text == JA_POST
    assert warning is None


def test_decode_normalizes_crlf_line_endings():
    data = JA_POST.replace("\n", "\r\n").encode()
    assert decode(data) == (JA_POST, None)


def test_decode_normalizes_lone_cr_line_endings():
    data = JA_POST.replace("\n", "\r").encode()
    assert decode(data) == (JA_POST, None)


def test_decode_detects_shift_jis_and_warns():
    text, warning = decode(JA_POST.replace("\n", "\r\n").encode("shift_jis"))
    assert text == JA_POST
    assert warning == "not UTF-8; decoded as Shift_JIS (cp932)"


def test_decode_detects_short_shift_jis_text():
    assert decode("日本語です".encode("cp932")) == (
        "日本語です",
        "not UTF-8; decoded as Shift_JIS (cp932)",
    )


def test_decode_detects_cp932_extensions():
    text = "①株式会社㈱のニュース"
    assert decode(text.encode("cp932"))[0] == text


def test_decode_detects_euc_jp_and_warns():
    text, warning = decode(JA_POST.encode("euc_jp"))
    assert text == JA_POST
    assert warning == "not UTF-8; decoded as EUC-JP"


def test_decode_detects_short_euc_jp_text():
    assert decode("こんにちは".encode("euc_jp")) == ("こんにちは", "not UTF-8; decoded as EUC-JP")


def test_decode_utf16_with_bom():
    text, warning = decode(JA_POST.encode("utf-16"))
    assert text == JA_POST
    assert warning is not None and "UTF-16" in warning


def test_decode_rejects_nul_bytes_as_binary():
    with pytest.raises(SourceError) as info:
        decode(b"---\ntitle: x\n---\n\x00\x01\x02binary")
    assert info.value.reason == "binary file (contains NUL bytes)"


def test_decode_rejects_png_header_as_binary():
    with pytest.raises(SourceError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_decode_rejects_latin1_text():
    with pytest.raises(SourceError) as info:
        decode("café crème\n".encode("latin-1"))
    assert info.value.reason.startswith("not valid UTF-8")


def test_decode_empty_file_gives_empty_text():
    assert decode(b"") == ("", None)
    assert decode(b"\xef\xbb\xbf") == ("", None)


def test_decode_keeps_replacement_character():
    assert decode("可能\ufffd".encode()) == ("可能\ufffd", None)


@given(st.binary(max_size=300))
@settings(deadline=None)
def test_decode_arbitrary_bytes_only_raises_source_error(data):
    try:
        text, warning = decode(data)
    except SourceError as exc:
        assert exc.reason
    else:
        assert "\r" not in text
        assert warning is None or isinstance(warning, str)
