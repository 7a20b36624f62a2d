"""Reading ``config.yaml`` into the one validated :class:`~feedsmith.core.config.Config`.

The YAML file is read and checked exactly once, at start-up, and turned into frozen dataclasses.
Everything downstream takes a :class:`Config` (or the part of it that it needs) instead of a dict,
so a typo in ``config.yaml`` is caught here, with the key and the file named, rather than as a
``KeyError`` deep inside a build an hour later.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from feedsmith.config.feed import read_feed
from feedsmith.config.podcasts import read_podcasts
from feedsmith.config.readers import authors_table
from feedsmith.config.readers import no_unknown_keys as _no_unknown_keys
from feedsmith.config.readers import read_int as _int
from feedsmith.config.readers import read_number as _number
from feedsmith.config.readers import read_path as _path
from feedsmith.config.readers import read_str as _str
from feedsmith.config.readers import section as _section
from feedsmith.config.readers import type_name as _type_name
from feedsmith.config.stats import read_stats, read_trusted_proxies
from feedsmith.core.config import (
    DEFAULT_PERMALINK,
    Config,
    ConfigError,
    JekyllSite,
    LeaseConfig,
    PublishConfig,
    S3Config,
    ScheduleConfig,
    ServerConfig,
    SiteConfig,
    WebSubConfig,
)
from feedsmith.core.model import Author
from feedsmith.core.names import (
    CONFIG_ENV_VAR,
    DEFAULT_OUTPUT_DIR,
    DEFAULT_POSTS_DIR,
    DEFAULT_STATE_DIR,
)

if TYPE_CHECKING:  # types only: a site without jekyll: never imports its readers (below)
    from feedsmith.config.jekyll import JekyllRead

ENV_VAR = CONFIG_ENV_VAR  # defined in core.names, which the early answer reads too
#: Set (to 1) in the environment of `serve --from-bucket` replicas and their web workers.
FROM_BUCKET_ENV_VAR = "FEEDSMITH_FROM_BUCKET"


_TOP_KEYS = {
    "site",
    "posts_dir",
    "output_dir",
    "state_dir",
    "timezone",
    "permalink",
    "id_authority",
    "max_post_bytes",
    "feed",
    "schedule",
    "server",
    "authors",
    "templates_dir",
    "publish",
    "websub",
    "jekyll",
    "media_dir",
    "stats",
    "podcasts",
}


def resolve_config_path(cli_value: str | None, environ: dict[str, str] | None = None) -> Path:
    """``-c`` wins over ``$FEEDSMITH_CONFIG``, which wins over ``./config.yaml``."""
    env = os.environ if environ is None else environ
    return Path(cli_value or env.get(ENV_VAR) or "config.yaml")


def load_config(
    path: Path | str,
    *,
    serve_only: bool = False,
    jekyll: Path | None = None,
    optional: bool = False,
) -> Config:
    """Read and validate a config file; raise :class:`ConfigError` naming key and file.

    ``serve_only``: for ``serve --from-bucket`` replicas, which read no posts, so the posts
    folder need not exist on their machine (``publish.s3`` must be set instead).
    ``jekyll``: ``--jekyll PATH``, a site root that replaces the file's ``jekyll:`` (and its
    ``posts_dir``). ``optional``: a missing file is an empty one (defaults, paths relative to
    its folder): ``feedsmith build --jekyll .`` needs no config file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        if optional:
            return config_from_mapping({}, path, serve_only=serve_only, jekyll=jekyll)
        raise ConfigError(path, None, "config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read config file: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(path, None, f"not valid YAML{line}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, None, "the top level must be a mapping of keys")
    return config_from_mapping(raw, path, serve_only=serve_only, jekyll=jekyll)


