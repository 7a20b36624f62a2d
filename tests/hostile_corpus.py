"""A hostile blog for the feed validity tests (issue 11): every name and title a real blog
throws at a feed generator that a validator then complains about.

:func:`write_hostile_site` writes the posts and a config file into a folder; the tests build it
with :func:`feedsmith.pipeline.build_site` and run every published file through ``validity``.
Each post says in ``why`` what it is there to provoke.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SITE: dict[str, Any] = {
    "site": {
        # plain text with '&' and '<' in every feed title, and HTML-ish text in the OPML
        "title": "Bits & <Bytes>",
        "url": "https://blog.example.com",
        "description": "Notes on AT&T, x < y and a<b",
        "language": "ja",
        "author": "編集部 & friends",
    },
    "posts_dir": "posts",
    "output_dir": "feeds",
    "state_dir": ".feedsmith",
    "timezone": "Asia/Tokyo",
    "permalink": "/:categories/:year/:month/:day/:title.html",
    "id_authority": "blog.example.com",
}


def _post(meta: dict[str, Any], body: str = "Body text.\n") -> str:
    # JSON is YAML: every string is written quoted and escaped, exactly as given.
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in meta.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body


POSTS: dict[str, str] = {
    # non-ASCII slug, category and tags: tag ids and URLs must percent-encode them
    "2025-01-05-日本語の投稿.md": _post(
        {
            "why": "Japanese slug, category and tags",
            "title": "日本語のタイトル：テスト",
            "date": "2025-01-05 10:00:00 +0900",
            "categories": ["技術ブログ"],
            "tags": ["生成AI", "機械 学習"],
            "author": {"name": "山田 太郎", "email": "taro@example.jp"},
        },
        "本文です。**太字**もあります。\n",
    ),
    # '#' in a category: an unencoded one ends the path of the post URL
    "2025-01-06-csharp.md": _post(
        {
            "why": "'#' in category and tag names",
            "title": "C# tips & tricks",
            "date": "2025-01-06 10:00:00 +0900",
            "categories": ["C#"],
            "tags": ["F#", ".NET"],
        }
    ),
    # '?' and '&' in a category: an unencoded '?' starts a query
    "2025-01-07-qa.md": _post(
        {
            "why": "'?' and '&' in a category name",
            "title": "Q&A: why does x < y?",
            "date": "2025-01-07 10:00:00 +0900",
            "categories": ["Q&A?"],
            "tags": ["Q&A"],
        }
    ),
    "2025-01-08-slash.md": _post(
        {
            "why": "'/' and '..' in names",
            "title": "Paths a/b",
            "date": "2025-01-08 10:00:00 +0900",
            "categories": ["a/b"],
            "tags": ["a/b", "../etc"],
        }
    ),
    # a raw '%' in a URL is an invalid percent escape
    "2025-01-09-percent.md": _post(
        {
            "why": "'%' in names",
            "title": "100% sure",
            "date": "2025-01-09 10:00:00 +0900",
            "categories": ["100%"],
            "tags": ["100%", "50% off"],
        }
    ),
    # tags with spaces, emoji and markup; plain-text RSS categories with '&' and '<'
    "2025-01-10-tag-soup.md": _post(
        {
            "why": "tags with spaces, emoji, markup and entities",
            "title": "Tag soup",
            "date": "2025-01-10 10:00:00 +0900",
            "categories": ["Misc"],
            "tags": ["machine learning", "🚀 launch", "<script>", "AT&T", "x < y", "a<b", "&amp;"],
        }
    ),
    # '&' and '<' in plain-text titles (RSS: "Encode & and <"); no end tag (that one is
    # flagged by the validator in any RSS title, whatever the encoding)
    "2025-01-11-att.md": _post(
        {
            "why": "'&' and '<' in a title",
            "title": "AT&T and T-Mobile: x < y && a<b",
            "date": "2025-01-11 10:00:00 +0900",
            "categories": ["Misc"],
        }
    ),
    "2025-01-12-script.md": _post(
        {
            "why": "a start tag in a title",
            "title": "I <3 <script> tags",
            "date": "2025-01-12 10:00:00 +0900",
            "categories": ["Misc"],
        }
    ),
    # the title's text really is "&amp;" and "&copy;": entity-like text in plain text
    "2025-01-13-entities.md": _post(
        {
            "why": "entity-like text in a title",
            "title": "Use &amp; not & — &copy; 2025",
            "date": "2025-01-13 10:00:00 +0900",
            "categories": ["Misc"],
        }
    ),
    # U+FFFD is kept (docs/posts.md); the validator warns "title contains bad characters"
    "2025-01-14-fffd.md": _post(
        {
            "why": "U+FFFD in a title",
            "title": "Broken \ufffd text",
            "date": "2025-01-14 10:00:00 +0900",
            "categories": ["Misc"],
        }
    ),
    # several authors: RSS must use dc:creator only, never with <author>
    "2025-01-15-multi-author.md": _post(
        {
            "why": "several authors, some with e-mail",
            "title": "Written by three",
            "date": "2025-01-15 10:00:00 +0900",
            "categories": ["Misc"],
            "authors": [
                {"name": "Alice", "email": "alice@example.com"},
                {"name": "Bob"},
                "Carol",
            ],
        }
    ),
    # one author with an e-mail: RSS <author> "email (Name)"
    "2025-01-16-one-author.md": _post(
        {
            "why": "one author with e-mail and a non-ASCII homepage",
            "title": "Written by one",
            "date": "2025-01-16 10:00:00 +0900",
            "categories": ["Misc"],
            "author": {
                "name": "Dave & Sons",
                "email": "dave@example.com",
                "uri": "https://例え.jp/~dave/プロフィール",
            },
        }
    ),
    # no date at all (file name without one): invalid, skipped; the feeds must stay valid
    "no-date-at-all.md": _post({"why": "no date", "title": "Undated"}),
    # a date without a time
    "2025-01-17-date-only.md": _post(
        {
            "why": "date without a time",
            "title": "Date only",
            "date": "2025-01-17",
            "categories": ["Misc"],
        }
    ),
    # a permalink with spaces, non-ASCII and a raw '%'
    "2025-01-18-weird-permalink.md": _post(
        {
            "why": "permalink with spaces, non-ASCII and '%'",
            "title": "Weird permalink",
            "date": "2025-01-18 10:00:00 +0900",
            "categories": ["Misc"],
            "permalink": "/weird path/ünïcödé/100%/",
        }
    ),
    # a slug with spaces, '&' and non-ASCII: the tag id's specific must encode them
    "2025-01-19-slug.md": _post(
        {
            "why": "slug with spaces, '&', '#' and non-ASCII",
            "title": "Slugged",
            "date": "2025-01-19 10:00:00 +0900",
            "categories": ["Misc"],
            "slug": "Ünïcode Slug & #more",
        }
    ),
    # ids given by the post
    "2025-01-20-urn.md": _post(
        {
            "why": "own urn:uuid id",
            "title": "Own id",
            "date": "2025-01-20 10:00:00 +0900",
            "categories": ["Misc"],
            "id": "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        }
    ),
    "2025-01-21-guid-url.md": _post(
        {
            "why": "own guid that is a URL",
            "title": "Own guid",
            "date": "2025-01-21 10:00:00 +0900",
            "categories": ["Misc"],
            "guid": "https://blog.example.com/p/21",
        }
    ),
    # markup in an excerpt: the Atom summary is type="text"
    "2025-01-22-excerpt.md": _post(
        {
            "why": "markup and '&' in the excerpt",
            "title": "Excerpt markup",
            "date": "2025-01-22 10:00:00 +0900",
            "categories": ["Misc"],
            "excerpt": "x < y & z, <b>bold</b> and &amp;",
        }
    ),
    # nothing to show: no body, no excerpt
    "2025-01-23-empty.md": _post(
        {
            "why": "empty body, no excerpt",
            "title": "Empty",
            "date": "2025-01-23 10:00:00 +0900",
            "categories": ["Misc"],
        },
        "",
    ),
    # an image path with a space and non-ASCII
    "2025-01-24-image.md": _post(
        {
            "why": "image path with a space and non-ASCII",
            "title": "Image",
            "date": "2025-01-24 10:00:00 +0900",
            "categories": ["Misc"],
            "image": "/img/写真 1.png",
        },
        "![a photo](写真 2.png) and [a link](../other page.html)\n",
    ),
}

#: Two date-only posts of one day: the same atom:updated (the validator's DuplicateUpdated).
SAME_DAY_POSTS: dict[str, str] = {
    "2025-02-01-first.md": _post({"title": "First of the day", "categories": ["Daily"]}),
    "2025-02-01-second.md": _post({"title": "Second of the day", "categories": ["Daily"]}),
}


def write_hostile_site(root: Path, posts: dict[str, str] | None = None) -> Path:
    """Write the hostile posts (default :data:`POSTS`) and a config under ``root``; returns
    the config file's path."""
    (root / "posts").mkdir(parents=True, exist_ok=True)
    for name, text in (POSTS if posts is None else posts).items():
        (root / "posts" / name).write_text(text, "utf-8")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(SITE, allow_unicode=True), "utf-8")
    return config
