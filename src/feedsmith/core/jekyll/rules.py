"""Jekyll's URL, slug, category and defaults rules, as Jekyll 4 applies them to posts.

A blog moving from Jekyll keeps its subscribers only if every URL and id comes out exactly as
Jekyll spelled it, quirks included, so each rule here follows Jekyll's own code (named in each
docstring) rather than what its documentation suggests. ``defaults:`` scopes are in
:mod:`.defaults` (``defaults_for`` is re-exported here).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from feedsmith.core.jekyll.defaults import defaults_for as defaults_for  # the contract's name
from feedsmith.core.permalinks import quote_url

#: Jekyll's ``DATE_FILENAME_MATCHER``: only such files in ``_posts`` are posts.
POST_NAME_PATTERN = r"(\d{2,4}-\d{1,2}-\d{1,2})-([^/]*)(\.[^./]+)$"
#: Jekyll's permalink styles, for posts (``Configuration::STYLE_TO_PERMALINK``).
PERMALINK_STYLES: dict[str, str] = {
    "none": "/:categories/:title:output_ext",
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
}
#: Jekyll's default ``markdown_ext``: these become ``.html``.
MARKDOWN_EXTS = frozenset({".markdown", ".mkdown", ".mkdn", ".mkd", ".md"})
#: ``Page::HTML_EXTENSIONS``: pages whose URL follows the site's permalink style.
HTML_EXTS = frozenset({".html", ".xhtml", ".htm"})

SLUGIFY_MODES = ("raw", "default", "pretty", "ascii", "latin")
_PRETTY_KEEP = frozenset("._~!$&'()+,;=@")
_RUBY_SPACE = frozenset(" \t\n\v\f\r")  # Ruby's \s is ASCII whitespace only
#: ``I18n.transliterate``'s letters that NFKD does not take apart.
_LATIN_EXTRA = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
    }
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PLACEHOLDER = re.compile(r":([a-z_]+)")


class PermalinkError(ValueError):
    """A permalink naming a placeholder Jekyll does not know: Jekyll stops the build there."""


def permalink_pattern(value: str | None) -> str:
    """A ``permalink:`` value (a style name or a pattern) → the pattern for posts.

    As ``Configuration#style_to_permalink``: unset is the ``date`` style, a style name its
    pattern, anything else the pattern itself. (Only the site's top-level ``permalink`` is a
    style; ``collections.posts.permalink`` is always taken literally, as Jekyll does.)
    """
    if value is None or value == "":
        return PERMALINK_STYLES["date"]
    return PERMALINK_STYLES.get(value, value)


def _kept(char: str, mode: str) -> bool:
    """Whether ``char`` survives ``mode``'s character class (``Utils::SLUGIFY_*_REGEXP``)."""
    if mode == "raw":
        return char not in _RUBY_SPACE
    if mode == "ascii":
        return char.isascii() and char.isalnum()
    category = unicodedata.category(char)
    if category[0] in "LM" or category == "Nd":  # \p{L} \p{M} \p{Nd}
        return True
    return mode == "pretty" and char in _PRETTY_KEEP


def _transliterate(text: str) -> str:
    """An approximation of ``I18n.transliterate``: accents dropped, other letters → ``?``.

    I18n's table is not reproduced: NFKD plus a few letters NFKD keeps whole (``ß``, ``ø``…);
    a non-Latin character becomes ``?`` as with I18n, which the slug then drops.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LATIN_EXTRA))
    out = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        out.append(char if char.isascii() else "?")
    return "".join(out)


def slugify(text: str, mode: str = "default", *, cased: bool = False) -> str:
    """Jekyll's ``Utils.slugify`` (modes raw, default, pretty, ascii, latin, none).

    An unknown mode (``none``) returns the text, lowercased unless ``cased``. Otherwise runs of
    characters outside the mode's class become one ``-``, one leading and one trailing ``-`` go,
    and the result is lowercased unless ``cased``. Unicode letters stay in default and pretty.
    """
    mode = mode or "default"
    if mode not in SLUGIFY_MODES:
        return text if cased else text.lower()
    if mode == "latin":
        text = _transliterate(text)
    out: list[str] = []
    in_run = False
    for char in text:
        if _kept(char, mode):
            out.append(char)
            in_run = False
        elif not in_run:
            out.append("-")
            in_run = True
    slug = "".join(out)
    slug = slug.removeprefix("-").removesuffix("-")
    return slug if cased else slug.lower()


def titleize_slug(slug: str) -> str:
    """``Utils.titleize_slug``: the title Jekyll gives a post whose front matter has none."""
    words = slug.split("-")
    while words and words[-1] == "":  # Ruby's split drops trailing empty fields
        words.pop()
    return " ".join(w.capitalize() for w in words)


def _escape_value(value: str) -> str:
    """A placeholder's value as ``URL.escape_path`` leaves the characters that matter here:
    ``%``, ``#``, ``?`` escaped (they would change the URL's meaning); the rest is encoded
    once by :func:`feedsmith.core.permalinks.quote_url`."""
    if "%" in value:
        value = value.replace("%", "%25")
    return value.replace("#", "%23").replace("?", "%3F")


def sanitize_url(path: str) -> str:
    """``URL#sanitize_url``: a leading ``/``, ``..`` → ``/``, ``./`` dropped, ``//`` squeezed."""
    out = ("/" + path).replace("..", "/").replace("./", "")
    return re.sub(r"/{2,}", "/", out)


