"""A Jekyll site's pictures and files: paths are jekyll-feed's (``absolute_url``, baseurl
included) and the files are read from the site's folder, where Jekyll copies them from."""

from __future__ import annotations

import shutil
from pathlib import Path

import feedparser
import yaml

from feedsmith.cli import main
from media_files import mp3, picture

FIXTURE = Path(__file__).parent / "fixtures" / "jekyll_site"
BASE = "https://notes.example.org/blog"


def test_jekyll_site_files_are_measured_and_missing_ones_reported(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "site"
    shutil.copytree(FIXTURE, root, symlinks=True)
    picture(root / "assets" / "cover.png", 40, 30, "PNG")
    mp3(root / "assets" / "audio" / "talk.mp3", 2.0)
    (root / "_posts" / "2023-03-01-pictures.md").write_text(
        "---\ntitle: Pictures\nimage: {path: /assets/cover.png, alt: Cover}\n"
        "audio: assets/audio/talk.mp3\nvideo: /assets/missing.mp4\n---\n\nHi.\n",
        "utf-8",
    )
    config = {"jekyll": "site", "output_dir": "feeds", "state_dir": "state"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), "utf-8")
    code = main(["build", "-c", str(tmp_path / "config.yaml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2023-03-01-pictures.md:5: warning: enclosure: /assets/missing.mp4 does not exist" in (
        out + err
    )
    parsed = feedparser.parse((tmp_path / "feeds" / "all.atom.xml").read_bytes())
    (entry,) = [e for e in parsed.entries if e.title == "Pictures"]
    assert entry.media_content == [
        {
            "url": f"{BASE}/assets/cover.png",
            "medium": "image",
            "type": "image/png",
            "width": "40",
            "height": "30",
        }
    ]
    size = (root / "assets/audio/talk.mp3").stat().st_size
    assert [(e.href, e.length, e.type) for e in entry.enclosures] == [
        (f"{BASE}/assets/audio/talk.mp3", str(size), "audio/mpeg")
    ]
