"""Front-matter values read as the author meant them, whatever YAML or TOML made of them.

Its own module because every field of a post reads its value through these: a scalar's text
as typed (``true``, not ``True``; dates as ISO), on/off flags in their usual spellings, and
the keys feedsmith does not know, kept in ``Post.extra`` as data JSON can hold (anything else
dropped, not guessed at).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from feedsmith.core.text import xml_safe

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def scalar_text(value: object) -> str:
    """Text of a YAML scalar as the author typed it (``true`` not ``True``, dates as ISO)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def clean_opt(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return xml_safe(scalar_text(value)).strip() or None


def kind(value: object) -> str:
    return "a mapping" if isinstance(value, dict) else "a list"


def truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE)


def falsy(value: object) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in _FALSE)


class _DropType:
    pass


DROP = _DropType()


def json_safe(value: object) -> Any:
    """Extra front-matter values as JSON data; values JSON cannot hold are dropped."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else DROP
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [v for v in map(json_safe, value) if v is not DROP]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            safe = json_safe(item)
            if safe is not DROP:
                out[xml_safe(scalar_text(key))] = safe
        return out
    return DROP
