"""Typed readers for one mapping's keys, each mistake naming the key and the file.

Shared by ``config.yaml`` (:mod:`feedsmith.config`) and a Jekyll site's files
(:mod:`feedsmith.config.jekyll`), so a wrong type in either reads the same way and names the
file the person has to open.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from feedsmith.core.config import ConfigError
from feedsmith.core.model import Author
from feedsmith.core.urlsafety import is_allowed_url

AUTHOR_KEYS = {"name", "email", "url", "uri"}


def authors_table(
    table: Mapping[Any, Any],
    file: Path,
    prefix: str,
    site_url: str,
    *,
    extra_keys_ok: bool = False,
) -> tuple[tuple[str, Author], ...]:
    """``{key: {name, email, url}}``; a key's value may also be just the name.

    ``url`` may be a path (posts resolve it against ``site.url``); one that is not an allowed
    URL once resolved (``javascript:…``) is an error here rather than a warning on every post
    that names the author. ``extra_keys_ok``: a Jekyll site's ``_data/authors.yml`` carries
    keys for its own templates (``twitter``, ``bio``), which are not mistakes.
    """
    out: list[tuple[str, Author]] = []
    for key, value in table.items():
        where = f"{prefix}{key}"
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict):
            raise ConfigError(file, where, f"must be a mapping or a name, not {type_name(value)}")
        if not extra_keys_ok:
            no_unknown_keys(value, AUTHOR_KEYS, where + ".", file)
        name = read_str(value, "name", where + ".", file, "")
        if not name:
            raise ConfigError(file, where + ".name", "is required")
        email = read_str(value, "email", where + ".", file, "") or None
        field = "uri" if value.get("uri") else "url"
        url = read_str(value, field, where + ".", file, "")
        if url and not is_allowed_url(resolved_url(site_url, url)):
            raise ConfigError(
                file, f"{where}.{field}", f"must be an http(s) or mailto URL or a path, not {url!r}"
            )
        out.append((str(key), Author(name, email, url or None)))
    return tuple(out)


def resolved_url(site_url: str, url: str) -> str:
    """``url`` resolved against the site as :mod:`feedsmith.core.posts` resolves an author's uri."""
    try:
        return urljoin(site_url + "/", url.strip())
    except ValueError:  # a broken IPv6 host such as "//[x"
        return url


def no_unknown_keys(raw: Mapping[str, Any], allowed: set[str], prefix: str, path: Path) -> None:
    for key in raw:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(path, f"{prefix}{key}", f"unknown key (known: {known})")


def section(raw: Mapping[str, Any], key: str, path: Path, prefix: str = "") -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(path, prefix + key, f"must be a mapping, not {type_name(value)}")
    return value


def read_str(raw: Mapping[str, Any], key: str, prefix: str, path: Path, default: str) -> str:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ConfigError(path, prefix + key, f"must be a string, not {type_name(value)}")
    return value.strip()


def read_choice(
    raw: Mapping[str, Any], key: str, prefix: str, path: Path, choices: tuple[str, ...]
) -> str:
    """One of ``choices`` (the first is the default); anything else names the key and them."""
    value = read_str(raw, key, prefix, path, choices[0])
    if value not in choices:
        allowed = " or ".join(f"'{choice}'" for choice in choices)
        raise ConfigError(path, prefix + key, f"must be {allowed}, not {value!r}")
    return value


def read_int(
    raw: Mapping[str, Any],
    key: str,
    prefix: str,
    path: Path,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(path, prefix + key, f"must be an integer, not {type_name(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(path, prefix + key, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(path, prefix + key, f"must be at most {maximum}, not {value}")
    return value


def read_number(
    raw: Mapping[str, Any],
    key: str,
    prefix: str,
    path: Path,
    default: float,
    minimum: float,
    maximum: float,
) -> float:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(path, prefix + key, f"must be a number, not {type_name(value)}")
    if not minimum <= value <= maximum:
        raise ConfigError(path, prefix + key, f"must be between {minimum:g} and {maximum:g}")
    return float(value)


def read_path(raw: Mapping[str, Any], key: str, base: Path, path: Path, default: str) -> Path:
    value = read_str(raw, key, "", path, default)
    if not value:
        raise ConfigError(path, key, "must not be empty")
    return (base / Path(value).expanduser()).resolve()


def type_name(value: object) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
