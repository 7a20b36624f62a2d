"""Footnotes, as kramdown (Jekyll) and GitHub write them, reach readers as notes, not syntax."""

from __future__ import annotations

import json
import os

import feedparser
import pytest

from feedsmith.cli import main
from feedsmith.core import markdown as md
from markdown_support import Exploding

POST = """\
---
title: A post with notes
date: 2025-03-01 10:00:00
---
Syntax highlighting helps readers.[^1] So do short lines.[^long]

Second paragraph.

[^1]: <https://en.wikipedia.org/wiki/Syntax_highlighting>
[^long]: A *longer* note,
    over two lines.
"""


def test_a_built_feed_shows_footnotes_as_notes_in_every_format(site) -> None:
    site.write_post("2025-03-01-notes.md", POST)
    site.config()
    assert main(["build", "-c", str(site.config_path)]) == 0

    atom = feedparser.parse(str(site.output_dir / "all.atom.xml"))
    assert not atom.bozo
    (entry,) = atom.entries
    content = entry.content[0].value
    assert "[^" not in content  # no Markdown syntax reaches a reader
    assert "<sup>" in content and ">[1]</a></sup>" in content and ">[2]</a></sup>" in content
    assert "A <em>longer</em> note,\nover two lines." in content
    assert '<a href="https://en.wikipedia.org/wiki/Syntax_highlighting">' in content
    # Ids are dropped: two entries shown on one page would both have "fn1".
    assert "id=" not in content
    # The summary is prose: a note's marker is not part of it.
    assert entry.summary == "Syntax highlighting helps readers. So do short lines."

    rss = feedparser.parse(str(site.output_dir / "all.rss.xml"))
    rss_html = rss.entries[0].content[0].value
    assert "A <em>longer</em> note," in rss_html and "[^" not in rss_html
    item = json.loads((site.output_dir / "all.json").read_text("utf-8"))["items"][0]
    assert "over two lines." in item["content_html"] and "[^" not in item["content_html"]


def test_a_reference_without_its_note_stays_text() -> None:
    html = md.render_markdown("A regex like [^a-z] is not a note.", "https://b.example/p/")
    assert html == "<p>A regex like [^a-z] is not a note.</p>\n"


@pytest.mark.parametrize(
    "body",
    [
        POST.split("---\n", 2)[2],
        "Only[^x] one.\n\n[^x]: Note with `code` and [a link](/rel/).\n",
        "# Heading\n\nText[^a].\n\n[^a]: Note.\n\nAfter the note.\n",
    ],
)
def test_the_fallback_engine_renders_notes_the_same(
    monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    """The reference engine (used when the Rust one fails on a post) gives the same summary and,
    whitespace inside list items aside, the same HTML."""
    fast_html, fast_summary = md.render_post(body, "https://b.example/p/")

    monkeypatch.setattr(md, "_FAST", Exploding())
    ref_html, ref_summary = md.render_post(body, "https://b.example/p/")
    assert ref_summary == fast_summary
    assert "".join(ref_html.split()) == "".join(fast_html.split())
    assert "[^" not in ref_html


def test_an_upgrade_that_renders_notes_rebuilds_posts_parsed_before_it(
    site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse cache keeps each post's HTML and the early no-change answer trusts the last
    build: a feedsmith that renders posts differently must go past both, not go on serving the
    old rendering of files that did not change."""
    import markdown_it_pyrs

    from feedsmith.core import config as config_module
    from feedsmith.pipeline import early

    old_stat = 1_600_000_000 * 10**9  # older than the racy window: the early answer may apply
    os.utime(site.write_post("2025-03-01-notes.md", POST), ns=(old_stat, old_stat))
    site.config()
    monkeypatch.chdir(site.root)
    build = ["build", "--no-progress", "-c", "config.yaml"]
    with monkeypatch.context() as old:  # the release before footnotes
        for module in (config_module, early):
            old.setattr(module, "RENDERING_REVISION", module.RENDERING_REVISION - 1)
        engine = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "linkify"])
        old.setattr(md, "_FAST", engine)
        assert main(build) == 0
        assert early.early_build(build) == 0  # that release would answer "nothing changed"
    before = (site.output_dir / "all.atom.xml").read_text("utf-8")
    assert "[^long]:" in before

    assert early.early_build(build) is None  # not across a change of rendering
    assert main(build) == 0
    after = (site.output_dir / "all.atom.xml").read_text("utf-8")
    assert "[^long]:" not in after and "over two lines." in after
