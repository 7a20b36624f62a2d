"""Reading a Jekyll site's own settings: ``_config*.yml``, ``_data/``, ``_includes/``.

A Jekyll blogger already wrote down the site's title, URL, time zone, permalinks and authors;
asking for them again in ``config.yaml`` would only let the two drift apart. So this reads them
as Jekyll does (config files merged in order, ``_data`` as nested keys) into what
:mod:`feedsmith.config` needs: a :class:`JekyllRead` of values for feedsmith's own keys, used
only where ``config.yaml`` is silent, and the :class:`~feedsmith.core.config.JekyllSite` the
parse takes. Every mistake names the site's file and key, as ``config.yaml``'s do.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from feedsmith.config.readers import no_unknown_keys, read_str, type_name
from feedsmith.core.config import ConfigError, JekyllSite
from feedsmith.core.jekyll.defaults import deep_merge
from feedsmith.core.jekyll.rules import PermalinkError, check_pattern, permalink_pattern

#: ``Configuration::DEFAULT_EXCLUDES``: Jekyll adds them to every site's ``exclude``.
DEFAULT_EXCLUDES = (
    ".sass-cache",
    ".jekyll-cache",
    ".ruby-lsp",
    "gemfiles",
    "Gemfile",
    "Gemfile.lock",
    "node_modules",
    "vendor/bundle/",
    "vendor/cache/",
    "vendor/gems/",
    "vendor/ruby/",
)
#: ``_data`` read at most this much in all (it goes to every worker with the config).
DATA_CAP_BYTES = 5 * 1024 * 1024
#: jekyll-feed's ``posts_limit`` when the site does not set it.
JEKYLL_FEED_LIMIT = 10
_SPEC_KEYS = {"root", "config"}
_DATA_EXTS = (".yml", ".yaml", ".json", ".csv", ".tsv")
_TAG_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class JekyllSpec:
    """What ``jekyll:`` (or ``--jekyll``) asks for: the site root and its config files."""

    root: Path
    config_files: tuple[str, ...] = ()  # () → _config.yml (or .yaml, .toml) as Jekyll finds it


@dataclass
class JekyllRead:
    """A site as read: values for feedsmith's keys (``None``: the site does not say) and the
    :class:`JekyllSite` (its ``site_json`` completed once the final values are known)."""

    site: JekyllSite
    config: dict[str, Any]  # the merged _config*.yml, JSON-safe
    data: dict[str, Any]
    title: str | None = None
    description: str | None = None
    url: str | None = None  # url + baseurl
    language: str | None = None
    author: str | None = None
    author_entry: dict[str, Any] | None = None  # a mapping `author:` → an authors-table entry
    timezone: str | None = None
    max_entries: int | None = None
    summary_only: bool = False
    authors: dict[str, Any] = field(default_factory=dict)  # _data/authors.*, raw
    authors_file: Path | None = None
    notes: list[str] = field(default_factory=list)


def parse_spec(value: Any, config_path: Path) -> JekyllSpec:
    """``jekyll: PATH`` or ``jekyll: {root: PATH, config: [files]}`` (paths relative to the
    config file; the config files relative to the site root, as ``jekyll --config`` run there)."""
    base = config_path.parent
    if isinstance(value, str):
        value = {"root": value}
    if not isinstance(value, dict):
        raise ConfigError(
            config_path,
            "jekyll",
            f"must be a path or a mapping of root, config, not {type_name(value)}",
        )
    no_unknown_keys(value, _SPEC_KEYS, "jekyll.", config_path)
    root = read_str(value, "root", "jekyll.", config_path, "")
    if not root:
        raise ConfigError(config_path, "jekyll.root", "is required (the Jekyll site's folder)")
    files = value.get("config")
    if files is None:
        names: list[str] = []
    elif isinstance(files, str):
        names = [f.strip() for f in files.split(",")]  # as `jekyll --config a.yml,b.yml`
    elif isinstance(files, list) and all(isinstance(f, str) for f in files):
        names = [f.strip() for f in files]
    else:
        raise ConfigError(
            config_path, "jekyll.config", f"must be a list of file names, not {type_name(files)}"
        )
    if any(not n for n in names):
        raise ConfigError(config_path, "jekyll.config", "a file name is empty")
    return JekyllSpec((base / Path(root).expanduser()).resolve(), tuple(names))


def read_site(spec: JekyllSpec, config_path: Path) -> JekyllRead:
    """Read the site at ``spec.root``; raise :class:`ConfigError` naming the file and key."""
    root = spec.root
    if not root.is_dir():
        raise ConfigError(config_path, "jekyll", f"Jekyll site folder not found: {root}")
    names = spec.config_files or (_default_config_name(root),)
    loaded = [(root / name, _load_config_file(root / name)) for name in names]
    merged: dict[str, Any] = {}
    for _, raw in loaded:
        merged = deep_merge(merged, raw)

    def file_of(key: str) -> Path:
        """The last config file that sets ``key`` (the one that won), for error messages."""
        for path, raw in reversed(loaded):
            if key.split(".")[0] in raw:
                return path
        return loaded[-1][0]

    config = _jsonable(merged)
    read = JekyllRead(site=JekyllSite(root=root, config_files=tuple(names)), config=config, data={})
    _site_fields(read, merged, file_of)
    _feed_fields(read, merged, file_of)
    read.data, skipped = _read_data(root / "_data")
    if skipped:
        read.notes.append(
            f"_data: over {DATA_CAP_BYTES // (1024 * 1024)} MB; not given to Liquid: "
            + ", ".join(skipped[:5])
            + (" …" if len(skipped) > 5 else "")
        )
    _data_authors(read, root)
    digest, count = includes_digest(root / "_includes", root)
    read.site = replace(read.site, includes_digest=digest, includes_count=count)
    return read


def _default_config_name(root: Path) -> str:
    """``Configuration#config_files``: ``_config.yml``, else ``.yaml``, else ``.toml``."""
    for name in ("_config.yml", "_config.yaml", "_config.toml"):
        if (root / name).is_file():
            return name
    raise ConfigError(root / "_config.yml", None, "not found (the Jekyll site's configuration)")


