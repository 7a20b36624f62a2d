"""``defaults:`` as Jekyll's FrontmatterDefaults applies them: path prefix or glob, type, and
its order of precedence, quirks included (a post's defaults decide its layout-independent
values: ``author``, ``categories``, ``permalink``, ``render_with_liquid``…).

Pure: a glob scope is matched against the document's own path and folders rather than by
globbing the site (the hits that could be a prefix of the path are exactly those).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

_DEPRECATED_TYPES = {"page": "pages", "post": "posts", "draft": "drafts"}


def _scope_path(scope: Mapping[str, Any]) -> str:
    """``FrontmatterDefaults#sanitize_path``: the scope's path without a leading ``/``."""
    path = scope.get("path")
    if not isinstance(path, str) or not path:
        return ""
    return path[1:] if path.startswith("/") else path


@lru_cache(maxsize=128)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``Dir.glob``'s pattern language (``*``, ``**/``, ``?``, ``[…]``, ``{a,b}``) as a regex;
    like Dir.glob, a wildcard does not match a name's leading ``.``."""
    out: list[str] = []
    i, n, depth = 0, len(pattern), 0
    while i < n:
        char = pattern[i]
        at_start = i == 0 or pattern[i - 1] == "/"
        if pattern.startswith("**/", i):
            out.append(r"(?:(?!\.)[^/]*/)*")
            i += 3
            continue
        if char == "*":
            out.append((r"(?!\.)" if at_start else "") + "[^/]*")
        elif char == "?":
            out.append((r"(?!\.)" if at_start else "") + "[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif char == "{":
            out.append("(?:")
            depth += 1
        elif char == "}" and depth:
            out.append(")")
            depth -= 1
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    out.append(")" * depth)
    try:
        return re.compile("".join(out))
    except re.error:
        return re.compile(re.escape(pattern))


def _glob_applies(path: str, pattern: str) -> bool:
    """``FrontmatterDefaults#glob_scope`` without the file system: the scope's glob matches
    ``path`` itself or one of its folders (Jekyll globs the site, then tests each hit as a
    prefix of the path; the hits that can be such a prefix are exactly these)."""
    dirs_only = pattern.endswith("/")
    regex = _glob_regex(pattern.rstrip("/"))
    parts = path.split("/")
    stop = len(parts) - 1 if dirs_only else len(parts)
    return any(regex.fullmatch("/".join(parts[:k])) for k in range(1, stop + 1))


def _applies(scope: Mapping[str, Any], rel: str, kind: str) -> bool:
    """``FrontmatterDefaults#applies?``: the type (if any) and the path (if any) match."""
    if "type" in scope:
        wanted = str(scope["type"])
        if _DEPRECATED_TYPES.get(wanted, wanted) != kind:
            return False
    given = scope.get("path")
    if not isinstance(given, str) or not given:
        return True
    path = rel[1:] if rel.startswith("/") else rel
    if "*" in given:
        return _glob_applies(path, _scope_path(scope))
    return path.startswith(given)  # Jekyll does not strip the scope's own leading "/" here


def _has_precedence(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """``FrontmatterDefaults#has_precedence?``: the longer path wins; at equal length a scope
    with a type wins over one without, and the later one wins a tie."""
    if old is None:
        return True
    new_path, old_path = _scope_path(new), _scope_path(old)
    if len(new_path) != len(old_path):
        return len(new_path) >= len(old_path)
    return "type" in new or "type" not in old


def deep_merge(target: Mapping[str, Any], overwrite: Mapping[str, Any]) -> dict[str, Any]:
    """``Utils.deep_merge_hashes``: mappings merged key by key, ``None`` never overwrites."""
    out = dict(target)
    for key, new in overwrite.items():
        old = out.get(key)
        if new is None and key in out:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            out[key] = deep_merge(old, new)
        else:
            out[key] = new
    return out


def defaults_for(rel: str, kind: str, defaults: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The merged ``values`` of every ``defaults:`` entry whose scope (path prefix or glob,
    type) matches ``rel`` (site-relative) of ``kind`` ("posts", "drafts", "pages"), later and
    more specific scopes winning as in Jekyll's FrontmatterDefaults.

    ``FrontmatterDefaults#all``: entries without a ``values`` mapping are skipped (Jekyll warns);
    a path prefix is a plain string prefix (``_posts/a`` covers ``_posts/ab.md``), as Jekyll's.
    """
    merged: dict[str, Any] = {}
    old_scope: Mapping[str, Any] | None = None
    for entry in defaults:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("values"), Mapping):
            continue
        scope = entry.get("scope")
        scope = scope if isinstance(scope, Mapping) else {}
        if not _applies(scope, rel, kind):
            continue
        if _has_precedence(old_scope, scope):
            merged = deep_merge(merged, entry["values"])
            old_scope = scope
        else:
            merged = deep_merge(entry["values"], merged)
    return merged
