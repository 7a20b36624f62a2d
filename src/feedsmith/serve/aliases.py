"""jekyll-feed's feed URLs, still answering after a blog switches to feedsmith.

Subscribers of a Jekyll blog are subscribed to ``/feed.xml`` (jekyll-feed's ``feed.path``) and
perhaps to its category and tag feeds. When ``jekyll:`` is set, ``serve`` answers those paths
with the Atom subscription document of the same feed (``all.atom.xml``,
``categories/<slug>.atom.xml``, ``tags/<slug>.atom.xml``): the very response that file gets,
headers, ETag, 304 and gzip included, so a poller cannot tell the difference.

An alias answers 200, not a redirect: the issue asks for the old URLs to keep answering, a
reader that never follows (or never records) a 301 keeps working, and the document's own
``rel="self"`` link and WebSub ``Link`` header name the feedsmith URL, so readers that move do so
on their own. A target that does not exist (the category is gone) is 404, never 410: feedsmith
never published that URL, so it cannot say it is gone.

Targets are found in the manifest by kind and merged name (:func:`~feedsmith.core.naming.
normalize_name`), as ``index.json`` lists them, so a slug the registry made unique is followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from feedsmith.core.config import JekyllSite
from feedsmith.core.formats import FORMATS
from feedsmith.core.naming import normalize_name

#: jekyll-feed writes Atom, so that is the document its subscribers get.
_ATOM_SUFFIX = FORMATS["atom"].suffix
_SITE_FEED = ("all", "all")
_TAG_NAME = re.compile(r"[A-Za-z0-9_]+")


class FeedAliases:
    """Request path (as the app sees it, decoded) → the manifest feed it stands for."""

    def __init__(
        self,
        targets: Mapping[str, tuple[str, str]],
        tag_prefix: str | None = None,
        tags_except: Iterable[str] = (),
    ) -> None:
        self.targets = {
            path: (kind, normalize_name(name)) for path, (kind, name) in targets.items()
        }
        #: ``feed.tags: true``: every tag of the site under this path (``/feed/by_tag/``),
        #: known only from the posts, so matched per request.
        self.tag_prefix = tag_prefix
        self.tags_except = frozenset(tags_except)

    @classmethod
    def for_site(cls, site: JekyllSite | None) -> FeedAliases:
        """The aliases ``jekyll:`` asks for; none without it (nothing changes then)."""
        if site is None:
            return cls({})
        targets: dict[str, tuple[str, str]] = {}
        tag_prefix = None
        for kind, name, path in site.feed_aliases:
            if kind == "tag" and name == "*":
                tag_prefix = _rooted(path)
            else:
                targets[_rooted(path)] = (kind, name)
        targets[_rooted(site.feed_path)] = _SITE_FEED  # the site feed wins a clash
        return cls(targets, tag_prefix, site.feed_tags_except)

    def __bool__(self) -> bool:
        return bool(self.targets) or self.tag_prefix is not None

    def wanted(self, path: str) -> tuple[str, str] | None:
        """The (kind, merged name) a request path stands for, or ``None``."""
        found = self.targets.get(path)
        if found is not None or self.tag_prefix is None:
            return found
        if path.startswith(self.tag_prefix) and path.endswith(".xml"):
            tag = path[len(self.tag_prefix) : -len(".xml")]
            # jekyll-feed made tag feeds only for names of [A-Za-z0-9_] (generator.rb).
            if _TAG_NAME.fullmatch(tag) and tag not in self.tags_except:
                return ("tag", normalize_name(tag))
        return None

    @staticmethod
    def target(wanted: tuple[str, str], feeds: Iterable[Mapping[str, Any]]) -> str | None:
        """The Atom subscription document (``output_dir``-relative) of that feed in the
        manifest's ``feeds``, or ``None`` when the manifest has no such feed (or no Atom)."""
        kind, key = wanted
        for feed in feeds:
            if feed.get("kind") != kind:
                continue
            name = feed.get("name")
            if kind != "all" and not (isinstance(name, str) and normalize_name(name) == key):
                continue
            files = feed.get("files")
            if isinstance(files, dict):
                for rel in files:
                    if isinstance(rel, str) and rel.endswith(_ATOM_SUFFIX):
                        return rel
            return None
        return None


def _rooted(path: str) -> str:
    """jekyll-feed's paths are relative to the site (``feed.xml`` or ``/feed.xml``)."""
    return "/" + path.lstrip("/")
