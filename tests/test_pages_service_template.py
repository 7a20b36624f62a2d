"""A page template edited while the service runs is picked up by its next build, by the same
builder (README: "a template edited while ``serve`` runs is picked up by the next build"), also
when the builder carries untouched feeds over whole from its last build."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from feedsmith.pipeline import SiteBuilder
from test_pages import T1, write


def test_a_template_edited_between_two_builds_of_one_builder_re_renders_its_pages(
    site: Any,
) -> None:
    for n in range(1, 4):
        write(site, n)
    write(site, 4, tags=("Other",))  # a feed the edit below leaves alone (carried over whole)
    templates = site.root / "templates"
    templates.mkdir()
    page = templates / "feed.html"
    page.write_text("<p>first {{ entries|length }}</p>\n", "utf-8")
    builder = SiteBuilder(site.config(templates_dir="templates"), pool=False, watch=True)
    builder.build(T1)
    ai = site.output_dir / "tags/ai.html"
    assert ai.read_bytes() == b"<p>first 3</p>\n"
    page.write_text("<p>second {{ entries|length }}</p>\n", "utf-8")
    builder.build(T1 + timedelta(minutes=1))  # no post changed: only the template
    assert ai.read_bytes() == b"<p>second 3</p>\n"
    write(site, 1, title="Post 1, retitled")  # and an edit after it: the service's edit path
    page.write_text("<p>third {{ entries|length }}</p>\n", "utf-8")
    builder.build(T1 + timedelta(minutes=2))
    assert builder.planner.groups_carried == 0  # the template is new: nothing kept as it was
    assert ai.read_bytes() == b"<p>third 3</p>\n"
    assert (site.output_dir / "tags/other.html").read_bytes() == b"<p>third 1</p>\n"
    write(site, 2, title="Post 2, retitled")  # the template as it was: "other" carried over
    builder.build(T1 + timedelta(minutes=3))
    assert builder.planner.groups_carried >= 1
    assert (site.output_dir / "tags/other.html").read_bytes() == b"<p>third 1</p>\n"
    write(site, 3, title="Post 3, retitled")  # an edit right after a carrying build,
    page.write_text("<p>fourth {{ entries|length }}</p>\n", "utf-8")  # with a new template
    builder.build(T1 + timedelta(minutes=4))
    assert (site.output_dir / "tags/other.html").read_bytes() == b"<p>fourth 1</p>\n"
    assert ai.read_bytes() == b"<p>fourth 3</p>\n"