def config_from_mapping(
    raw: dict[str, Any], path: Path, *, serve_only: bool = False, jekyll: Path | None = None
) -> Config:
    """Validate an already-parsed mapping (split out so tests need not write files)."""
    path = Path(path).absolute()
    base = path.parent
    _no_unknown_keys(raw, _TOP_KEYS, "", path)
    given = raw
    site_read = _read_jekyll(raw, path, jekyll, serve_only)
    if site_read is not None:
        raw = _with_site_values(raw, site_read)

    site_raw = _section(raw, "site", path)
    _no_unknown_keys(site_raw, {f.name for f in fields(SiteConfig)}, "site.", path)
    site = SiteConfig(
        title=_str(site_raw, "title", "site.", path, SiteConfig.title),
        url=_url(site_raw, path),
        description=_str(site_raw, "description", "site.", path, ""),
        language=_str(site_raw, "language", "site.", path, "en"),
        author=_str(site_raw, "author", "site.", path, ""),
    )

    if site_read is not None:
        posts_dir = site_read.site.root
    else:
        posts_dir = _path(raw, "posts_dir", base, path, DEFAULT_POSTS_DIR)
    if not serve_only and not posts_dir.is_dir():
        raise ConfigError(path, "posts_dir", f"directory not found: {posts_dir}")
    output_dir = _path(raw, "output_dir", base, path, DEFAULT_OUTPUT_DIR)
    state_dir = _path(raw, "state_dir", base, path, DEFAULT_STATE_DIR)
    media_dir = _path(raw, "media_dir", base, path, "media") if "media_dir" in raw else None
    if media_dir is not None and not serve_only and not media_dir.is_dir():
        raise ConfigError(path, "media_dir", f"directory not found: {media_dir}")

    timezone = _str(raw, "timezone", "", path, "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(path, "timezone", f"unknown time zone {timezone!r}") from None

    permalink = _str(raw, "permalink", "", path, DEFAULT_PERMALINK)
    if not permalink.startswith("/"):
        raise ConfigError(path, "permalink", "must start with '/'")

    default_authority = urlsplit(site.url).hostname or "localhost"
    id_authority = _str(raw, "id_authority", "", path, default_authority) or default_authority
    max_post_bytes = _int(raw, "max_post_bytes", "", path, 10 * 1024 * 1024, minimum=1)

    feed = read_feed(_section(raw, "feed", path), path)

    schedule_raw = _section(raw, "schedule", path)
    _no_unknown_keys(schedule_raw, {f.name for f in fields(ScheduleConfig)}, "schedule.", path)
    watch = schedule_raw.get("watch", True)
    if not isinstance(watch, bool):
        raise ConfigError(path, "schedule.watch", f"must be true or false, not {_type_name(watch)}")
    schedule = ScheduleConfig(
        interval_seconds=_int(schedule_raw, "interval_seconds", "schedule.", path, 300, minimum=1),
        watch=watch,
        settle_ms=_int(
            schedule_raw, "settle_ms", "schedule.", path, 300, minimum=0, maximum=60_000
        ),
    )

    server_raw = _section(raw, "server", path)
    _no_unknown_keys(server_raw, {f.name for f in fields(ServerConfig)}, "server.", path)
    server = ServerConfig(
        host=_str(server_raw, "host", "server.", path, "127.0.0.1"),
        port=_int(server_raw, "port", "server.", path, 8080, minimum=0, maximum=65535),
        workers=_int(server_raw, "workers", "server.", path, 2, minimum=1),
        max_body_bytes=_int(
            server_raw, "max_body_bytes", "server.", path, 65536, minimum=1024, maximum=1 << 30
        ),
        body_timeout_seconds=_number(
            server_raw, "body_timeout_seconds", "server.", path, 10.0, 0.1, 3600.0
        ),
        trusted_proxies=read_trusted_proxies(server_raw, path),
    )

    authors = authors_table(_section(raw, "authors", path), path, "authors.", site.url)
    templates_dir = None
    if raw.get("templates_dir") is not None:
        templates_dir = _path(raw, "templates_dir", base, path, "")
        if not templates_dir.is_dir():
            raise ConfigError(path, "templates_dir", f"directory not found: {templates_dir}")
    websub = _websub(raw, path)

    jekyll_site = None
    if site_read is not None:
        authors, site = _site_authors(site_read, given, authors, site)
        jekyll_site = _jekyll_site(site_read, given, path, site, timezone)
    return Config(
        jekyll=jekyll_site,
        path=path,
        site=site,
        posts_dir=posts_dir,
        output_dir=output_dir,
        state_dir=state_dir,
        timezone=timezone,
        permalink=permalink,
        id_authority=id_authority,
        max_post_bytes=max_post_bytes,
        feed=feed,
        schedule=schedule,
        server=server,
        authors=authors,
        templates_dir=templates_dir,
        publish=_publish(raw, path),
        websub=websub,
        media_dir=media_dir,
        stats=read_stats(raw, path),
        podcasts=read_podcasts(raw.get("podcasts"), path, feed.formats),
    )


def _websub(raw: dict[str, Any], path: Path) -> WebSubConfig:
    ws_raw = _section(raw, "websub", path)
    _no_unknown_keys(ws_raw, {f.name for f in fields(WebSubConfig)}, "websub.", path)
    hubs_raw = ws_raw.get("hubs") or []
    if not isinstance(hubs_raw, list):
        raise ConfigError(
            path, "websub.hubs", f"must be a list of URLs, not {_type_name(hubs_raw)}"
        )
    hubs: list[str] = []
    for hub in hubs_raw:
        parts = urlsplit(hub) if isinstance(hub, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(path, "websub.hubs", f"not an absolute http(s) URL: {hub!r}")
        if hub.strip() not in hubs:
            hubs.append(hub.strip())
    flags = {}
    for key in ("builtin", "allow_private_callbacks"):
        value = ws_raw.get(key, False)
        if not isinstance(value, bool):
            raise ConfigError(
                path, f"websub.{key}", f"must be true or false, not {_type_name(value)}"
            )
        flags[key] = value
    lease_raw = ws_raw.get("lease_seconds") or {}
    if not isinstance(lease_raw, dict):
        raise ConfigError(path, "websub.lease_seconds", "must be a mapping of default, min, max")
    _no_unknown_keys(
        lease_raw, {f.name for f in fields(LeaseConfig)}, "websub.lease_seconds.", path
    )
    prefix = "websub.lease_seconds."
    low = _int(lease_raw, "min", prefix, path, LeaseConfig.min, minimum=60)
    high = _int(lease_raw, "max", prefix, path, LeaseConfig.max, minimum=low)
    default = _int(
        lease_raw,
        "default",
        prefix,
        path,
        min(max(LeaseConfig.default, low), high),
        minimum=low,
        maximum=high,
    )
    return WebSubConfig(
        hubs=tuple(hubs),
        builtin=flags["builtin"],
        allow_private_callbacks=flags["allow_private_callbacks"],
        lease_seconds=LeaseConfig(default=default, min=low, max=high),
        max_subscriptions=_int(ws_raw, "max_subscriptions", "websub.", path, 10_000, minimum=1),
        max_per_host=_int(ws_raw, "max_per_host", "websub.", path, 100, minimum=1),
    )


def _publish(raw: dict[str, Any], path: Path) -> PublishConfig:
    """``publish``: destinations after the local feeds (each one a sink, see sinks.py)."""
    publish_raw = _section(raw, "publish", path)
    _no_unknown_keys(publish_raw, {f.name for f in fields(PublishConfig)}, "publish.", path)
    s3_raw = publish_raw.get("s3")
    if s3_raw is None:
        return PublishConfig()
    if not isinstance(s3_raw, dict):
        raise ConfigError(path, "publish.s3", f"must be a mapping, not {_type_name(s3_raw)}")
    pre = "publish.s3."
    _no_unknown_keys(s3_raw, {f.name for f in fields(S3Config)}, pre, path)
    bucket = _str(s3_raw, "bucket", pre, path, "")
    if not bucket:
        raise ConfigError(path, pre + "bucket", "is required (the bucket's name)")
    if "/" in bucket or bucket.startswith("s3:"):
        raise ConfigError(path, pre + "bucket", f"must be a bare bucket name, not {bucket!r}")
    prefix = _str(s3_raw, "prefix", pre, path, "feeds/").strip("/")
    endpoint = _str(s3_raw, "endpoint_url", pre, path, "") or None
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                path, pre + "endpoint_url", f"must be an absolute http(s) URL, not {endpoint!r}"
            )
    cache_control = _str(s3_raw, "cache_control", pre, path, "") or None
    if cache_control is not None and any(c in cache_control for c in "\r\n"):
        raise ConfigError(path, pre + "cache_control", "must be a single line")
    if importlib.util.find_spec("boto3") is None:
        raise ConfigError(path, "publish.s3", "needs boto3: pip install 'feedsmith[s3]'")
    return PublishConfig(
        s3=S3Config(
            bucket=bucket,
            prefix=prefix + "/" if prefix else "",
            endpoint_url=endpoint.rstrip("/") if endpoint else None,
            region=_str(s3_raw, "region", pre, path, "") or None,
            cache_control=cache_control,
            gone_days=_int(s3_raw, "gone_days", pre, path, 30, minimum=0, maximum=3650),
            lease_seconds=_number(s3_raw, "lease_seconds", pre, path, 30.0, 3.0, 3600.0),
            refresh_seconds=_number(s3_raw, "refresh_seconds", pre, path, 2.0, 0.1, 3600.0),
        )
    )


def _url(site_raw: dict[str, Any], path: Path) -> str:
    url = _str(site_raw, "url", "site.", path, SiteConfig.url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(path, "site.url", f"must be an absolute http(s) URL, not {url!r}")
    return url.rstrip("/")


def _read_jekyll(
    raw: dict[str, Any], path: Path, override: Path | None, serve_only: bool
) -> JekyllRead | None:
    """``jekyll:`` (or ``--jekyll``, which replaces it and makes ``posts_dir`` moot) read."""
    if override is None and raw.get("jekyll") is None:
        return None
    # Imported here, for start-up cost only: the Jekyll readers (YAML/TOML/CSV data, permalink
    # rules) are most of config's imports, and every `feedsmith build` of a site without
    # `jekyll:` (the nothing-changed cron run above all) would pay for them.
    from feedsmith.config.jekyll import JekyllSpec, parse_spec, read_site

    if override is not None:
        spec = parse_spec({"root": str(Path(override).absolute())}, path)
        if isinstance(raw.get("jekyll"), dict) and raw["jekyll"].get("config") is not None:
            spec = JekyllSpec(spec.root, parse_spec(raw["jekyll"], path).config_files)
    elif raw.get("jekyll") is not None:
        spec = parse_spec(raw["jekyll"], path)
        if raw.get("posts_dir") is not None:
            raise ConfigError(
                path, "posts_dir", "cannot be set with jekyll: (the posts are the site's _posts)"
            )
    else:
        return None
    if serve_only and not spec.root.is_dir():
        return None  # a bucket replica reads no posts, and may not have the site
    return read_site(spec, path)


def _with_site_values(raw: dict[str, Any], read: JekyllRead) -> dict[str, Any]:
    """``raw`` with the site's values where ``config.yaml`` sets nothing: its keys win."""
    site_values = {
        "title": read.title,
        "description": read.description,
        "url": read.url,
        "language": read.language,
        "author": read.author,
    }
    feed_values: dict[str, Any] = {"max_entries": read.max_entries}
    if read.summary_only:
        feed_values["content"] = "summary"
    out = dict(raw)
    out.pop("posts_dir", None)
    out["site"] = _fill(raw.get("site"), site_values)
    out["feed"] = _fill(raw.get("feed"), feed_values)
    if raw.get("timezone") is None and read.timezone is not None:
        out["timezone"] = read.timezone
    return out


def _fill(section: Any, values: dict[str, Any]) -> Any:
    if section is not None and not isinstance(section, dict):
        return section  # the usual "must be a mapping" error follows
    out = {k: v for k, v in values.items() if v is not None}
    out.update(section or {})
    return out


def _site_authors(
    read: JekyllRead, raw: dict[str, Any], authors: tuple[tuple[str, Author], ...], site: SiteConfig
) -> tuple[tuple[tuple[str, Author], ...], SiteConfig]:
    """``_data/authors`` and a mapping ``author:`` joined to ``authors:`` (whose keys win); a
    site ``author:`` that is a key of the table (as jekyll-feed reads it) becomes its name."""
    table: dict[str, Author] = {}
    if read.authors_file is not None:
        table.update(
            authors_table(read.authors, read.authors_file, "", site.url, extra_keys_ok=True)
        )
    if read.author_entry is not None and read.author is not None:
        file = read.site.root / read.site.config_files[-1]
        entry = authors_table({"author": read.author_entry}, file, "", site.url)
        table.setdefault(read.author, entry[0][1])
    table.update(authors)
    site_author_set = isinstance(raw.get("site"), dict) and "author" in raw["site"]
    if not site_author_set and site.author in table:
        site = replace(site, author=table[site.author].name)
    return tuple(table.items()), site


def _jekyll_site(
    read: JekyllRead, raw: dict[str, Any], path: Path, site: SiteConfig, timezone: str
) -> JekyllSite:
    """The :class:`JekyllSite`, completed with what only the merged settings know."""
    # Start-up cost only, as in _read_jekyll (which has imported these by now).
    from feedsmith.config.jekyll import site_json
    from feedsmith.core.jekyll.rules import PermalinkError, check_pattern, permalink_pattern

    jekyll = read.site
    if raw.get("permalink") is not None:  # config.yaml's permalink wins here too
        pattern = permalink_pattern(raw["permalink"])
        try:
            check_pattern(pattern)
        except PermalinkError as exc:
            raise ConfigError(path, "permalink", str(exc)) from None
        jekyll = replace(jekyll, permalink=pattern)
    notes = list(read.notes)
    if site.url == SiteConfig.url and not read.url:
        notes.append(
            f"url: set in neither {jekyll.config_files[-1]} nor {path.name}; links point to "
            f"{site.url}"
        )
    if timezone == "UTC" and not read.timezone and raw.get("timezone") is None:
        notes.append("timezone: not set; UTC used (Jekyll would use the building machine's zone)")
    text = site_json(read, url=site.url, title=site.title, description=site.description)
    return replace(jekyll, site_json=text, notes=tuple(notes))
