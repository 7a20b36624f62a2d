"""``stats:`` and ``server.trusted_proxies``: the settings of subscriber counting.

Apart from :mod:`feedsmith.config` because that module is near its size limit and these keys
belong together: the proxies decide which address counting hashes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import fields
from pathlib import Path
from typing import Any

from feedsmith.config.readers import no_unknown_keys, read_int, read_number, section, type_name
from feedsmith.core.config import ConfigError, StatsConfig


def read_stats(raw: dict[str, Any], path: Path) -> StatsConfig:
    stats_raw = section(raw, "stats", path)
    no_unknown_keys(stats_raw, {f.name for f in fields(StatsConfig)}, "stats.", path)
    flags = {}
    for key, default in (("enabled", True), ("public", False)):
        value = stats_raw.get(key, default)
        if not isinstance(value, bool):
            why = f"must be true or false, not {type_name(value)}"
            raise ConfigError(path, f"stats.{key}", why)
        flags[key] = value
    return StatsConfig(
        enabled=flags["enabled"],
        public=flags["public"],
        window_hours=read_int(
            stats_raw, "window_hours", "stats.", path, 48, minimum=1, maximum=24 * 31
        ),
        keep_days=read_int(stats_raw, "keep_days", "stats.", path, 400, minimum=1, maximum=36500),
        flush_seconds=read_number(stats_raw, "flush_seconds", "stats.", path, 10.0, 0.05, 3600.0),
    )


def read_trusted_proxies(server_raw: dict[str, Any], path: Path) -> tuple[str, ...]:
    """Addresses or networks (``10.0.0.1``, ``10.0.0.0/8``, ``::1``), normalised."""
    value = server_raw.get("trusted_proxies")
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ConfigError(
            path, "server.trusted_proxies", f"must be a list of addresses, not {type_name(value)}"
        )
    out: list[str] = []
    for item in value:
        try:
            net = ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError:
            raise ConfigError(
                path, "server.trusted_proxies", f"not an IP address or network: {item!r}"
            ) from None
        if str(net) not in out:
            out.append(str(net))
    return tuple(out)
