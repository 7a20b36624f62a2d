"""`feedsmith serve` on a Jekyll site: saves in any `_posts` folder go live, jekyll-feed's URL
answers, and Jekyll's own output folder and drafts never become posts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from test_serve_e2e import eventually, feed_titles, http, run_serve

FIXTURE = Path(__file__).parent / "fixtures" / "jekyll_site"


def post(title: str) -> str:
    return f"---\ntitle: {title}\n---\n本文 {{{{ site.title }}}}.\n"


@pytest.mark.slow
def test_serve_reads_a_jekyll_site_and_builds_on_saves_in_any_posts_folder(
    site: Any, tmp_path: Path
) -> None:
    root = site.root / "blog"
    shutil.copytree(FIXTURE, root)
    site.settings.pop("posts_dir")
    site.settings["jekyll"] = "blog"
    with run_serve(site, tmp_path / "serve.log", interval=3600) as served:
        feed = served.url("/feeds/all.atom.xml")
        eventually(lambda: "京都の夜" in feed_titles(http(feed)[2]), "the first build", 60)
        status, headers, body = http(served.url("/feed.xml"))
        assert status == 200, (status, headers, served.log_text()[-2000:])
        assert headers["content-type"].startswith("application/atom+xml")
        assert "京都の夜" in feed_titles(body)

        # Jekyll writing its output, and a draft: not posts, whatever their names.
        (root / "_site" / "_posts" / "2025-01-01-built.md").write_text(post("Built"), "utf-8")
        (root / "_drafts" / "2025-01-02-draft.md").write_text(post("Draft"), "utf-8")
        tmp = root / "ja" / "_posts" / ".2025-01-03-new.md.tmp"
        tmp.write_text(post("新しい投稿"), "utf-8")
        os.replace(tmp, root / "ja" / "_posts" / "2025-01-03-new.md")
        eventually(lambda: "新しい投稿" in feed_titles(http(feed)[2]), "the new post", 60)
        titles = feed_titles(http(feed)[2])
        assert "Built" not in titles and "Draft" not in titles
        text = http(feed)[2].decode("utf-8")
        assert "{{" not in text.replace("{{ page.title }}", "")  # Liquid rendered on saves too
