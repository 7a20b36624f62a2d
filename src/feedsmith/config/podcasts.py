"""``podcasts:``: the feeds that are also podcast shows, read into :class:`PodcastShow`.

Only what makes the file unusable is an error here (exit 2, naming ``podcasts[i].key`` and the
file): a wrong type, an unknown key, a feed that is not ``all``/``<kind>/<name>``, a malformed
URL, e-mail or GUID. What Apple would reject but feedsmith can still publish (an unknown
category, no ``explicit``, no cover) is kept and reported by ``feedsmith check``: a podcaster
should be able to publish a draft show and fix the details while it is private.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsmith.config.readers import no_unknown_keys, read_str, type_name
from feedsmith.core.config import ConfigError, PodcastShow

__all__ = ["read_podcasts"]

_KINDS = ("category", "tag", "author")
_KEYS = {f.name for f in fields(PodcastShow)} - {"owner_name", "owner_email"} | {"owner"}


def read_podcasts(raw: Any, path: Path, formats: tuple[str, ...]) -> tuple[PodcastShow, ...]:
    """The ``podcasts:`` list (``None``: no shows); one show per feed."""
    if raw is None or raw == []:
        return ()
    if "rss" not in formats:
        raise ConfigError(path, "podcasts", "needs rss in feed.formats (a show is an RSS feed)")
    if not isinstance(raw, list):
        raise ConfigError(path, "podcasts", f"must be a list of shows, not {type_name(raw)}")
    shows: list[PodcastShow] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        show = _show(item, f"podcasts[{i}]", path)
        if show.feed in seen:
            raise ConfigError(path, f"podcasts[{i}].feed", f"{show.feed!r} is already a show")
        seen.add(show.feed)
        shows.append(show)
    return tuple(shows)


def _show(item: Any, where: str, path: Path) -> PodcastShow:
    if not isinstance(item, dict):
        raise ConfigError(path, where, f"must be a mapping, not {type_name(item)}")
    pre = where + "."
    no_unknown_keys(item, _KEYS, pre, path)
    feed = _feed(read_str(item, "feed", pre, path, ""), pre, path)

    def text(key: str) -> str | None:
        value = read_str(item, key, pre, path, "").strip()
        return value or None

    owner_name = owner_email = None
    owner = item.get("owner")
    if owner is not None:
        if not isinstance(owner, dict):
            raise ConfigError(path, pre + "owner", f"must be a mapping, not {type_name(owner)}")
        no_unknown_keys(owner, {"name", "email"}, pre + "owner.", path)
        owner_name = read_str(owner, "name", pre + "owner.", path, "").strip() or None
        owner_email = read_str(owner, "email", pre + "owner.", path, "").strip() or None
        if owner_email is not None and not _email(owner_email):
            raise ConfigError(path, pre + "owner.email", f"not an e-mail address: {owner_email!r}")
    locked = _bool(item, "locked", pre, path)
    if locked is not None and owner_email is None:
        raise ConfigError(
            path, pre + "locked", "needs owner.email (podcast:locked names the owner's e-mail)"
        )
    kind = text("type") or "episodic"
    if kind not in ("episodic", "serial"):
        raise ConfigError(path, pre + "type", f"must be 'episodic' or 'serial', not {kind!r}")
    new_feed_url = text("new_feed_url")
    if new_feed_url is not None:
        _http_url(new_feed_url, pre + "new_feed_url", path)
    guid = text("guid")
    if guid is not None:
        import uuid  # start-up cost only: uuid imports platform, and few shows set a GUID

        try:
            guid = str(uuid.UUID(guid))
        except ValueError:
            raise ConfigError(path, pre + "guid", f"not a UUID: {guid!r}") from None
    return PodcastShow(
        feed=feed,
        title=text("title"),
        description=text("description"),
        author=text("author"),
        owner_name=owner_name,
        owner_email=owner_email,
        image=text("image"),
        language=text("language"),
        categories=_categories(item.get("categories"), pre + "categories", path),
        explicit=_bool(item, "explicit", pre, path),
        type=kind,  # type: ignore[arg-type]
        copyright=text("copyright"),
        locked=locked,
        funding=_funding(item.get("funding"), pre + "funding", path),
        complete=bool(_bool(item, "complete", pre, path)),
        new_feed_url=new_feed_url,
        guid=guid,
    )


def _feed(value: str, pre: str, path: Path) -> str:
    value = value.strip().strip("/")
    if value == "all":
        return value
    kind, _, name = value.partition("/")
    if kind not in _KINDS or not name.strip():
        raise ConfigError(
            path,
            pre + "feed",
            f"must be all, category/<name>, tag/<name> or author/<name>, not {value!r}",
        )
    return f"{kind}/{name.strip()}"


def _bool(raw: dict[str, Any], key: str, pre: str, path: Path) -> bool | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ConfigError(path, pre + key, f"must be true or false, not {type_name(value)}")
    return value


def _categories(raw: Any, where: str, path: Path) -> tuple[tuple[str, str], ...]:
    """``["Technology", {"Arts": "Books"}, {"Science": ["Physics", "Nature"]}]``."""
    if raw is None:
        return ()
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(path, where, f"must be a list of categories, not {type_name(raw)}")
    out: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            out.append((item.strip(), ""))
            continue
        if not isinstance(item, dict) or not item:
            raise ConfigError(
                path, f"{where}[{i}]", "must be a category name or {category: subcategories}"
            )
        for parent, subs in item.items():
            if not isinstance(parent, str) or not parent.strip():
                raise ConfigError(path, f"{where}[{i}]", f"not a category name: {parent!r}")
            subs = [subs] if isinstance(subs, str) else subs
            if subs is None:
                subs = []
            if not isinstance(subs, list) or not all(isinstance(s, str) for s in subs):
                raise ConfigError(
                    path, f"{where}[{i}].{parent}", "must be a subcategory or a list of them"
                )
            if not subs:
                out.append((parent.strip(), ""))
            out.extend((parent.strip(), s.strip()) for s in subs if s.strip())
    return tuple(dict.fromkeys(out))


def _funding(raw: Any, where: str, path: Path) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(path, where, f"must be a list of {{url, text}}, not {type_name(raw)}")
    out: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        pre = f"{where}[{i}]."
        if not isinstance(item, dict):
            raise ConfigError(path, f"{where}[{i}]", f"must be a mapping, not {type_name(item)}")
        no_unknown_keys(item, {"url", "text"}, pre, path)
        url = read_str(item, "url", pre, path, "").strip()
        _http_url(url, pre + "url", path)
        out.append((url, read_str(item, "text", pre, path, "").strip()))
    return tuple(out)


def _http_url(url: str, key: str, path: Path) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(path, key, f"must be an absolute http(s) URL, not {url!r}")


def _email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in value))
