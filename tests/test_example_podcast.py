"""The example podcast blog (``make run-podcast``) builds with no problem, and what gPodder's
parser reads from its show is what the example's files say."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import podcastparser
import pytest

from feedsmith.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"


@pytest.fixture(autouse=True)
def podcastparser_knows_the_official_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """podcastparser 0.6.11 knows only the namespace's old URI (see test_podcast_show)."""
    monkeypatch.setitem(podcastparser.Namespace.NAMESPACES, PODCAST_NS, "podcast")


def test_the_example_podcast_builds_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(EXAMPLES / "podcast", tmp_path / "examples" / "podcast")
    config = tmp_path / "examples" / "podcast.yaml"
    shutil.copy(EXAMPLES / "podcast.yaml", config)
    assert main(["check", "-c", str(config)]) == 0
    out, err = capsys.readouterr()
    assert "3 posts, 0 skipped, 0 problems" in out, out + err
    assert main(["build", "-c", str(config)]) == 0
    out_dir = tmp_path / "feeds" / "podcast-example"
    show = podcastparser.parse(
        "http://127.0.0.1:8080/feeds/tags/podcast.rss.xml",
        io.BytesIO((out_dir / "tags" / "podcast.rss.xml").read_bytes()),
    )
    assert show["title"] == "Feeds Aloud"
    assert show["cover_url"] == "http://127.0.0.1:8080/media/cover.jpg"
    episodes = {e["number"]: e for e in show["episodes"]}
    assert sorted(episodes) == [1, 2]  # the post without audio is not an episode
    media = tmp_path / "examples" / "podcast" / "media" / "episodes"
    for number, name in ((1, "001.mp3"), (2, "002.mp3")):
        (enclosure,) = episodes[number]["enclosures"]
        assert enclosure["url"] == f"http://127.0.0.1:8080/media/episodes/{name}"
        assert enclosure["file_size"] == (media / name).stat().st_size
        assert enclosure["mime_type"] == "audio/mpeg"
    assert episodes[1]["total_time"] == 2 and episodes[2]["total_time"] == 3
    chapters = episodes[1]["chapters_json_url"].rsplit("/feeds/", 1)[1]
    manifest = json.loads((out_dir / "index.json").read_text())
    assert chapters in manifest["files"]  # served by `serve`, which opens only listed files
    assert [c["title"] for c in json.loads((out_dir / chapters).read_text())["chapters"]] == [
        "Welcome",
        "ETag, Last-Modified and 304",
    ]