def cleaned_relative_path(rel: str, special_dir: str = "_posts") -> str:
    """``Document#cleaned_relative_path``: ``:path`` (no extension, ``_posts`` taken out)."""
    stem = rel[: len(rel) - len(_extname(rel))]
    return stem.replace(special_dir, "", 1).rstrip(".")


def _extname(path: str) -> str:
    """Ruby's ``File.extname``: the last name's ``.ext``; none for ``.profile``."""
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _categories_value(categories: Sequence[str]) -> str:
    """``UrlDrop#categories``: lowercased, deduplicated in order, joined by ``/``."""
    seen: dict[str, None] = {}
    for category in categories:
        seen.setdefault(str(category).lower(), None)
    return "/".join(seen)


def _placeholders(
    date: datetime, slug: str, categories: Sequence[str], rel: str, output_ext: str
) -> dict[str, Callable[[], str]]:
    """``Drops::UrlDrop``'s methods, computed only when the pattern names them."""
    base = rel.rsplit("/", 1)[-1]
    stem = base[: len(base) - len(_extname(base))]
    iso = date.isocalendar()
    return {
        "collection": lambda: "posts",
        "path": lambda: cleaned_relative_path(rel),
        "output_ext": lambda: output_ext,
        "name": lambda: slugify(stem),
        "title": lambda: slugify(slug, "pretty", cased=True),
        "slug": lambda: slugify(slug),
        "categories": lambda: _categories_value(categories),
        "slugified_categories": lambda: "/".join(
            dict.fromkeys(slugify(str(c)) for c in categories)
        ),
        "year": lambda: f"{date.year:04d}",
        "month": lambda: f"{date.month:02d}",
        "day": lambda: f"{date.day:02d}",
        "hour": lambda: f"{date.hour:02d}",
        "minute": lambda: f"{date.minute:02d}",
        "second": lambda: f"{date.second:02d}",
        "i_day": lambda: str(date.day),
        "i_month": lambda: str(date.month),
        "short_month": lambda: _MONTHS[date.month - 1][:3],
        "long_month": lambda: _MONTHS[date.month - 1],
        "short_year": lambda: f"{date.year % 100:02d}",
        "w_year": lambda: f"{iso[0]:04d}",
        "week": lambda: f"{iso[1]:02d}",
        "w_day": lambda: str(iso[2]),
        "short_day": lambda: _DAYS[date.weekday()][:3],
        "long_day": lambda: _DAYS[date.weekday()],
        "y_day": lambda: f"{date.timetuple().tm_yday:03d}",
    }


def check_pattern(pattern: str) -> None:
    """Raise :class:`PermalinkError` if ``pattern`` names a placeholder Jekyll does not have
    (so a site's ``permalink`` is refused when the config is read, not on every post)."""
    known = _placeholders(datetime(2000, 1, 1), "", (), "", "")
    for match in _PLACEHOLDER.finditer(pattern):
        if _winner(match.group(1), known) is None:
            raise PermalinkError(
                f"unknown placeholder :{match.group(1)} in the permalink {pattern!r}"
            )


def _winner(name: str, known: Mapping[str, object]) -> str | None:
    """``URL#generate_url_from_drop``: ``:month_`` is ``:month`` followed by ``_``."""
    for key in (name, name[:-1]) if name.endswith("_") else (name,):
        if key in known:
            return key
    return None


def post_url_path(
    pattern: str,
    *,
    date: datetime,
    slug: str,
    categories: Sequence[str],
    rel: str,
    output_ext: str = ".html",
) -> str:
    """The path Jekyll publishes a post at (``date`` already in the site's time zone); not
    quoted (:func:`feedsmith.core.permalinks.quote_url` does that once).

    ``slug``: the front matter's ``slug`` or the file name's (``2020-01-02-<slug>.md``), as
    given; ``categories``: the post's (folders above ``_posts`` first, then front matter);
    ``rel``: the file's path from the site root. Raises :class:`PermalinkError` for a
    placeholder Jekyll does not know (Jekyll's build stops there).
    """
    values = _placeholders(date, slug, categories, rel, output_ext)

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        key = _winner(name, values)
        if key is None:
            raise PermalinkError(f"unknown placeholder :{name} in the permalink {pattern!r}")
        return _escape_value(values[key]()) + name[len(key) :]

    return sanitize_url(_PLACEHOLDER.sub(fill, pattern))


