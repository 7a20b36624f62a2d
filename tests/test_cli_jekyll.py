"""``feedsmith build|check --jekyll PATH``: a Jekyll site in one line, with or without a
config file, and ``check`` saying what it read from the site."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from feedsmith.cli import main
from feedsmith.config import ENV_VAR


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


@pytest.fixture
def blog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Jekyll site in ``tmp_path/blog``; the current folder is ``tmp_path/work``."""
    root = tmp_path / "blog"
    write(
        root / "_config.yml",
        """\
        title: Field Notes
        url: https://notes.example.com
        baseurl: /blog
        timezone: Asia/Tokyo
        permalink: pretty
        plugins: [jekyll-feed]
        feed:
          categories: [en]
        """,
    )
    write(root / "_data" / "authors.yml", "kim:\n  name: Kim Lee\n  uri: https://kim.example\n")
    write(root / "_includes" / "note.html", "<aside>{{ include.text }}</aside>\n")
    for folder, day in (("_posts", 1), ("en/_posts", 2)):
        write(
            root / folder / f"2024-03-0{day}-twins.md",
            f"---\ntitle: Twins {day}\ndate: 2024-03-0{day} 10:00:00 +0900\n---\n\nBody.\n",
        )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv(ENV_VAR, raising=False)
    return root


def test_check_without_a_config_file_prints_what_it_read_from_the_site(
    blog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--jekyll", str(blog)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    jekyll = [line for line in out if line.startswith("jekyll: ")]
    assert f"jekyll: site {blog}" in jekyll
    assert "jekyll: config files _config.yml" in jekyll
    assert "jekyll: site URL https://notes.example.com/blog (baseurl /blog)" in jekyll
    assert "jekyll: permalink /:categories/:year/:month/:day/:title/" in jekyll
    assert "jekyll: time zone Asia/Tokyo" in jekyll
    assert "jekyll: 2 posts in 2 _posts folders" in jekyll
    assert "jekyll: 1 includes" in jekyll
    assert "jekyll: 1 authors" in jekyll
    assert "jekyll: jekyll-feed URLs kept /feed.xml, /feed/en.xml" in jekyll
    assert out.index(jekyll[-1]) < len(out) - 1  # before the usual report
    assert out[-1].startswith("2 posts, 0 skipped")
    assert not (Path.cwd() / ".feedsmith").exists()  # check writes nothing


def test_check_says_what_it_had_to_assume(blog: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(blog / "_config.yml", "title: Bare\n")
    assert main(["check", "--jekyll", str(blog)]) == 0
    out = capsys.readouterr().out
    assert "jekyll: note: url: set in neither _config.yml nor config.yaml" in out
    assert "jekyll: note: timezone: not set; UTC used" in out
    assert "(jekyll-feed not in the site's plugins)" in out


def test_the_option_overrides_the_config_files_jekyll_and_posts_dir(
    blog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    write(other / "_config.yml", "title: Other\n")
    write(
        tmp_path / "work" / "config.yaml",
        f"jekyll: {other}\nsite: {{description: from feedsmith}}\n",
    )
    assert main(["check", "--jekyll", str(blog)]) == 0
    assert f"jekyll: site {blog}" in capsys.readouterr().out
    write(tmp_path / "work" / "config.yaml", "posts_dir: nowhere\n")
    assert main(["check", "--jekyll", str(blog)]) == 0


def test_build_without_a_config_file_writes_to_the_current_folder(
    blog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["build", "--no-progress", "--jekyll", str(blog)])
    assert code == 0, capsys.readouterr()
    work = Path.cwd()
    assert (work / ".feedsmith").is_dir()
    atom = (work / "feeds" / "all.atom.xml").read_text("utf-8")
    assert "Field Notes" in atom
    assert "https://notes.example.com/blog" in atom
    assert not (blog / "feeds").exists()


def test_a_named_config_file_that_is_missing_is_still_an_error(
    blog: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["-c", "typo.yaml", "check", "--jekyll", str(blog)]) == 2
    assert "typo.yaml: config file not found" in capsys.readouterr().err
    monkeypatch.setenv(ENV_VAR, "also-typo.yaml")
    assert main(["check", "--jekyll", str(blog)]) == 2


def test_a_mistake_in_the_sites_config_exits_2_naming_the_file(
    blog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(blog / "_config.yml", "timezone: Nowhere/Land\n")
    assert main(["check", "--jekyll", str(blog)]) == 2
    err = capsys.readouterr().err
    assert f"{blog / '_config.yml'}: timezone: unknown time zone 'Nowhere/Land'" in err


def test_a_missing_site_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert main(["check", "--jekyll", str(tmp_path / "nope")]) == 2
    assert "Jekyll site folder not found" in capsys.readouterr().err


def test_the_help_mentions_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    assert "--jekyll PATH" in capsys.readouterr().out