def _load_config_file(path: Path) -> dict[str, Any]:
    raw = _load_structured(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "the top level must be a mapping of keys")
    return raw


def _load_structured(path: Path) -> Any:
    """A YAML, JSON or TOML file's value; unreadable or invalid → :class:`ConfigError` with
    the line where the parser stopped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(path, None, f"not valid TOML: {exc}") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            raise ConfigError(path, None, f"not valid JSON (line {line})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ConfigError(
            path, None, f"not valid YAML{where}" + (f": {problem}" if problem else "")
        ) from None


def _scalar_text(raw: Mapping[str, Any], key: str, file: Path) -> str | None:
    """A text setting (``title: 2024``'s number reads as text, as Liquid prints it)."""
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise ConfigError(file, key, f"must be a string, not {type_name(value)}")
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    return text or None


def _site_fields(read: JekyllRead, raw: dict[str, Any], file_of: Any) -> None:
    """title, description, url + baseurl, lang, author, timezone, permalink, excerpts, exclude."""
    read.title = _scalar_text(raw, "title", file_of("title")) or _scalar_text(
        raw, "name", file_of("name")
    )
    read.description = _scalar_text(raw, "description", file_of("description"))
    read.language = _scalar_text(raw, "lang", file_of("lang"))
    baseurl = _baseurl(raw.get("baseurl"), file_of("baseurl"))
    url = _scalar_text(raw, "url", file_of("url"))
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                file_of("url"), "url", f"must be an absolute http(s) URL, not {url!r}"
            )
        read.url = url.rstrip("/") + baseurl
    _author(read, raw.get("author"), file_of("author"))
    zone = _scalar_text(raw, "timezone", file_of("timezone"))
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                file_of("timezone"), "timezone", f"unknown time zone {zone!r}"
            ) from None
        read.timezone = zone
    style, pattern = _permalink(raw, file_of)
    excerpt = raw.get("excerpt_separator", "\n\n")
    changes: dict[str, Any] = {
        "baseurl": baseurl,
        "permalink": pattern,
        "permalink_style": style,
        "excerpt_separator": "" if excerpt is None else str(excerpt),
        "exclude": _str_list(raw, "exclude", file_of("exclude"), ()) + DEFAULT_EXCLUDES,
        "include": _str_list(raw, "include", file_of("include"), (".htaccess",)),
        "defaults_json": _defaults_json(raw.get("defaults"), file_of("defaults")),
    }
    read.site = replace(read.site, **changes)