def folder_categories(rel: str) -> tuple[str, ...]:
    """The folders above ``_posts`` in ``rel`` (``en/_posts/x.md`` → ``("en",)``).

    ``Document#categories_from_path``: everything before the first ``_posts`` (``_drafts``
    for a draft) split on ``/``; nothing for ``_posts/en/x.md``, whose ``en`` is no category.
    """
    special = "_posts" if "_posts" in rel else "_drafts"
    if rel.startswith(special):
        return ()
    head = rel.split(special, 1)[0]
    basename = rel.rsplit("/", 1)[-1]
    return tuple(c for c in head.split("/") if c and c not in (special, basename))


def posts_folder(rel: str) -> str | None:
    """The ``…/_posts`` folder ``rel`` is in (``en/_posts/2020/x.md`` → ``en/_posts``)."""
    parts = rel.split("/")[:-1]
    if "_posts" not in parts:
        return None
    return "/".join(parts[: parts.index("_posts") + 1])


# --- ids and pages: -------------------------------------------------------------------------


def _dirname(path: str) -> str:
    """Ruby's ``File.dirname`` for a URL path (a trailing ``/`` is not a name)."""
    trimmed = path.rstrip("/")
    if "/" not in trimmed:
        return "/" if path.startswith("/") else "."
    head = trimmed.rsplit("/", 1)[0]
    return head or "/"


def jekyll_feed_id(site_url: str, url_path: str, slug: str) -> str:
    """jekyll-feed's entry ``<id>``: ``post.id | absolute_url`` (the URL's folder + slug).

    ``Document#id`` is ``File.join(File.dirname(url), slug)`` with the slug as written (front
    matter or file name, not slugified); ``absolute_url`` puts ``site.url`` + ``baseurl`` before
    it (``site_url`` here already holds both) and percent-encodes it.
    """
    folder = _dirname(url_path)
    path = folder.rstrip("/") + "/" + str(slug).lstrip("/")
    return quote_url(site_url.rstrip("/") + path)


def _output_ext(ext: str) -> str:
    """The extension Jekyll's converters give a page's output."""
    lowered = ext.lower()
    if lowered in MARKDOWN_EXTS:
        return ".html"
    return {".scss": ".css", ".sass": ".css", ".coffee": ".js"}.get(lowered, ext)


def _permalink_suffix(template: str, style: str) -> str:
    """``Utils.add_permalink_suffix``: the page URL ends the way the site's style ends.

    A style *name* counts only for pretty, date, ordinal and none, as in Jekyll (``weekdate``
    adds nothing); a pattern counts by its trailing ``/`` or ``:output_ext``.
    """
    if style == "pretty":
        return template + "/"
    if style in ("date", "ordinal", "none"):
        return template + ":output_ext"
    if style.endswith("/"):
        template += "/"
    if style.endswith(":output_ext"):
        template += ":output_ext"
    return template


def page_url_path(rel: str, permalink: str | None, site_permalink: str) -> str:
    """A page's (non-post file's) URL path, for ``{% link %}`` to it.

    ``Page#url``: ``site_permalink`` is the site's ``permalink:`` as written (a style name or
    a pattern; unset is ``date``). The page's own ``permalink`` wins, with ``:path``,
    ``:basename`` and ``:output_ext`` filled in; else ``index.*`` is its folder, an HTML or
    Markdown page follows the site's style (``about.md`` → ``/about.html``, or ``/about/``
    when pretty), and any other file keeps its name. Not quoted.
    """
    folder, _, name = rel.rpartition("/")
    ext = _extname(name)
    basename = name[: len(name) - len(ext)].rstrip(".")
    output_ext = _output_ext(ext)
    if permalink and not permalink.endswith("/"):
        tail = permalink.rsplit("/", 1)[-1]
        if "." in tail[1:]:
            output_ext = tail[tail.rfind(".") :]
    if permalink:
        template = permalink
    elif output_ext not in HTML_EXTS:
        template = "/:path/:basename:output_ext"
    elif basename == "index":
        template = "/:path/"
    else:
        template = _permalink_suffix("/:path/:basename", site_permalink or "date")
    for key, value in (("path", "/" + folder), ("basename", basename), ("output_ext", output_ext)):
        if ":" not in template:
            break
        template = template.replace(":" + key, _escape_value(value))
    return sanitize_url(template)
