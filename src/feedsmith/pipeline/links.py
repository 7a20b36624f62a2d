"""``{% link %}`` and ``{% post_url %}`` resolved, once the scan knows every post's URL.

A post is parsed alone, so its Liquid left placeholders (:mod:`feedsmith.core.jekyll.links`)
where these tags named other files. After the scan, the few posts holding any get their HTML
back from the parse index, the placeholders replaced by absolute URLs and their hashes
recomputed — so a target that moves updates the entries linking to it, and a post without
such tags costs nothing here. A page (not a post) is resolved from its own front matter, read
here: the one file read outside ``_posts``, and only the ones named, inside the site.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from feedsmith.core.config import Config
from feedsmith.core.decoding import display_path
from feedsmith.core.entry_hash import with_content
from feedsmith.core.frontmatter import FrontMatterError, parse_document
from feedsmith.core.jekyll.links import LinkKind, replace_links, targets_in
from feedsmith.core.jekyll.rules import page_url_path
from feedsmith.core.model import Post, Problem, ScanResult
from feedsmith.core.permalinks import quote_url
from feedsmith.core.post_files import POSTS_FOLDER

#: A page's front matter is read to find its permalink; a larger file is not a page to read.
PAGE_READ_LIMIT = 1 << 20


def _post_names(rel: str) -> tuple[str, ...]:
    """What ``post_url`` may call a post: its name, and its path under ``_posts`` (both
    without the extension), as Jekyll's PostComparer matches."""
    marker = f"{POSTS_FOLDER}/"
    inside = rel.split(marker, 1)[1] if marker in rel else rel
    stem = inside.rsplit(".", 1)[0]
    name = stem.rpartition("/")[2]
    return (name,) if name == stem else (stem, name)


def _folder(rel: str) -> str:
    return rel.split(f"{POSTS_FOLDER}/", 1)[0]


class LinkTable:
    """Targets → absolute URLs for one build."""

    def __init__(self, config: Config, posts: list[Post]) -> None:
        self.config = config
        self.by_rel = {post.source: post.url for post in posts}
        #: post_url name → [(folder, url)]: twins (``_posts`` and ``en/_posts``) share names.
        self.by_name: dict[str, list[tuple[str, str]]] = {}
        for post in posts:
            for name in _post_names(post.source):
                self.by_name.setdefault(name, []).append((_folder(post.source), post.url))
        self._pages: dict[str, str | None] = {}

    def post_url(self, name: str, source: str) -> str | None:
        found = self.by_name.get(name.strip().strip("/").removesuffix(".md"))
        if not found:
            return None
        home = _folder(source)
        for folder, url in found:  # a twin in the linking post's own language folder first
            if folder == home:
                return url
        return found[0][1]

    def link(self, target: str) -> str | None:
        rel = target.strip().lstrip("/")
        if rel in self.by_rel:
            return self.by_rel[rel]
        if rel not in self._pages:
            self._pages[rel] = self._page(rel)
        return self._pages[rel]

    def _page(self, rel: str) -> str | None:
        """A page's or static file's URL, from its front matter when it has one; ``None`` when
        there is no such file inside the site."""
        site = self.config.jekyll
        if site is None or not rel or "\0" in rel:
            return None
        root = site.root.resolve()
        try:
            path = (root / rel).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if root not in path.parents or not path.is_file():
            return None
        permalink = None
        if os.path.splitext(rel)[1].lower() in (".md", ".markdown", ".html", ".htm"):
            permalink = _front_matter_permalink(path)
        url_path = page_url_path(rel, permalink, site.permalink)
        return quote_url(self.config.site.url + url_path)


def _front_matter_permalink(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(PAGE_READ_LIMIT)
        meta = parse_document(data.decode("utf-8-sig", "replace")).meta
    except (OSError, FrontMatterError):
        return None
    value = meta.get("permalink")
    return value.strip() if isinstance(value, str) and value.strip() else None


def resolve_links(result: ScanResult, config: Config, html_of: Callable[[Post], str]) -> ScanResult:
    """``result`` with every placeholder in its posts replaced; an unknown target is a
    warning naming the post, and links to the site's home page instead of nowhere."""
    if config.jekyll is None or not any(post.has_links for post in result.posts):
        return result
    table = LinkTable(config, result.posts)
    home = config.site.url + "/"
    posts: list[Post] = []
    for post in result.posts:
        if not post.has_links:
            posts.append(post)
            continue
        html = post.content_html or html_of(post)
        shown = display_path(config.posts_dir / post.source)

        def resolve(kind: LinkKind, target: str, post: Post = post, shown: str = shown) -> str:
            url = table.post_url(target, post.source) if kind == "post_url" else table.link(target)
            if url is None:
                what = "no such post" if kind == "post_url" else "no such file in the site"
                reason = f"{{% {kind} {target} %}}: {what}; linked to the home page"
                result.problems.append(Problem(shown, None, "warning", reason))
                return home
            return url

        content = replace_links(html, resolve) if targets_in(html) else html
        summary = replace_links(post.summary, resolve) if targets_in(post.summary) else post.summary
        posts.append(with_content(post, content, summary, config.site.url))
    return dataclasses.replace(result, posts=posts)