def _baseurl(value: Any, file: Path) -> str:
    """``baseurl`` as a path prefix: ``"/blog"`` or ``""`` (``/``, ``blog/`` accepted)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(file, "baseurl", f"must be a string, not {type_name(value)}")
    value = value.strip().strip("/")
    if not value:
        return ""
    if "://" in value or value.startswith("/") or any(c in value for c in "?#\\"):
        raise ConfigError(file, "baseurl", f"must be a path such as /blog, not {value!r}")
    return "/" + value


def _author(read: JekyllRead, value: Any, file: Path) -> None:
    """``author:`` a name (or a key of ``_data/authors``), or ``{name, email, uri|url}``."""
    if value is None:
        return
    if isinstance(value, dict):
        name = value.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(file, "author.name", "is required when author is a mapping")
        read.author = name.strip()
        read.author_entry = {k: v for k, v in value.items() if k in ("name", "email", "uri", "url")}
        return
    if isinstance(value, list):
        raise ConfigError(file, "author", "must be a name or a mapping, not a list")
    read.author = str(value).strip() or None


def _permalink(raw: dict[str, Any], file_of: Any) -> tuple[str, str]:
    """The site's style (for pages) and the posts' pattern: ``collections.posts.permalink``
    (taken literally, as Jekyll does) over ``permalink`` (a style or a pattern) over ``date``."""
    style = raw.get("permalink")
    if style is not None and not isinstance(style, str):
        raise ConfigError(file_of("permalink"), "permalink", "must be a style name or a pattern")
    style = (style or "date").strip()
    key, pattern = "permalink", permalink_pattern(style)
    collections = raw.get("collections")
    posts = collections.get("posts") if isinstance(collections, dict) else None
    if isinstance(posts, dict) and posts.get("permalink") is not None:
        key, pattern = "collections.posts.permalink", posts["permalink"]
        if not isinstance(pattern, str):
            raise ConfigError(file_of("collections"), key, "must be a pattern (a string)")
    try:
        check_pattern(pattern)
    except PermalinkError as exc:
        raise ConfigError(file_of(key), key, str(exc)) from None
    return style, pattern


def _str_list(
    raw: Mapping[str, Any], key: str, file: Path, default: tuple[str, ...]
) -> tuple[str, ...]:
    """``exclude``/``include``: Jekyll refuses anything but a list (InvalidConfigurationError)."""
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, list):
        raise ConfigError(file, key, f"must be a list, not {type_name(value)}")
    return tuple(str(v) for v in value if v is not None)


def _defaults_json(value: Any, file: Path) -> str:
    if value is None:
        return "[]"
    if not isinstance(value, list):
        raise ConfigError(file, "defaults", f"must be a list, not {type_name(value)}")
    return json.dumps(_jsonable(value), sort_keys=True, ensure_ascii=False)


def _listed(value: Any) -> list[Any]:
    """A list-valued key as Ruby's Array() reads it: nothing, one value, or the list."""
    if value is None or value is False:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _feed_fields(read: JekyllRead, raw: dict[str, Any], file_of: Any) -> None:
    """jekyll-feed's ``feed:`` options, as its generator.rb computes its feeds' paths."""
    plugins = [str(p) for key in ("plugins", "gems") for p in _listed(raw.get(key)) if p]
    feed = raw.get("feed")
    file = file_of("feed")
    if feed is None:
        feed = {}
    if not isinstance(feed, dict):
        raise ConfigError(file, "feed", f"must be a mapping, not {type_name(feed)}")
    uses = "jekyll-feed" in plugins or bool(feed)
    collections = feed.get("collections")
    posts_meta = collections.get("posts") if isinstance(collections, dict) else None
    posts_meta = posts_meta if isinstance(posts_meta, dict) else {}
    path = feed.get("path") or posts_meta.get("path") or "/feed.xml"
    if not isinstance(path, str):
        raise ConfigError(file, "feed.path", f"must be a string, not {type_name(path)}")
    aliases: list[tuple[str, str, str]] = []
    categories = feed.get("categories") or posts_meta.get("categories") or []
    if isinstance(categories, dict):
        categories = list(categories)
    if not isinstance(categories, list):
        raise ConfigError(file, "feed.categories", f"must be a list, not {type_name(categories)}")
    for category in dict.fromkeys(str(c) for c in categories if c is not None):
        aliases.append(("category", category, f"/feed/{category}.xml"))
    tags = feed.get("tags")
    tags_except: tuple[str, ...] = ()
    if tags:
        conf = tags if isinstance(tags, dict) else {}
        tags_path = conf.get("path") or "/feed/by_tag/"
        if not isinstance(tags_path, str):
            raise ConfigError(
                file, "feed.tags.path", f"must be a string, not {type_name(tags_path)}"
            )
        tags_path = "/" + tags_path.lstrip("/")
        tags_except = tuple(str(t) for t in _listed(conf.get("except")) if t is not None)
        only = conf.get("only")
        if only is None:  # every tag of the site: known only once the posts are read
            aliases.append(("tag", "*", tags_path))
        else:
            for tag in dict.fromkeys(str(t) for t in _listed(only) if t is not None):
                if tag not in tags_except and _TAG_NAME.fullmatch(tag):
                    aliases.append(("tag", tag, f"{tags_path}{tag}.xml"))
    limit = feed.get("posts_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(file, "feed.posts_limit", f"must be a positive integer, not {limit!r}")
    read.max_entries = limit if limit is not None else (JEKYLL_FEED_LIMIT if uses else None)
    read.summary_only = feed.get("excerpt_only") is True
    read.site = replace(
        read.site,
        feed_path="/" + path.strip().lstrip("/"),
        feed_aliases=tuple(aliases),
        feed_tags_except=tags_except,
        jekyll_feed=uses,
    )


def _data_authors(read: JekyllRead, root: Path) -> None:
    """``_data/authors.*``, the table jekyll-feed looks a post's ``author: key`` up in."""
    for name in ("authors.yml", "authors.yaml", "authors.json"):
        path = root / "_data" / name
        if not path.is_file():
            continue
        table = _load_structured(path)
        if table is None:
            return
        if not isinstance(table, dict):
            read.notes.append(f"_data/{name}: a {type_name(table)}, not a table of authors; unused")
            return
        read.authors, read.authors_file = table, path
        return


def _read_data(folder: Path) -> tuple[dict[str, Any], list[str]]:
    """``DataReader``: every data file under ``_data``, folders as nested keys, symlinks
    skipped (as Jekyll does in safe mode); past :data:`DATA_CAP_BYTES` files are skipped."""
    data: dict[str, Any] = {}
    skipped: list[str] = []
    if not folder.is_dir() or folder.is_symlink():
        return data, skipped
    budget = [DATA_CAP_BYTES]

    def walk(current: Path, into: dict[str, Any]) -> None:
        for entry in sorted(current.iterdir(), key=lambda p: p.name):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                walk(entry, into.setdefault(_data_key(entry.name), {}))
            elif entry.suffix.lower() in _DATA_EXTS:
                size = entry.stat().st_size
                if size > budget[0]:
                    skipped.append(entry.relative_to(folder).as_posix())
                    continue
                budget[0] -= size
                into[_data_key(entry.stem)] = _jsonable(_read_data_file(entry))

    walk(folder, data)
    return data, skipped


def _read_data_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv"):
        return _load_structured(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read: {exc}") from None
    delimiter = "\t" if suffix == ".tsv" else ","
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def _data_key(name: str) -> str:
    """``DataReader#sanitize_filename``: ASCII word characters, spaces, hyphens; spaces → ``_``."""
    name = re.sub(r"[^\w\s-]+", "", name, flags=re.ASCII).strip()
    return re.sub(r"\s+", "_", name)


def includes_digest(folder: Path, root: Path) -> tuple[str, int]:
    """sha256 over (name, bytes) of every file under ``_includes`` in name order, and their
    count; a symlink leading out of the site is left out (it could never be included)."""
    digest = hashlib.sha256()
    if not folder.is_dir():
        return "", 0
    site = root.resolve()
    files: list[tuple[str, Path]] = []
    for current, dirs, names in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in names:
            path = Path(current) / name
            if path.is_symlink() and not path.resolve().is_relative_to(site):
                continue
            files.append((path.relative_to(folder).as_posix(), path))
    files.sort()
    count = 0
    for rel, path in files:
        try:
            with path.open("rb") as handle:
                digest.update(rel.encode() + b"\0")
                for chunk in iter(lambda: handle.read(1 << 16), b""):
                    digest.update(chunk)
                digest.update(b"\0")
                count += 1
        except OSError:
            continue  # unreadable: an include of it will say so
    return digest.hexdigest()[:16], count


def _jsonable(value: Any) -> Any:
    """YAML's dates and times as ISO strings, keys as strings: what JSON (and Liquid) can hold."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def site_json(read: JekyllRead, *, url: str, title: str, description: str) -> str:
    """What Liquid sees as ``site``: the merged config, ``data``, and the final url/title."""
    baseurl = read.site.baseurl
    origin = url[: -len(baseurl)] if baseurl and url.endswith(baseurl) else url
    site = dict(read.config)
    site.update(data=read.data, url=origin, baseurl=baseurl, title=title, description=description)
    return json.dumps(site, sort_keys=True, ensure_ascii=False)
